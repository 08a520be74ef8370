//! A deterministic agent-host backend for tests and demos.
//!
//! Every `Runtime` method has real semantics (see `docs/semantics.md`): agents keep a
//! history, turns run one at a time in call order and stream their answer in chunks,
//! and options make turns fail, hit quotas or compact on demand. Answers are
//! `echo: <the user's text>` or scripted replies, so tests can predict every event.
//!
//! What a turn does, in order: `Step 0 "received"`; the configured failures (a quota
//! error on every `quota_every`-th turn, a backend error on the `fail_on` word); a
//! `Thought` (`considering: ` and the first 40 characters of the message); a `ToolCall`
//! if the message names one of the agent's tools; `Step 1 "answering"`; the answer in
//! chunks of `chunk_chars` characters, `chunk_delay_ms` apart; `Usage`, counted in words.
//! A turn's number (1-based) counts every turn started on the agent, failed ones
//! included; it picks the scripted reply, the tool call id (`call-<n>-0`) and the
//! numbers in structured output. `cancel` stops the turn at the head of the queue, which
//! is the running one or, right after `chat` on an idle agent, the one about to run.
//!
//! It is built on the plugin-api kit ([`agent_plugin_api::kit`]): [`MockBackend`] plays
//! single turns and the kit supplies agents, queues, history and the rest. Built as a
//! `cdylib` it is the `mock` plugin; as an rlib, [`MockRuntime`] can be used in-process:
//!
//! ```
//! use agent_plugin_api::types::AgentConfig;
//! use agent_plugin_api::Runtime;
//! use agent_plugin_mock::{MockOptions, MockRuntime};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let runtime = MockRuntime::with_options(MockOptions {
//!     chunk_delay_ms: 0,
//!     ..MockOptions::default()
//! })
//! .unwrap();
//! let agent = runtime.create_agent(AgentConfig::builder("mock-model").build()).await.unwrap();
//! let handle = runtime.chat(agent, &"hello".into()).await.unwrap();
//! assert_eq!(handle.text().await.unwrap().text, "echo: hello");
//! # });
//! ```

/// The staged `.so`'s allocator (feature `allocator`): through the ABI a turn makes a
/// dozen more small allocations than in-process, often freed on another thread.
#[cfg(feature = "allocator")]
#[global_allocator]
static ALLOCATOR: agent_plugin_api::plugin::PluginAllocator =
    agent_plugin_api::plugin::PluginAllocator;

mod backend;
mod options;
mod reply;
mod tool_calls;

#[cfg(test)]
mod tests;

pub use backend::{MockBackend, MockRuntime};
pub use options::{MockOptions, ReplyMode};

agent_plugin_api::export_plugin!(MockRuntime);
