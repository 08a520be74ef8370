//! For applications and hosts: find a plugin file, check it, load it, and drive the
//! runtime it builds through the ordinary [`Runtime`](crate::Runtime) trait.
//!
//! [`PluginFile`] opens and checks a file without running it; [`PluginLibrary`] is a
//! loaded file; [`PluginRuntime`] is a backend inside it. [`is_compatible`] is the
//! version rule, stated in `docs/abi.md`.

mod file;
mod library;
mod load_error;
mod plugin_runtime;

pub use crate::types::contained::panic_is_contained;
pub use crate::version::{api_version, is_compatible, API_VERSION};
pub use file::{PluginFile, MAX_PLUGIN_BYTES};
pub use library::{PluginLibrary, PluginMetadata};
pub use load_error::{LoadError, HANDSHAKE_SYMBOL};
pub use plugin_runtime::PluginRuntime;
