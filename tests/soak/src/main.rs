//! `agent-soak`: the soak run behind `cargo xtask soak`. Loads the staged plugins through
//! the ABI, as an application would, runs each phase between resource samples, prints a
//! table of figures and bounds, and exits 1 when a bound is exceeded (2 when a phase
//! failed outright).
//!
//! Phases, at `--scale 1`: 100,000 create/chat/shutdown cycles on the mock and 20,000 on
//! the Python backend; 10,000 agents with a turn in flight at once, then cancelled;
//! 10,000 handles dropped mid-stream; 10,000 mock and 2,000 Python runtimes built and
//! dropped after a turn each; one 50 MB message echoed by the mock. The bounds are in
//! `bounds.rs` and printed first.

mod bounds;
mod phases;
mod report;
mod resources;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use agent_host::Host;
use agent_plugin_api::host::PluginRuntime;
use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use serde_json::json;

use bounds::BOUNDS;
use report::Report;

#[derive(Parser)]
#[command(name = "agent-soak")]
struct Args {
    /// The directory holding the staged plugins (target/dist/plugins).
    #[arg(long)]
    plugin_dir: PathBuf,
    /// Multiplies every count (0.2 is the run inside `cargo xtask test`).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// The size of the large message, in MB (10^6 bytes); by default 50 times the scale,
    /// at least 5 (the ratio it measures does not depend on the size).
    #[arg(long)]
    large_mb: Option<usize>,
    /// Run only these phases (repeatable); all by default.
    #[arg(long = "phase", value_enum)]
    phases: Vec<Phase>,
    /// The longest any one phase may run before it counts as hung.
    #[arg(long, default_value_t = 600)]
    phase_timeout_s: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    MockCycles,
    PythonCycles,
    InFlight,
    Dropped,
    Runtimes,
    LargeMessage,
}

const ALL_PHASES: [Phase; 6] = [
    Phase::MockCycles,
    Phase::PythonCycles,
    Phase::InFlight,
    Phase::Dropped,
    Phase::Runtimes,
    Phase::LargeMessage,
];

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("agent-soak: cannot start tokio: {error}");
            return ExitCode::from(2);
        }
    };
    let mut report = Report::default();
    let outcome = runtime.block_on(soak(&args, &mut report));
    println!("\n{}", report.table());
    let phase_failures = match outcome {
        Ok(phase_failures) => phase_failures,
        Err(error) => vec![format!("{error:#}")],
    };
    let failures: Vec<String> = report
        .failures()
        .map(|figure| format!("{} {}", figure.phase, figure.name))
        .collect();
    if !phase_failures.is_empty() {
        for failure in &phase_failures {
            eprintln!("agent-soak: failed: {failure}");
        }
        if !failures.is_empty() {
            eprintln!("agent-soak: bound exceeded: {}", failures.join(", "));
        }
        return ExitCode::from(2);
    }
    if failures.is_empty() {
        println!("agent-soak: every figure within its bound");
        ExitCode::SUCCESS
    } else {
        eprintln!("agent-soak: bound exceeded: {}", failures.join(", "));
        ExitCode::from(1)
    }
}

/// Runs the phases; returns the ones that failed outright (an error that is not a
/// figure over its bound). An error before the first phase is returned as is.
async fn soak(args: &Args, report: &mut Report) -> Result<Vec<String>> {
    let count = |full: usize| ((full as f64 * args.scale).round() as usize).max(1);
    let phases: &[Phase] = if args.phases.is_empty() {
        &ALL_PHASES
    } else {
        &args.phases
    };
    println!(
        "agent-soak: plugins from {}, scale {}; bounds:\n{}",
        args.plugin_dir.display(),
        args.scale,
        BOUNDS.describe()
    );
    let host = Host::builder()
        .plugin_dir(&args.plugin_dir)
        .without_env()
        .without_exe_dir()
        .build();
    let mock = host
        .runtime_with_options("mock", no_delay())
        .context("the mock plugin")?;
    let large_mb = args
        .large_mb
        .unwrap_or_else(|| ((50.0 * args.scale).round() as usize).max(5));
    let limit = Duration::from_secs(args.phase_timeout_s);
    let mut failed = Vec::new();
    for &phase in phases {
        let started = Instant::now();
        println!("agent-soak: {phase:?} ...");
        let run = async {
            match phase {
                Phase::MockCycles => {
                    phases::cycles::run(
                        "mock-cycles",
                        &mock,
                        count(100_000),
                        &BOUNDS.mock_cycles,
                        report,
                    )
                    .await
                }
                Phase::PythonCycles => {
                    let python = python(&host)?;
                    phases::cycles::run(
                        "python-cycles",
                        &python,
                        count(20_000),
                        &BOUNDS.python_cycles,
                        report,
                    )
                    .await
                }
                Phase::InFlight => {
                    let bounds = &BOUNDS.in_flight;
                    phases::in_flight::run("mock-in-flight", &mock, count(10_000), bounds, report)
                        .await?;
                    let python = python(&host)?;
                    phases::in_flight::run(
                        "python-in-flight",
                        &python,
                        count(10_000),
                        bounds,
                        report,
                    )
                    .await
                }
                Phase::Dropped => {
                    let bounds = &BOUNDS.dropped;
                    phases::dropped::run("mock-dropped", &mock, count(10_000), bounds, report)
                        .await?;
                    let python = python(&host)?;
                    phases::dropped::run("python-dropped", &python, count(10_000), bounds, report)
                        .await
                }
                Phase::Runtimes => {
                    let bounds = &BOUNDS.runtimes;
                    phases::runtimes::run(
                        &host,
                        "mock",
                        "mock-runtimes",
                        count(10_000),
                        bounds,
                        report,
                    )
                    .await?;
                    phases::runtimes::run(
                        &host,
                        "python",
                        "python-runtimes",
                        count(2_000),
                        bounds,
                        report,
                    )
                    .await
                }
                Phase::LargeMessage => {
                    phases::large_message::run(
                        &mock,
                        large_mb * 1_000_000,
                        &BOUNDS.large_message,
                        report,
                    )
                    .await
                }
            }
        };
        // A phase that fails or hangs is reported; the others still run.
        let failure = match tokio::time::timeout(limit, run).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(format!("phase {phase:?}: {error:#}")),
            Err(_) => Some(format!(
                "phase {phase:?} hung: still running after {limit:?}"
            )),
        };
        match failure {
            None => println!("agent-soak: {phase:?} took {:.1?}", started.elapsed()),
            Some(failure) => {
                eprintln!("agent-soak: {failure}");
                failed.push(failure);
            }
        }
    }
    Ok(failed)
}

/// The Python backend with its bundled reference agent.
fn python(host: &Host) -> Result<PluginRuntime> {
    host.runtime("python").context("the python plugin")
}

/// The mock's options for the soak: no pause between chunks (agents that want one say
/// so in their extras).
fn no_delay() -> serde_json::Map<String, serde_json::Value> {
    let mut options = serde_json::Map::new();
    options.insert("chunk_delay_ms".into(), json!(0));
    options
}
