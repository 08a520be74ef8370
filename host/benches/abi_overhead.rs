//! What crossing the plugin boundary costs: the same mock backend driven in-process
//! (the baseline) and through the real staged `.so`, side by side in one run.
//!
//! Run with `cargo xtask bench` (it stages the plugin first). Each group reports both
//! variants; compare them as a ratio, since the machines are shared and noisy.

use std::path::PathBuf;
use std::sync::Arc;

use agent_plugin_api::host::PluginLibrary;
use agent_plugin_api::types::{AgentConfig, AgentId, Content, ToolDefinition, Tools};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::StreamExt;

/// Options that make the mock as fast as it goes: no pauses, no thoughts.
fn fast_options(chunk_chars: usize) -> MockOptions {
    MockOptions {
        chunk_delay_ms: 0,
        chunk_chars,
        thoughts: false,
        ..MockOptions::default()
    }
}

fn staged_mock() -> PathBuf {
    let dist = std::env::var_os("AGENT_HOST_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dist"));
    let path = dist.join("plugins/libagent_plugin_mock.so");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask bench`",
        path.display()
    );
    path
}

/// The two runtimes compared: in-process, and through the ABI from the real library.
fn runtimes(chunk_chars: usize) -> Vec<(&'static str, Arc<dyn Runtime>)> {
    let library = PluginLibrary::open(staged_mock()).expect("the staged mock loads");
    let options = serde_json::json!({
        "chunk_delay_ms": 0, "chunk_chars": chunk_chars, "thoughts": false,
    });
    vec![
        (
            "in_process",
            Arc::new(MockRuntime::with_options(fast_options(chunk_chars)).unwrap()),
        ),
        (
            "through_abi",
            Arc::new(library.new_runtime(&options).unwrap()),
        ),
    ]
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn new_agent(runtime: &dyn Runtime) -> AgentId {
    runtime
        .create_agent(AgentConfig::builder("bench").build())
        .await
        .unwrap()
}

/// A synchronous call: the quota registry's lookup.
fn sync_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_call");
    for (name, runtime) in runtimes(8) {
        group.bench_function(name, |b| {
            b.iter(|| runtime.quota_registry().remaining("bench"))
        });
    }
    group.finish();
}

/// An async call answered at once: `turn_count`.
fn async_call(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("async_call");
    for (name, runtime) in runtimes(8) {
        let agent = tokio.block_on(new_agent(&*runtime));
        group.bench_function(name, |b| {
            b.to_async(&tokio)
                .iter(|| async { runtime.turn_count(agent).await.unwrap() })
        });
    }
    group.finish();
}

/// One short turn, start to finish.
fn turn_latency(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("turn_latency");
    let message = Content::text("hello");
    for (name, runtime) in runtimes(64) {
        let agent = tokio.block_on(new_agent(&*runtime));
        group.bench_function(name, |b| {
            b.to_async(&tokio).iter(|| async {
                let handle = runtime.chat(agent, &message).await.unwrap();
                handle.text().await.unwrap()
            })
        });
        tokio.block_on(runtime.clear_history(agent)).unwrap();
    }
    group.finish();
}

/// One turn of 10,000 one-character chunks, read from the text stream.
fn streaming(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("stream_10k_chunks");
    let message = Content::text("x".repeat(10_000 - "echo: ".len()));
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(20);
    for (name, runtime) in runtimes(1) {
        let agent = tokio.block_on(new_agent(&*runtime));
        group.bench_function(name, |b| {
            b.to_async(&tokio).iter(|| async {
                let handle = runtime.chat(agent, &message).await.unwrap();
                let chunks = handle.text_stream().count().await;
                assert_eq!(chunks, 10_000);
                runtime.clear_history(agent).await.unwrap();
            })
        });
    }
    group.finish();
}

/// 100 agents with one turn each in flight at once.
fn turns_in_flight(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("turns_in_flight");
    group.throughput(Throughput::Elements(100));
    group.sample_size(20);
    let message = Content::text("hello");
    for (name, runtime) in runtimes(64) {
        let agents: Vec<AgentId> = tokio.block_on(async {
            let mut agents = Vec::new();
            for _ in 0..100 {
                agents.push(new_agent(&*runtime).await);
            }
            agents
        });
        group.bench_with_input(BenchmarkId::new(name, 100), &agents, |b, agents| {
            b.to_async(&tokio).iter(|| async {
                let turns = agents.iter().map(|&agent| {
                    let runtime = runtime.clone();
                    let message = message.clone();
                    async move {
                        let handle = runtime.chat(agent, &message).await.unwrap();
                        handle.text().await.unwrap();
                        runtime.clear_history(agent).await.unwrap();
                    }
                });
                futures::future::join_all(turns).await
            })
        });
    }
    group.finish();
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
    let message = Content::text(
        (0..TOOL_CALLS_PER_TURN)
            .map(|index| format!("echo: {index}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    for (name, runtime) in runtimes(1024) {
        let agent = tokio
            .block_on(runtime.create_agent_with_tools(config.clone(), tools.clone()))
            .unwrap();
        group.bench_function(name, |b| {
            b.to_async(&tokio).iter(|| async {
                let handle = runtime.chat(agent, &message).await.unwrap();
                handle.text().await.unwrap()
            })
        });
        tokio.block_on(runtime.clear_history(agent)).unwrap();
    }
    group.finish();
}

criterion_group!(
    benches,
    tool_calls,
    sync_call,
    async_call,
    turn_latency,
    streaming,
    turns_in_flight
);
criterion_main!(benches);
