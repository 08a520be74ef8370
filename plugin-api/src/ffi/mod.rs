//! The stable ABI: FFI-safe mirrors of the contract, the root module, and the vtables
//! that carry `Runtime` and chat streams across a dynamic-library boundary.
//!
//! Every `abi_stable` and `async-ffi` type stays inside this module, so swapping the ABI
//! crate later stays a local change. Plugin authors never see it: they use
//! [`export_plugin!`](crate::export_plugin); hosts use [`PluginLibrary`](crate::PluginLibrary).

// `#[sabi_trait]` expands to impls that rustc 1.95 flags as non-local definitions.
#[allow(non_local_definitions)]
mod chat_stream;
mod data;
mod export_macro;
mod guard;
mod library;
mod logging;
mod metadata_record;
mod root_module;
#[allow(non_local_definitions)]
mod runtime;

pub use chat_stream::{FfiChatStream, FfiChatStreamBox};
pub use data::*;
pub use library::{LoadError, HANDSHAKE_SYMBOL};
pub use logging::FfiLogger;
pub use metadata_record::{decode as decode_metadata_record, record, record_len, METADATA_SYMBOL};
pub use root_module::{
    lib_header, FfiPluginMetadata, PluginModule, PluginModuleRef, ROOT_MODULE_SYMBOL,
};
pub use runtime::{FfiRuntime, FfiRuntimeBox};

pub(crate) use chat_stream::ImportedStream;
pub(crate) use guard::{panic_message, PluginContext};
pub(crate) use library::open;
pub(crate) use logging::install as install_logger;
pub(crate) use runtime::export_runtime;
