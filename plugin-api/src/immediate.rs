//! The `Runtime` calls a backend answers at once, from memory, without a future.
//!
//! Why: through a plugin every async call is a boxed FFI future, polled across the
//! boundary, around the backend's own boxed future: about three times what the same
//! call costs in-process, where the answer is a lock and a field read. A runtime that
//! can answer these at once says so ([`Runtime::immediate`]); the host then makes them
//! plain calls across the boundary. Since api 0.2.2; plugins built before it keep the
//! async calls.

use crate::stream::ChatResponseHandle;
use crate::types::{AgentId, Content, ConversationMessage, Error, UsageMetadata};
#[cfg(doc)]
use crate::Runtime;

/// The [`Runtime`] methods that never wait, as plain calls: each means exactly what its
/// async namesake means and answers the same (the conformance kit checks both). A
/// runtime that offers them answers every one; it must not block in any of them.
pub trait ImmediateCalls: Send + Sync {
    /// [`Runtime::chat`], with the message handed over rather than copied.
    fn chat(&self, agent_id: AgentId, content: Content) -> Result<ChatResponseHandle, Error>;
    /// [`Runtime::send`], with the message handed over.
    fn send(&self, agent_id: AgentId, content: Content) -> Result<(), Error>;
    fn cancel(&self, agent_id: AgentId) -> Result<(), Error>;
    fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error>;
    fn history(&self, agent_id: AgentId) -> Result<Vec<ConversationMessage>, Error>;
    fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error>;
    fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error>;
    fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error>;
    fn clear_history(&self, agent_id: AgentId) -> Result<(), Error>;
    fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error>;
    fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error>;
    fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error>;
}
