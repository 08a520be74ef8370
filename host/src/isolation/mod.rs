//! `[plugins.<name>] isolation = "process"`: the plugin runs in child `agent-host serve`
//! processes, reached over a private Unix socket with agent-remote's protocol, so a
//! crash, an `exit` or a hang in it costs its own agents, never the host.
//!
//! A child that dies ends its turns with an error naming the plugin and the cause
//! (`plugin "crashy" died: SIGSEGV`); the next call starts a fresh one, after a pause
//! that grows while children keep dying. `workers = N` spreads agents over N children.

mod child;
mod process_runtime;

pub use child::{Launch, Program, LISTEN_ENV, OPTIONS_ENV, PLUGIN_ENV};
pub use process_runtime::ProcessRuntime;
