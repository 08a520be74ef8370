//! The contract between agent-host and its backends, on both sides of the ABI.
//!
//! - Applications use [`Runtime`] and the types in it; a host hands them a
//!   [`PluginRuntime`] opened from a [`PluginLibrary`].
//! - Backend authors implement [`Runtime`] and [`Plugin`] in ordinary async Rust and call
//!   [`export_plugin!`] in a `cdylib`; they never touch the FFI types.
//!
//! ```
//! use agent_plugin_api::{channel, ChatEvent};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // A backend writes a turn into a sender; the application reads the handle.
//! let (mut sender, handle) = channel();
//! sender.text("Hello");
//! sender.complete(Default::default(), None);
//! assert_eq!(handle.text().await.unwrap().text, "Hello");
//! # });
//! ```
//!
//! A loaded library stays loaded for the life of the process: abi_stable never unloads.

mod export;
pub mod ffi;
mod file;
mod import;
pub mod kit;
mod quota;
mod runtime;
mod stream;
mod types;
mod version;

pub use export::Plugin;
pub use ffi::LoadError;
pub use file::{PluginFile, MAX_PLUGIN_BYTES};
pub use import::{PluginLibrary, PluginMetadata, PluginRuntime};
pub use quota::{BackoffPolicy, QuotaRegistry, MAX_BACKOFF};
pub use runtime::Runtime;
/// Coalesced reader wake-ups, for backends that write many turns from one thread.
pub use stream::wakeups;
pub use stream::{
    channel, Cancellation, ChatEvent, ChatEventSender, ChatResponseHandle, ChatResult, EventStream,
    Step, TextBatch, ToolCall,
};
pub use types::{
    AgentConfig, AgentConfigBuilder, AgentId, Content, ConversationMessage, Error, Media, Role,
    ToolDefinition, UsageMetadata, API_KEY_ENV,
};
pub use version::{api_version, is_compatible, API_VERSION};

/// Re-exports for plugin crates that implement `Runtime` (`#[async_trait]`).
pub use async_trait::async_trait;

#[doc(hidden)]
pub mod __private {
    pub use crate::export::{root_module_loader, API_VERSION_C};
    pub use crate::ffi::{lib_header, record, record_len};
    pub use abi_stable::library::LibHeader;
}
