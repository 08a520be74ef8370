//! The conformance kit on the real, staged mock plugin file, loaded through the ABI.
//!
//! The file is `$AGENT_HOST_DIST/plugins/libagent_plugin_mock.so`, else
//! `<workspace>/target/dist/plugins/libagent_plugin_mock.so`; `cargo xtask stage` puts it
//! there. A missing file fails every test: these tests never pass without the plugin.

mod common;

use agent_conformance::{conformance_tests, run_all, Target};

fn mock_plugin() -> Target {
    let library = common::staged_plugin("libagent_plugin_mock.so");
    Target::from_library(library, common::mock_options_json())
        .with_failing_prompt(common::failing_prompt())
}

conformance_tests!(mock_plugin());

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_in_one_run() {
    let report = run_all(&mock_plugin()).await;
    println!("{report}");
    assert_eq!(report.target, "mock");
    assert_eq!(report.cases.len(), agent_conformance::case_names().len());
    assert!(report.is_success(), "{report}");
    // The mock keeps last_response and has a failing prompt: nothing is left unchecked.
    assert_eq!(report.tally().skipped, 0, "{report}");
}
