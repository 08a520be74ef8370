//! A backend written one turn at a time.
//!
//! Implement [`AgentBackend`] (build an agent from its config, play one turn) and export
//! [`AgentRuntime`]; the kit supplies every other `Runtime` method with the semantics in
//! `docs/semantics.md`: a FIFO of turns per agent played by one task, cancel, send and
//! wakeups, idleness, history, turn counts, usage, compaction points and quota backoff.
//!
//! ```
//! use agent_plugin_api::kit::{AgentBackend, AgentRuntime, NoOptions, Turn};
//! use agent_plugin_api::{async_trait, AgentConfig, Content, Error};
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

mod agent;
mod backend;
mod conversation;
mod runtime;
mod turn;

pub use backend::{AgentBackend, NoOptions};
pub use runtime::AgentRuntime;
pub use turn::Turn;
