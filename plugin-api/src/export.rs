//! What a plugin author uses: implement [`Plugin`] for a `Runtime`, then call
//! [`export_plugin!`](crate::export_plugin) (defined in `ffi/export_macro.rs`, since it
//! emits the unmangled symbols). Panic containment, the plugin's own executor and the
//! log bridge come with it.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};

use abi_stable::library::RootModuleResult;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::RStr;
use serde::de::DeserializeOwned;

use crate::ffi::{
    self, export_runtime, FfiLogger, FfiPluginMetadata, FfiResult, FfiRuntimeBox, PluginContext,
    PluginModule, PluginModuleRef,
};
use crate::runtime::Runtime;
use crate::types::Error;
use crate::version::API_VERSION;

/// A backend that can be built from its options and exported from a `cdylib`.
pub trait Plugin: Runtime + Sized + 'static {
    /// The name hosts select it by (`backend = "..."`): short, lowercase.
    const NAME: &'static str;
    /// The plugin's own version; use `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    const DESCRIPTION: &'static str = "";
    /// Help for the options, shown by `agent-host inspect`.
    const OPTIONS_HELP: &'static str = "";
    /// Options whose values are file paths (a string, or an array of strings). The host
    /// resolves a relative one from a config file against that file's directory, so a
    /// config means the same from any working directory.
    const PATH_OPTIONS: &'static [&'static str] = &[];

    /// The `[backends.<name>]` table; unknown or mistyped keys are reported by path.
    type Options: DeserializeOwned;

    /// Builds a runtime. Runs inside the plugin's own tokio runtime, so it may spawn.
    fn new(options: Self::Options) -> Result<Self, Error>;
}

/// `API_VERSION` as a C string, for the handshake.
pub const API_VERSION_C: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the crate version has no NUL byte"),
    };

#[doc(hidden)]
pub extern "C" fn root_module_loader<P: Plugin>() -> RootModuleResult {
    abi_stable::library::__call_root_module_loader(root_module::<P>)
}

fn root_module<P: Plugin>() -> PluginModuleRef {
    PluginModule {
        metadata: metadata::<P>,
        set_logger: set_logger::<P>,
        new_runtime: new_runtime::<P>,
    }
    .leak_into_prefix()
}

extern "C" fn metadata<P: Plugin>() -> FfiPluginMetadata {
    FfiPluginMetadata {
        name: P::NAME.into(),
        version: P::VERSION.into(),
        description: P::DESCRIPTION.into(),
        api_version: API_VERSION.into(),
        options_help: P::OPTIONS_HELP.into(),
    }
}

/// Called once by the host after loading: from then on the plugin's `tracing` events,
/// and its panic reports (which the export layer turns into errors), go to the host's
/// logs instead of straight to stderr.
extern "C" fn set_logger<P: Plugin>(logger: FfiLogger) {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if !INSTALLED.swap(true, Ordering::SeqCst) {
        let _ = std::panic::catch_unwind(|| {
            ffi::install_logger(P::NAME, logger);
            std::panic::set_hook(Box::new(|info| tracing::error!(target: "panic", "{info}")));
        });
    }
}

extern "C" fn new_runtime<P: Plugin>(options_json: RStr<'_>) -> FfiResult<FfiRuntimeBox> {
    let built = PluginContext::new(P::NAME).and_then(|context| {
        context
            .call(|| build::<P>(options_json.as_str()))
            .and_then(|runtime| runtime.map(|runtime| export_runtime(runtime, context.clone())))
    });
    built.map_err(Into::into).into()
}

fn build<P: Plugin>(options_json: &str) -> Result<P, Error> {
    // Through a `Value`: the host wrote this JSON, so a position in it ("line 1 column
    // 20") would only mislead; the path names the option.
    let value: serde_json::Value = serde_json::from_str(options_json).map_err(|error| {
        Error::InvalidConfig(format!("options of plugin {}: {error}", P::NAME))
    })?;
    let options: P::Options = serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            Error::InvalidConfig(format!("options of plugin {}: {inner}", P::NAME))
        } else {
            Error::InvalidConfig(format!("option `{path}` of plugin {}: {inner}", P::NAME))
        }
    })?;
    P::new(options)
}
