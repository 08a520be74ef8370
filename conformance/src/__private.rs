//! What the expansion of `conformance_tests!` calls. Not part of the public API.

use std::borrow::Borrow;

use crate::report::Status;
use crate::runner::run_case;
use crate::target::Target;

/// Runs one check as a `#[test]` body: on a multi-thread tokio runtime of its own, so the
/// caller's crate needs no tokio features; panics with the check's report unless it
/// passed. A skipped check, or one with a warning, passes and says why.
pub fn run_case_as_test<T: Borrow<Target>>(make_target: impl FnOnce() -> T, name: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("agent-conformance could not start a tokio runtime for the check");
    runtime.block_on(async {
        let target = make_target();
        let target = target.borrow();
        let Some(report) = run_case(target, name).await else {
            panic!("agent-conformance has no check named {name:?}");
        };
        match report.status {
            Status::Passed => {}
            Status::Skipped | Status::Warning => println!("{report}"),
            Status::Failed | Status::Crashed => panic!(
                "{name} on {}: {}\n{report}",
                target.name(),
                report.description
            ),
        }
    });
}
