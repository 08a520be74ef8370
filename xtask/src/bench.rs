//! `bench`: criterion benchmarks against the staged plugins, then `summary.json`.

use std::time::SystemTime;

use anyhow::Result;

use crate::stage;
use crate::summary;
use crate::workspace::{cargo, dist_dir, exec, install, target_dir};

/// Every criterion bench target, as `(package, bench)`.
const BENCHES: &[(&str, &str)] = &[
    ("agent-host", "abi_overhead"),
    ("agent-plugin-python", "python_bridge"),
];

/// Criterion settings of `--quick`: every figure, fewer and shorter samples.
const QUICK: &[&str] = &[
    "--warm-up-time",
    "0.5",
    "--measurement-time",
    "1",
    "--noplot",
];

pub fn run(quick: bool, extra: &[String]) -> Result<()> {
    stage::stage()?;
    stage_pipe_peer()?;
    let reports = summary::reports_dir();
    let _ = std::fs::remove_dir_all(&reports);
    std::fs::create_dir_all(&reports)?;
    let started = SystemTime::now();
    let mut bench = cargo();
    bench.arg("bench");
    for (package, target) in BENCHES {
        bench.args(["-p", package, "--bench", target]);
    }
    bench.arg("--");
    if quick {
        bench.args(QUICK);
    }
    bench
        .args(extra)
        .env("AGENT_HOST_DIST", dist_dir())
        .env("AGENT_BENCH_REPORTS", &reports);
    exec(&mut bench)?;
    // A filter (criterion's positional argument) measures only some figures, and the
    // summary refuses figures this run did not measure.
    if has_filter(extra) {
        eprintln!("xtask: a filtered run writes no summary.json");
        return Ok(());
    }
    let missed = summary::write(started)?;
    if missed > 0 {
        eprintln!("xtask: {missed} goal(s) missed in this run (see MISSED above)");
    }
    Ok(())
}

/// Criterion's options that take a value: the word after one is not a filter.
const VALUED: &[&str] = &[
    "--warm-up-time",
    "--measurement-time",
    "--sample-size",
    "--profile-time",
    "--save-baseline",
    "--baseline",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--nresamples",
    "--output-format",
    "--color",
    "--plotting-backend",
];

fn has_filter(args: &[String]) -> bool {
    let mut after_valued = false;
    args.iter().any(|arg| {
        let filter = !after_valued && !arg.starts_with('-');
        after_valued = VALUED.contains(&arg.as_str());
        filter
    })
}

/// The baseline a process-based plugin system would be: the mock in a child process,
/// spoken to over a pipe (see bench/pipe-peer).
fn stage_pipe_peer() -> Result<()> {
    exec(cargo().args(["build", "--release", "-p", "agent-pipe-peer"]))?;
    let binary = format!("agent-pipe-peer{}", std::env::consts::EXE_SUFFIX);
    install(
        &target_dir().join("release").join(&binary),
        &dist_dir().join("bench").join(&binary),
    )
}
