//! The `Runtime` trait: what every backend implements and every application calls.

use std::time::Duration;

use async_trait::async_trait;

use crate::immediate::ImmediateCalls;
use crate::quota::QuotaRegistry;
use crate::stream::ChatResponseHandle;
use crate::types::{
    AgentConfig, AgentId, Content, ConversationMessage, Error, Tools, UsageMetadata,
};

/// An agent runtime backend: 16 required methods and 10 provided ones.
///
/// The semantics every implementation must meet are stated once, as named checks, in the
/// conformance kit (`agent-conformance`), and in words in `docs/semantics.md`.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Starts an agent; the id is unique for this runtime's life. A bad config is
    /// `Error::InvalidConfig`.
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error>;

    /// Starts an agent that may call the application's `tools` during its turns (see
    /// [`Tools::for_agent`] for how they are matched with `config.tools`). Each call and
    /// its result appear on the turn's handle and in the history. The default, for a
    /// backend that runs no tools, ignores them: the model's calls are then only
    /// reported as `ToolCall` events. Since api 0.2.1.
    async fn create_agent_with_tools(
        &self,
        config: AgentConfig,
        tools: Tools,
    ) -> Result<AgentId, Error> {
        let _ = tools;
        self.create_agent(config).await
    }

    /// Why this runtime cannot run the application's tools, if it cannot (a plugin built
    /// against an api before 0.2.1); `None` for every backend that can.
    fn host_tools_unavailable(&self) -> Option<String> {
        None
    }

    /// Starts a turn and returns its handle before the answer is complete. Turns on one
    /// agent run one at a time, in call order.
    async fn chat(&self, agent_id: AgentId, content: &Content)
        -> Result<ChatResponseHandle, Error>;

    /// Stops the agent; every later call on its id is `Error::AgentNotStarted`.
    async fn shutdown_agent(&self, agent_id: AgentId) -> Result<(), Error>;

    /// Ends the active turn, whose handle then finishes with `Error::Cancelled`.
    async fn cancel(&self, agent_id: AgentId) -> Result<(), Error>;

    /// Returns once no turn is running or queued.
    async fn wait_for_idle(&self, agent_id: AgentId) -> Result<(), Error>;

    /// Queues a message for the agent without waiting for its answer.
    async fn send(&self, agent_id: AgentId, content: &Content) -> Result<(), Error>;

    /// Marks the agent idle.
    async fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error>;

    /// True when a message arrived (see [`Runtime::send`]), false after `timeout`.
    async fn wait_for_wakeup(&self, agent_id: AgentId, timeout: Duration) -> Result<bool, Error>;

    /// Sleeps until this runtime's quota backoff has passed.
    async fn wait_for_quota(&self);

    /// Records a quota error: backoff of at least `retry_after`, growing on consecutive hits.
    async fn record_quota_hit(&self, retry_after: Duration);

    /// This runtime's own registry.
    fn quota_registry(&self) -> &QuotaRegistry;

    /// User and model messages, oldest first.
    async fn history(&self, agent_id: AgentId) -> Result<Vec<ConversationMessage>, Error>;

    /// Completed turns since creation or the last `clear_history`.
    async fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error>;

    /// The sum over every completed turn.
    async fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error>;

    async fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error>;

    /// Empties the history and the turn count.
    async fn clear_history(&self, agent_id: AgentId) -> Result<(), Error>;

    /// The text of the last completed answer, if the backend keeps it.
    async fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        let _ = agent_id;
        Ok(None)
    }

    /// Positions in the history where the backend compacted the conversation.
    async fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error> {
        let _ = agent_id;
        Ok(Vec::new())
    }

    /// Shuts the agent down and forgets anything it saved.
    async fn delete(&self, agent_id: AgentId) -> Result<(), Error> {
        let _ = agent_id;
        Ok(())
    }

    /// Drops the agent's connection to its model service, if it holds one.
    async fn disconnect(&self, agent_id: AgentId) -> Result<(), Error> {
        let _ = agent_id;
        Ok(())
    }

    async fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error> {
        let _ = agent_id;
        Ok(true)
    }

    /// Best-effort shutdown for `Drop` impls: synchronous, never blocks, never panics.
    fn try_shutdown_agent(&self, agent_id: AgentId) {
        let _ = agent_id;
    }

    /// The id the agent's conversation is saved under: `AgentConfig.conversation_id`, or
    /// the one made up for an agent created with a `save_dir` and no id (create the
    /// next agent with it to resume). `None` from a backend that saves nothing (the
    /// default, and every plugin built before api 0.2.4).
    async fn conversation_id(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        let _ = agent_id;
        Ok(None)
    }

    /// The calls this runtime answers at once, if it does (see [`ImmediateCalls`]):
    /// through a plugin they then cross without a future. The kit's runtimes do; the
    /// default, for a backend whose every call may wait, is `None`. Since api 0.2.2.
    fn immediate(&self) -> Option<&dyn ImmediateCalls> {
        None
    }
}
