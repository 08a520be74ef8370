//! The conformance kit on the mock backend wrapped in the FFI layer and unwrapped again:
//! every call takes the foreign path, without building a library.

mod common;

use agent_conformance::{conformance_tests, Target};
use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::plugin::Plugin;
use agent_plugin_mock::MockRuntime;

fn mock_through_ffi_types() -> Target {
    Target::new("mock (FFI round trip)", || async {
        let mock = <MockRuntime as Plugin>::new(common::mock_options())?;
        PluginRuntime::in_process("mock", mock)
    })
    .with_failing_prompt(common::failing_prompt())
}

conformance_tests!(mock_through_ffi_types());
