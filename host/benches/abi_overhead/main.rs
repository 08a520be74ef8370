//! What crossing the plugin boundary costs: the same mock backend driven in-process,
//! through the real staged `.so`, in a child process over a pipe, and served over gRPC
//! (process isolation and loopback TCP), side by side in one run, with the floors no
//! design goes below (a bare cross-thread round trip, a bare channel); and the Python
//! backend's turns with one and two isolated workers.
//!
//! Run with `cargo xtask bench` (it stages the plugin and the pipe peer first, and
//! writes `target/bench/summary.json` from these groups). Each group reports its
//! subjects under the same names (`in_process`, `through_abi`, `pipe_batched`,
//! `pipe_per_chunk`, `isolated`, `loopback_tcp`); compare them as ratios, since the
//! machines are shared and noisy.

mod floors;
mod memory;
mod python_workers;
mod served;
mod subjects;

use agent_pipe_peer::Framing;
use agent_plugin_api::types::{AgentConfig, AgentId, Content, ToolDefinition, Tools};
use criterion::{criterion_group, Criterion, Throughput};
use subjects::{tokio, Subject};

/// Every subject of a group: in-process, through the ABI, over the pipe in the given
/// framings, and, when `served`, over gRPC (isolated, loopback TCP). The clients' tasks
/// need the bench's runtime.
fn subjects(
    tokio: &tokio::runtime::Runtime,
    chunk_chars: usize,
    pipes: &[Framing],
    served: bool,
) -> Vec<Subject> {
    let _context = tokio.enter();
    let mut subjects = Subject::both(chunk_chars);
    subjects.extend(
        pipes
            .iter()
            .map(|&framing| Subject::pipe(framing, chunk_chars)),
    );
    if served {
        subjects.push(tokio.block_on(Subject::isolated(chunk_chars)));
        subjects.push(tokio.block_on(Subject::loopback_tcp(chunk_chars)));
    }
    subjects
}

async fn agents(subject: &Subject, count: usize) -> Vec<AgentId> {
    let mut agents = Vec::with_capacity(count);
    for _ in 0..count {
        agents.push(subject.create_agent().await);
    }
    agents
}

/// A synchronous call: the quota registry's lookup.
fn sync_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_call");
    for subject in Subject::both(8) {
        let runtime = subject.runtime().unwrap().clone();
        group.bench_function(subject.name(), |b| {
            b.iter(|| runtime.quota_registry().remaining("bench"))
        });
    }
    group.finish();
}

/// A call answered at once: `turn_count`.
fn call_overhead(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("call_overhead");
    for subject in subjects(&tokio, 8, &[Framing::Batched], true) {
        let agent = tokio.block_on(subject.create_agent());
        group.bench_function(subject.name(), |b| {
            b.to_async(&tokio).iter(|| subject.turn_count(agent))
        });
    }
    group.finish();
}

/// One short turn (a ten-chunk answer), start to finish, against the floor: a request
/// answered by a task on another runtime.
fn turn_latency(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("turn_latency");
    let floor = floors::RoundTrip::start();
    group.bench_function("cross_thread_round_trip", |b| {
        b.to_async(&tokio).iter(|| floor.call())
    });
    let text = "a short message to answer";
    let message = Content::text(text);
    let chunk_chars = "echo: a short message to answer".len().div_ceil(10);
    for subject in subjects(
        &tokio,
        chunk_chars,
        &[Framing::PerChunk, Framing::Batched],
        true,
    ) {
        let agent = tokio.block_on(subject.create_agent());
        group.bench_function(subject.name(), |b| {
            b.to_async(&tokio)
                .iter(|| subject.answer(agent, &message, text))
        });
        tokio.block_on(subject.clear_history(agent));
    }
    group.finish();
}

/// How many chunks in a turn of the `stream_throughput` group.
const STREAM_CHUNKS: usize = 10_000;

/// One turn of 10,000 one-character chunks, read batched, against the floor: the same
/// chunks through a bare tokio channel between two runtimes.
fn stream_throughput(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("stream_throughput");
    group.throughput(Throughput::Elements(STREAM_CHUNKS as u64));
    group.sample_size(20);
    let floor = floors::Channel::start();
    group.bench_function("bare_channel", |b| {
        b.to_async(&tokio).iter(|| floor.stream(STREAM_CHUNKS))
    });
    let text = "x".repeat(STREAM_CHUNKS - "echo: ".len());
    let message = Content::text(text.as_str());
    for subject in subjects(&tokio, 1, &[Framing::PerChunk, Framing::Batched], true) {
        let agent = tokio.block_on(subject.create_agent());
        group.bench_function(subject.name(), |b| {
            b.to_async(&tokio).iter(|| async {
                assert_eq!(subject.stream(agent, &message, &text).await, STREAM_CHUNKS);
                subject.clear_history(agent).await;
            })
        });
    }
    group.finish();
}

/// `count` agents with one short turn each in flight at once.
fn turns_in_flight(c: &mut Criterion, group_name: &str, count: usize) {
    let tokio = tokio();
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(count as u64));
    group.sample_size(10);
    let text = "hello";
    let message = Content::text(text);
    // 10,000 agents served over gRPC would measure their creation more than their turns.
    let served = count <= 100;
    for subject in subjects(&tokio, 64, &[Framing::Batched], served) {
        let agents = tokio.block_on(agents(&subject, count));
        group.bench_function(subject.name(), |b| {
            b.to_async(&tokio).iter(|| {
                let turns = agents.iter().map(|&agent| {
                    let (subject, message) = (&subject, &message);
                    async move {
                        subject.answer(agent, message, text).await;
                        subject.clear_history(agent).await;
                    }
                });
                futures::future::join_all(turns)
            })
        });
    }
    group.finish();
}

fn turns_in_flight_100(c: &mut Criterion) {
    turns_in_flight(c, "turns_in_flight_100", 100);
}

fn turns_in_flight_10k(c: &mut Criterion) {
    turns_in_flight(c, "turns_in_flight_10k", 10_000);
}

/// How many tool calls one turn of the `tool_calls` group makes.
const TOOL_CALLS_PER_TURN: usize = 64;

/// The round trip of a tool call, plugin -> the host's handler -> plugin: one turn that
/// makes 64 calls at once (the mock calls every `<tool>: <input>` line), so the calls,
/// not the turn around them, are what is timed. In-process the handler is called
/// directly; through the ABI each call crosses back to the host and its answer returns.
fn tool_calls(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("tool_calls");
    group.throughput(Throughput::Elements(TOOL_CALLS_PER_TURN as u64));
    group.sample_size(20);
    let config = AgentConfig::builder("bench")
        .tool(ToolDefinition::new(
            "echo",
            "",
            serde_json::json!({"type": "object", "properties": {"input": {}}}),
        ))
        .build();
    let tools = Tools::new().with("echo", |args| async move { Ok(args) });
    let text = (0..TOOL_CALLS_PER_TURN)
        .map(|index| format!("echo: {index}"))
        .collect::<Vec<_>>()
        .join("\n");
    let message = Content::text(text.as_str());
    for subject in Subject::both(1024) {
        let agent = tokio.block_on(subject.create_agent_with_tools(config.clone(), tools.clone()));
        group.bench_function(subject.name(), |b| {
            b.to_async(&tokio)
                .iter(|| subject.answer(agent, &message, &text))
        });
        tokio.block_on(subject.clear_history(agent));
    }
    group.finish();
}

criterion_group!(
    benches,
    call_overhead,
    sync_call,
    turn_latency,
    stream_throughput,
    turns_in_flight_100,
    turns_in_flight_10k,
    tool_calls,
    python_workers::python_workers,
);

fn main() {
    if memory::run_as_child() {
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
    memory::idle_agent_report();
}
