//! The Python bridge against the same agent driven by plain asyncio in the same
//! interpreter (the baseline), side by side in one run, through the real staged plugin.
//!
//! - `python_turn_latency`: one turn at a time (one chunk);
//! - `python_turns_in_flight`: 100 turns in flight on 100 agents;
//! - `python_stream_throughput`: one turn of 10,000 chunks;
//! - then, printed and left as reports for `cargo xtask bench`'s summary: resident
//!   memory per in-flight turn, and start-up (plugin load plus interpreter start plus
//!   the agent import), measured in fresh processes.
//!
//! The baseline runs inside the plugin's interpreter (`bench_agents:Baseline` answers
//! with the nanoseconds it took), so both sides share the interpreter and its loop.

use std::path::Path;
use std::time::{Duration, Instant};

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::{AgentConfig, AgentId, Content};
use agent_plugin_api::Runtime;
use criterion::{criterion_group, Criterion, Throughput};
use futures::StreamExt;

#[path = "../tests/common/mod.rs"]
mod common;

const STARTUP_CHILD: &str = "AGENT_BENCH_STARTUP_CHILD";

/// The venv the start-up child's runtime names, if any.
const STARTUP_VENV: &str = "AGENT_BENCH_STARTUP_VENV";

fn runtime(agent: &str) -> PluginRuntime {
    runtime_in(agent, None)
}

fn runtime_in(agent: &str, venv: Option<&Path>) -> PluginRuntime {
    let agents = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/agents");
    let mut options = serde_json::json!({
        "agent": format!("bench_agents:{agent}"),
        "python_path": [agents],
    });
    if let Some(venv) = venv {
        options["venv"] = serde_json::json!(venv);
    }
    common::staged_plugin().new_runtime(&options).unwrap()
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn new_agent(runtime: &PluginRuntime) -> AgentId {
    runtime
        .create_agent(AgentConfig::builder("bench").build())
        .await
        .unwrap()
}

async fn answer(runtime: &PluginRuntime, agent: AgentId, text: &str) -> String {
    let handle = runtime.chat(agent, &Content::text(text)).await.unwrap();
    handle.text().await.unwrap().text
}

/// Runs the baseline in the interpreter: `turns` turns, `in_flight` at a time.
async fn baseline(
    baseline: &PluginRuntime,
    agent: AgentId,
    turns: u64,
    in_flight: u64,
    chunks: u64,
) -> Duration {
    let spec = format!("turns={turns} in_flight={in_flight} chunks={chunks}");
    let nanos: u64 = answer(baseline, agent, &spec).await.parse().unwrap();
    baseline.clear_history(agent).await.unwrap();
    Duration::from_nanos(nanos)
}

fn bridge(c: &mut Criterion) {
    let tokio = tokio();
    let fast = runtime("FastAgent");
    let driver = runtime("Baseline");
    let (driver_agent, agents) = tokio.block_on(async {
        let mut agents = Vec::new();
        for _ in 0..100 {
            agents.push(new_agent(&fast).await);
        }
        (new_agent(&driver).await, agents)
    });

    let mut group = c.benchmark_group("python_turn_latency");
    group.bench_function("baseline", |b| {
        b.to_async(&tokio)
            .iter_custom(|iters| baseline(&driver, driver_agent, iters, 1, 1))
    });
    group.bench_function("bridge", |b| {
        b.to_async(&tokio).iter_custom(|iters| {
            let (fast, agent) = (&fast, agents[0]);
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    answer(fast, agent, "chunks=1").await;
                }
                let elapsed = start.elapsed();
                fast.clear_history(agent).await.unwrap();
                elapsed
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("python_turns_in_flight");
    group.throughput(Throughput::Elements(100));
    group.bench_function("baseline", |b| {
        b.to_async(&tokio)
            .iter_custom(|iters| baseline(&driver, driver_agent, iters * 100, 100, 1))
    });
    group.bench_function("bridge", |b| {
        b.to_async(&tokio).iter_custom(|iters| {
            let (fast, agents) = (&fast, &agents);
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let turns = agents.iter().map(|&agent| answer(fast, agent, "chunks=1"));
                    futures::future::join_all(turns).await;
                }
                let elapsed = start.elapsed();
                for &agent in agents {
                    fast.clear_history(agent).await.unwrap();
                }
                elapsed
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("python_stream_throughput");
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(30);
    group.bench_function("baseline", |b| {
        b.to_async(&tokio)
            .iter_custom(|iters| baseline(&driver, driver_agent, iters, 1, 10_000))
    });
    group.bench_function("bridge", |b| {
        b.to_async(&tokio).iter_custom(|iters| {
            let fast = &fast;
            let agent = agents[0];
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let handle = fast.chat(agent, &"chunks=10000".into()).await.unwrap();
                    assert_eq!(handle.text_stream().count().await, 10_000);
                }
                let elapsed = start.elapsed();
                fast.clear_history(agent).await.unwrap();
                elapsed
            }
        })
    });
    group.finish();
}

fn resident_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<i64>()
        .unwrap()
        * 4096
}

/// Resident memory per in-flight turn: 10,000 waiting turns through the bridge, and as
/// plain asyncio tasks in the same interpreter.
fn memory_report() {
    const TURNS: usize = 10_000;
    let tokio = tokio();
    let waiting = runtime("Waiting");
    let driver = runtime("MemoryBaseline");
    let (bridge_bytes, baseline_bytes) = tokio.block_on(async {
        let agents: Vec<AgentId> =
            futures::future::join_all((0..TURNS).map(|_| new_agent(&waiting))).await;
        let driver_agent = new_agent(&driver).await;
        // Bridge turns first, kept in flight while the baseline's tasks are measured, so
        // neither side reuses memory the other freed.
        let before = resident_bytes();
        let mut handles = Vec::with_capacity(TURNS);
        for &agent in &agents {
            handles.push(waiting.chat(agent, &"go".into()).await.unwrap());
        }
        for handle in &handles {
            handle.text_stream().next().await;
        }
        let grown = resident_bytes() - before;
        let baseline: i64 = answer(&driver, driver_agent, &format!("turns={TURNS}"))
            .await
            .parse()
            .unwrap();
        drop(handles);
        (grown, baseline)
    });
    let per_turn = |bytes: i64| bytes as f64 / TURNS as f64;
    println!(
        "memory per in-flight turn: bridge {:.0} B, baseline {:.0} B, ratio {:.2}x",
        per_turn(bridge_bytes),
        per_turn(baseline_bytes),
        per_turn(bridge_bytes) / per_turn(baseline_bytes)
    );
    write_report(serde_json::json!({
        "name": "python_turn_bytes",
        "unit": "B",
        "value": per_turn(bridge_bytes),
        "baseline": "asyncio_task",
        "baseline_value": per_turn(baseline_bytes),
    }));
}

/// Start-up in a fresh process: open the plugin, start the interpreter, load an agent;
/// with no venv (`python_startup_ms`: the base Python's `site`, with whatever its
/// site-packages' `.pth` files import) and with an empty venv of the default kind, which
/// excludes the base site-packages (`python_startup_venv_ms`).
fn startup_reports() {
    startup_report("python_startup_ms", None, "");
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    common::make_venv(&venv, false);
    startup_report("python_startup_venv_ms", Some(&venv), ", in an empty venv");
}

fn startup_report(name: &str, venv: Option<&Path>, case: &str) {
    let mut samples: Vec<Duration> = (0..7)
        .map(|_| {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap());
            child.env(STARTUP_CHILD, "1");
            if let Some(venv) = venv {
                child.env(STARTUP_VENV, venv);
            }
            let output = child.output().unwrap();
            let nanos: u64 = String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse()
                .unwrap();
            Duration::from_nanos(nanos)
        })
        .collect();
    samples.sort();
    let milliseconds = |sample: Duration| sample.as_secs_f64() * 1e3;
    write_report(serde_json::json!({
        "name": name,
        "unit": "ms",
        "value": milliseconds(samples[3]),
        // The fastest of the seven, for the spread.
        "baseline": "fastest_of_7",
        "baseline_value": milliseconds(samples[0]),
    }));
    println!(
        "start-up (plugin load + interpreter + agent import){case}, median of 7 fresh processes: {:.1} ms (min {:.1} ms)",
        samples[3].as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3
    );
}

/// Leaves a figure criterion does not measure for `cargo xtask bench`'s summary.
fn write_report(report: serde_json::Value) {
    let Some(dir) = std::env::var_os("AGENT_BENCH_REPORTS") else {
        return;
    };
    let path = Path::new(&dir).join(format!("{}.json", report["name"].as_str().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
}

criterion_group!(benches, bridge);

fn main() {
    if std::env::var_os(STARTUP_CHILD).is_some() {
        let venv = std::env::var_os(STARTUP_VENV).map(std::path::PathBuf::from);
        let start = Instant::now();
        let _runtime = runtime_in("FastAgent", venv.as_deref());
        println!("{}", start.elapsed().as_nanos());
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    // Profiling one group (`--profile-time`) wants nothing else in the profile.
    if std::env::args().any(|arg| arg == "--profile-time") {
        return;
    }
    memory_report();
    startup_reports();
}
