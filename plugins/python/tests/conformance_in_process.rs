//! The conformance kit on the Python backend called directly in this process (no ABI),
//! driving the bundled reference agent; `tests/tests/python_through_abi.rs` runs it
//! through the staged plugin file. Both run the `tools.*` checks: Python agents call the
//! host's tools.

use agent_conformance::{conformance_tests, run_all, Status, Target};
use agent_plugin_api::plugin::Plugin;
use agent_plugin_api::types::Content;
use agent_plugin_python::{PythonOptions, PythonRuntime};

fn python_in_process() -> Target {
    Target::new("python (in-process)", || async {
        <PythonRuntime as Plugin>::new(PythonOptions::default())
    })
    .with_failing_prompt(Some(Content::text("conformance: please FAIL this turn")))
}

conformance_tests!(python_in_process());

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_and_no_tool_check_skips() {
    let report = run_all(&python_in_process()).await;
    println!("{report}");
    assert!(report.is_success(), "{report}");
    let tools: Vec<_> = report
        .cases
        .iter()
        .filter(|case| case.name.starts_with("tools."))
        .collect();
    assert!(tools.len() >= 6, "{report}");
    for case in tools {
        assert_eq!(case.status, Status::Passed, "{case}");
    }
}
