//! The contract between agent-host and its backends, on both sides of the ABI.
//!
//! The crate serves three audiences, one module each:
//!
//! - [`host`]: applications and hosts. Open a plugin file ([`host::PluginFile`],
//!   [`host::PluginLibrary`]) and drive the backend inside it ([`host::PluginRuntime`])
//!   through [`Runtime`].
//! - [`plugin`]: backend authors. Implement [`plugin::AgentBackend`] (or [`Runtime`] and
//!   [`plugin::Plugin`]) in ordinary async Rust and call [`export_plugin!`] in a
//!   `cdylib`; the FFI types stay out of sight.
//! - [`types`]: what both exchange: agent configs, content, events, errors, usage.
//!
//! ```
//! use agent_plugin_api::plugin::channel;
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
//! What may change between versions, and which host and plugin versions load together,
//! is in `docs/abi.md`.

mod ffi;
pub mod host;
mod immediate;
mod kit;
mod options;
pub mod plugin;
mod quota;
mod runtime;
pub mod saved;
mod stream;
pub mod types;
mod version;

pub use immediate::ImmediateCalls;
pub use runtime::Runtime;

#[doc(hidden)]
pub mod __private {
    pub use crate::ffi::for_export_macro::*;
    pub use crate::version::API_VERSION_C;
}

#[cfg(test)]
mod layering;
