//! The stable ABI, private to this crate: each crossing of the boundary in one file,
//! holding its FFI-safe type (`Ffi*`), its plugin side (`Exported*`, which serves the
//! type from Rust code) and its host side (`Imported*`, which is Rust code again):
//!
//! - `root_module`: what the host finds in a plugin file; builds runtimes.
//! - `runtime`: the `Runtime` trait as a vtable.
//! - `chat_stream`: a turn's events, pulled in batches.
//! - `quota`: a runtime's quota registry.
//! - `logger`: the plugin's `tracing` events into the host's logs.
//! - `tool_host`: the application's tools, called by the plugin (the way back; here the
//!   host side is the `Exported*` one).
//!
//! `allocator` is the allocator a plugin may take for its own memory (feature
//! `allocator`).
//!
//! `data` holds the FFI-safe mirrors of the data types they carry, `guard` the panic
//! containment and plugin executor every crossing uses, `library` the loading of a
//! file, `metadata_record` the record read without loading. Every `abi_stable` and
//! `async-ffi` type stays inside this module (a test holds the rest of the crate to
//! that); the export macro reaches the little it needs through `__private`.
//! `docs/abi.md` states what may change in which version.

#[cfg(feature = "allocator")]
mod allocator;
// `#[sabi_trait]` expands to impls that rustc 1.95 flags as non-local definitions.
#[allow(non_local_definitions)]
mod chat_stream;
mod data;
mod export_macro;
mod guard;
mod library;
mod logger;
mod metadata_record;
#[allow(non_local_definitions)]
mod quota;
mod root_module;
#[allow(non_local_definitions)]
mod runtime;
#[allow(non_local_definitions)]
mod tool_host;

#[cfg(feature = "allocator")]
pub use allocator::PluginAllocator;
pub(crate) use guard::panic_message;
pub(crate) use library::open;
pub(crate) use metadata_record::{decode as decode_metadata_record, METADATA_SYMBOL};
pub(crate) use root_module::{build_in_process, ImportedModule};
pub(crate) use runtime::{round_trip, ImportedRuntime};

/// What `export_plugin!` expands to needs, and nothing else.
pub mod for_export_macro {
    pub use super::metadata_record::{record, record_len};
    pub use super::root_module::{lib_header, root_module_loader};
    pub use abi_stable::library::LibHeader;
}
