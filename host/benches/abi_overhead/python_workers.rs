//! The Python backend's turns per second with one and two isolated workers, 100 turns in
//! flight: what `workers = 2` buys a backend whose agents hold the GIL. Each turn runs
//! `bench_agents:BusyAgent`, a fixed amount of pure-Python work (a loop of 20,000 steps,
//! about half a millisecond here), since an agent that does nothing measures only the
//! host's share.

use std::path::Path;

use agent_plugin_api::types::{AgentConfig, Content};
use criterion::{Criterion, Throughput};

use crate::served::isolated_runtime;
use crate::subjects::tokio;

const TURNS_IN_FLIGHT: usize = 100;

pub fn python_workers(c: &mut Criterion) {
    let tokio = tokio();
    let mut group = c.benchmark_group("python_workers");
    group.throughput(Throughput::Elements(TURNS_IN_FLIGHT as u64));
    group.sample_size(10);
    let agents_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/python/benches/agents");
    let options = serde_json::json!({
        "agent": "bench_agents:BusyAgent",
        "python_path": [agents_dir],
    });
    let message = Content::text("spin=20000");
    for workers in [1, 2] {
        let table = format!("isolation = \"process\"\nworkers = {workers}");
        let (runtime, agents) = tokio.block_on(async {
            let runtime = isolated_runtime("python", &table, options.clone()).await;
            let mut agents = Vec::with_capacity(TURNS_IN_FLIGHT);
            for _ in 0..TURNS_IN_FLIGHT {
                let config = AgentConfig::builder("bench").build();
                agents.push(runtime.create_agent(config).await.unwrap());
            }
            (runtime, agents)
        });
        group.bench_function(format!("workers_{workers}"), |b| {
            b.to_async(&tokio).iter(|| {
                let turns = agents.iter().map(|&agent| {
                    let (runtime, message) = (&runtime, &message);
                    async move {
                        let handle = runtime.chat(agent, message).await.unwrap();
                        handle.text().await.unwrap();
                        runtime.clear_history(agent).await.unwrap();
                    }
                });
                futures::future::join_all(turns)
            })
        });
    }
    group.finish();
}
