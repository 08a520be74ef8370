//! The root module: what the host finds in a plugin file, both sides.
//!
//! Plugin side: [`root_module_loader`] builds it from a [`Plugin`]. Host side:
//! [`ImportedModule`] reads its metadata, installs the log bridge and builds runtimes.
//!
//! Growth: the module is a prefix type. A later minor version appends fields after
//! `new_runtime` (the last prefix field); with `missing_field(option)` the host reads
//! them as `None` in a plugin built before they existed and supplies the default.

use abi_stable::library::{LibHeader, RootModule, RootModuleResult};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RStr, RString};
use abi_stable::{declare_root_module_statics, package_version_strings, StableAbi};

use super::data::{into_result, FfiResult};
use super::guard::PluginContext;
use super::logger::{self, FfiLogFilter, FfiLogger};
use super::runtime::{export_runtime, FfiRuntimeBox, ImportedRuntime};
use crate::options::OptionsSchema;
use crate::plugin::Plugin;
use crate::types::Error;
use crate::version::API_VERSION;

/// What a plugin says about itself; readable without starting it.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiPluginMetadata {
    pub name: RString,
    pub version: RString,
    pub description: RString,
    /// The `agent-plugin-api` version the plugin was built with.
    pub api_version: RString,
    /// Help text for the plugin's options (`[backends.<name>]`).
    pub options_help: RString,
}

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(option))]
pub struct PluginModule {
    pub metadata: extern "C" fn() -> FfiPluginMetadata,
    /// Routes the plugin's `tracing` events to the host.
    pub set_logger: extern "C" fn(logger: FfiLogger),
    /// Builds a runtime from the backend's options, given as a JSON object.
    #[sabi(last_prefix_field)]
    pub new_runtime: extern "C" fn(options_json: RStr<'_>) -> FfiResult<FfiRuntimeBox>,

    // --- since 0.2.3; a plugin built before has neither ------------------------------
    /// The JSON Schema of the plugin's options (`Plugin::Options`), as text.
    pub options_schema: extern "C" fn() -> RString,
    /// The host's log filter; called before `set_logger`.
    pub set_log_filter: extern "C" fn(filter: FfiLogFilter),
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "agent_plugin";
    const NAME: &'static str = "agent_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

// --- plugin side ---------------------------------------------------------------------

/// The header `export_plugin!` places in a plugin.
pub const fn lib_header(loader: extern "C" fn() -> RootModuleResult) -> LibHeader {
    // SAFETY: `loader` is `root_module_loader::<P>`, which returns the erased prefix of
    // a `PluginModuleRef`, the module type named here.
    unsafe {
        LibHeader::from_constructor::<PluginModuleRef>(
            loader,
            abi_stable::library::CheckTypeLayout::Yes,
        )
    }
}

/// What the header calls to build the module (once).
pub extern "C" fn root_module_loader<P: Plugin>() -> RootModuleResult {
    abi_stable::library::__call_root_module_loader(root_module::<P>)
}

fn root_module<P: Plugin>() -> PluginModuleRef {
    PluginModule {
        metadata: metadata::<P>,
        set_logger: set_logger::<P>,
        new_runtime: new_runtime::<P>,
        options_schema: options_schema::<P>,
        set_log_filter,
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

extern "C" fn set_logger<P: Plugin>(logger: FfiLogger) {
    logger::install_once(P::NAME, logger);
}

extern "C" fn options_schema<P: Plugin>() -> RString {
    // A derive that panics (it should not) leaves the plugin without a schema, not the
    // host without a process.
    std::panic::catch_unwind(|| crate::plugin::options_schema::<P>().to_json())
        .unwrap_or_default()
        .into()
}

extern "C" fn set_log_filter(filter: FfiLogFilter) {
    logger::set_filter(filter);
}

extern "C" fn new_runtime<P: Plugin>(options_json: RStr<'_>) -> FfiResult<FfiRuntimeBox> {
    let built = PluginContext::new(P::NAME).and_then(|context| {
        context
            .call(|| crate::plugin::build_from_json::<P>(options_json.as_str()))
            .and_then(|runtime| runtime.map(|runtime| export_runtime(runtime, context)))
    });
    built.map_err(Into::into).into()
}

// --- host side -----------------------------------------------------------------------

/// Builds `P` through its export function as a host calling into its file would (the
/// options checked and deserialized by the export layer, the constructor in the
/// plugin's executor), without a file.
pub(crate) fn build_in_process<P: Plugin>(options_json: &str) -> Result<ImportedRuntime, Error> {
    let runtime = new_runtime::<P>(RStr::from_str(options_json));
    into_result::<FfiRuntimeBox, FfiRuntimeBox>(runtime).map(ImportedRuntime::new)
}

/// A loaded plugin's root module, seen from the host.
#[derive(Clone, Copy)]
pub(crate) struct ImportedModule(PluginModuleRef);

/// The metadata a plugin's code reports, as plain strings.
pub(crate) struct ReportedMetadata {
    pub name: String,
    pub version: String,
    pub description: String,
    pub api_version: String,
    pub options_help: String,
}

impl ImportedModule {
    pub(crate) fn new(module: PluginModuleRef) -> Self {
        ImportedModule(module)
    }

    pub(crate) fn metadata(&self) -> ReportedMetadata {
        let raw = (self.0.metadata())();
        ReportedMetadata {
            name: raw.name.into_string(),
            version: raw.version.into_string(),
            description: raw.description.into_string(),
            api_version: raw.api_version.into_string(),
            options_help: raw.options_help.into_string(),
        }
    }

    /// The schema of the plugin's options; `None` from a plugin built before 0.2.3 (or
    /// one whose schema is not JSON).
    pub(crate) fn options_schema(&self) -> Option<OptionsSchema> {
        let text = (self.0.options_schema()?)();
        OptionsSchema::from_json(text.as_str())
    }

    /// Routes the plugin's logs into this process's `log`/`tracing`, filtered as this
    /// process filters its own where the plugin can ask (0.2.3).
    pub(crate) fn install_logger(&self) {
        if let Some(set_log_filter) = self.0.set_log_filter() {
            set_log_filter(logger::host_log_filter());
        }
        (self.0.set_logger())(logger::host_logger());
    }

    pub(crate) fn new_runtime(&self, options_json: &str) -> Result<ImportedRuntime, Error> {
        let runtime = (self.0.new_runtime())(RStr::from_str(options_json));
        into_result::<FfiRuntimeBox, FfiRuntimeBox>(runtime).map(ImportedRuntime::new)
    }
}

#[cfg(test)]
mod tests {
    /// The name of the static `export_plugin!` defines; abi_stable looks the root module
    /// up by it.
    #[test]
    fn the_export_macro_names_the_root_module_as_abi_stable_does() {
        assert_eq!(
            "_1as_0lib_1header_0root_bmodule_bloader",
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}
