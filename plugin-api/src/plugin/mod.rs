//! For plugin authors: implement a backend, export it from a `cdylib`.
//!
//! Two ways to write a backend:
//!
//! - **The kit** ([`AgentBackend`], exported as [`AgentRuntime`]): build an agent from
//!   its config and play one turn into a [`Turn`]; the kit supplies every other
//!   `Runtime` method with the semantics in `docs/semantics.md`: a FIFO of turns per
//!   agent played by one task, cancel, send and wakeups, idleness, history, turn counts,
//!   usage, compaction points and quota backoff.
//! - **`Runtime` directly**, implementing [`Plugin`] too, and writing each turn into a
//!   [`ChatEventSender`] from [`channel`].
//!
//! Then `agent_plugin_api::export_plugin!(AgentRuntime<MyBackend>);` in the `cdylib`.
//! Panic containment, the plugin's own executor and the log bridge come with it.
//!
//! ```
//! use agent_plugin_api::plugin::{async_trait, AgentBackend, AgentRuntime, NoOptions, Turn};
//! use agent_plugin_api::types::{AgentConfig, Content, Error};
//!
//! struct Shout;
//!
//! #[async_trait]
//! impl AgentBackend for Shout {
//!     const NAME: &'static str = "shout";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     type Options = NoOptions;
//!     type Agent = ();
//!
//!     fn new(_: NoOptions) -> Result<Self, Error> { Ok(Shout) }
//!     fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> { Ok(()) }
//!     async fn chat(&self, _: &(), content: &Content, turn: &mut Turn) -> Result<(), Error> {
//!         turn.text(content.to_text().to_uppercase())
//!     }
//! }
//!
//! // In a cdylib: agent_plugin_api::export_plugin!(AgentRuntime<Shout>);
//! # let _ = AgentRuntime::new(Shout);
//! ```

mod definition;

/// A plugin's allocator: mimalloc for small blocks, the C library for large ones.
#[cfg(feature = "allocator")]
pub use crate::ffi::PluginAllocator;
pub use crate::kit::{consume_budget, AgentBackend, AgentRuntime, NoOptions, Turn};
/// Coalesced reader wake-ups, for backends that write many turns from one thread.
pub use crate::stream::wakeups;
pub use crate::stream::{channel, Cancellation, ChatEventSender, TextBatch};
/// For implementing `Runtime` and `AgentBackend` (`#[async_trait]`).
pub use async_trait::async_trait;
pub use definition::Plugin;
/// The derive for a plugin's options type (`#[derive(Deserialize, JsonSchema)]`).
/// The derive's code names the `schemars` crate: add `schemars = "1"` to the plugin's
/// dependencies (or put `#[schemars(crate = "agent_plugin_api::plugin::schemars")]`
/// on the type).
pub use schemars::{self, JsonSchema};

pub(crate) use definition::{build_from_json, options_schema};
