//! Runs checks on a target: each on a fresh runtime, under a timeout, with panics caught.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::FutureExt;

use crate::case::{cases, find_case, Case, Stop};
use crate::ctx::Ctx;
use crate::expect::millis;
use crate::panic_text::panic_text;
use crate::report::{CaseReport, Report, Status};
use crate::target::Target;

/// Runs every check, one after the other, so their timings do not disturb each other.
///
/// Call it from inside a tokio runtime with time enabled (any flavor).
pub async fn run_all(target: &Target) -> Report {
    run_selected(target, |_| true).await
}

/// Runs the checks whose name `select` accepts, in the usual order. A filter that
/// accepts nothing gives an empty report.
pub async fn run_selected(target: &Target, mut select: impl FnMut(&str) -> bool) -> Report {
    let mut report = Report {
        target: target.name().to_owned(),
        cases: Vec::new(),
    };
    for case in cases() {
        if select(case.name) {
            report.cases.push(run_one(target, case).await);
        }
    }
    report
}

/// Runs the check called `name`; `None` if there is none.
pub async fn run_case(target: &Target, name: &str) -> Option<CaseReport> {
    match find_case(name) {
        Some(case) => Some(run_one(target, case).await),
        None => None,
    }
}

async fn run_one(target: &Target, case: Case) -> CaseReport {
    let step = Arc::new(Mutex::new(String::from(
        "building a runtime from the factory",
    )));
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let check = {
        let target = target.clone();
        let step = step.clone();
        let warnings = warnings.clone();
        async move {
            let runtime = target.build_runtime().await.map_err(|error| {
                Stop::Fail(format!(
                    "the target's factory could not build a runtime: {error}"
                ))
            })?;
            (case.run)(Ctx::new(runtime, target, step, warnings)).await
        }
    };
    let outcome = tokio::time::timeout(
        target.check_timeout(),
        AssertUnwindSafe(check).catch_unwind(),
    )
    .await;
    let duration = started.elapsed();
    let doing = step
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let warned = warnings
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .join("\n");
    let (status, details) = match outcome {
        Err(_) => (
            Status::Failed,
            format!(
                "timed out after {} while {doing} (a backend this slow needs a longer \
                 timeout: `agent-host check --timeout`, Target::with_check_timeout)",
                millis(target.check_timeout())
            ),
        ),
        Ok(Err(panic)) => (
            Status::Crashed,
            format!("panicked while {doing}: {}", panic_text(panic.as_ref())),
        ),
        Ok(Ok(Ok(()))) if warned.is_empty() => (Status::Passed, String::new()),
        Ok(Ok(Ok(()))) => (Status::Warning, warned),
        Ok(Ok(Err(Stop::Warn(details)))) if warned.is_empty() => (Status::Warning, details),
        Ok(Ok(Err(Stop::Warn(details)))) => (Status::Warning, format!("{warned}\n{details}")),
        Ok(Ok(Err(Stop::Fail(details)))) => (Status::Failed, details),
        Ok(Ok(Err(Stop::Skip(reason)))) => (Status::Skipped, reason),
    };
    CaseReport {
        name: case.name.to_owned(),
        description: case.description.to_owned(),
        status,
        details,
        duration,
    }
}

#[cfg(test)]
mod tests;
