//! The conformance kit on the real, staged mock plugin file, loaded through the ABI.
//!
//! The file is `$AGENT_HOST_DIST/plugins/libagent_plugin_mock.so`, else
//! `<workspace>/target/dist/plugins/libagent_plugin_mock.so`; `cargo xtask stage` puts it
//! there. A missing file fails every test: these tests never pass without the plugin.

mod common;

use std::path::PathBuf;

use agent_conformance::{conformance_tests, run_all, Target};
use agent_plugin_api::PluginLibrary;

const PLUGIN_FILE: &str = "plugins/libagent_plugin_mock.so";

fn staged_plugin() -> PathBuf {
    let dist = match std::env::var_os("AGENT_HOST_DIST") {
        Some(dist) => PathBuf::from(dist),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dist"),
    };
    dist.join(PLUGIN_FILE)
}

fn mock_plugin() -> Target {
    let path = staged_plugin();
    assert!(
        path.is_file(),
        "the staged mock plugin {} is missing: run `cargo xtask stage` first (or set \
         AGENT_HOST_DIST to a directory holding {PLUGIN_FILE})",
        path.display()
    );
    let library = PluginLibrary::open(&path)
        .unwrap_or_else(|error| panic!("cannot load {}: {error}", path.display()));
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
