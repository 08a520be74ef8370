//! The library's root module: what the host finds in a plugin file.

use abi_stable::library::{LibHeader, RootModule};
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RStr, RString};
use abi_stable::{declare_root_module_statics, package_version_strings, StableAbi};

use super::data::FfiResult;
use super::logging::FfiLogger;
use super::runtime::FfiRuntimeBox;

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

/// A prefix type: later minor versions may append fields after the last prefix field,
/// and the host sees them as absent in older plugins.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    pub metadata: extern "C" fn() -> FfiPluginMetadata,
    /// Routes the plugin's `tracing` events to the host.
    pub set_logger: extern "C" fn(logger: FfiLogger),
    /// Builds a runtime from the backend's options, given as a JSON object.
    #[sabi(last_prefix_field)]
    pub new_runtime: extern "C" fn(options_json: RStr<'_>) -> FfiResult<FfiRuntimeBox>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "agent_plugin";
    const NAME: &'static str = "agent_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The name of the static `export_plugin!` defines; abi_stable looks the root module up
/// by it. Checked against abi_stable's own constant in the tests below.
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// The header `export_plugin!` places in a plugin.
pub const fn lib_header(
    loader: extern "C" fn() -> abi_stable::library::RootModuleResult,
) -> LibHeader {
    // SAFETY: `loader` is `export::root_module_loader::<P>`, which returns the erased
    // prefix of a `PluginModuleRef`, the module type named here.
    unsafe {
        LibHeader::from_constructor::<PluginModuleRef>(
            loader,
            abi_stable::library::CheckTypeLayout::Yes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_module_symbol_matches_abi_stable() {
        assert_eq!(
            ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}
