//! The conformance kit on the mock backend, called directly in this process.

mod common;

use agent_conformance::{conformance_tests, Target};
use agent_plugin_api::plugin::Plugin;
use agent_plugin_mock::MockRuntime;

fn mock_in_process() -> Target {
    Target::new("mock (in-process)", || async {
        <MockRuntime as Plugin>::new(common::mock_options())
    })
    .with_failing_prompt(common::failing_prompt())
}

conformance_tests!(mock_in_process());
