//! The conformance kit on the real, staged Python plugin, driving the bundled reference
//! agent on the embedded interpreter's asyncio loop.

mod common;

use agent_conformance::{conformance_tests, run_all, Target};

fn python_plugin() -> Target {
    let library = common::staged_plugin("libagent_plugin_python.so");
    Target::from_library(library, serde_json::json!({}))
        .with_failing_prompt(common::failing_prompt())
}

conformance_tests!(python_plugin());

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_in_one_run() {
    let report = run_all(&python_plugin()).await;
    println!("{report}");
    assert_eq!(report.target, "python");
    assert!(report.is_success(), "{report}");
}
