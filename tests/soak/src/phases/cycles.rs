//! Create, chat, shut down, many times over: what one agent's life leaves behind.

use std::time::Instant;

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::AgentConfig;
use agent_plugin_api::Runtime;
use anyhow::{bail, Context, Result};
use futures::future::try_join_all;
use serde_json::json;

use crate::report::Report;
use crate::watch::{Leftovers, Watch};

/// Agents living at once during the cycles: enough to keep the plugin's threads busy
/// while the host's single thread waits.
const WORKERS: usize = 8;

/// Runs `total` cycles on `runtime`: a warm-up share first (allocator pools, the
/// plugin's lazily started pieces), then the rest between two samples.
pub async fn run(
    phase: &'static str,
    runtime: &PluginRuntime,
    total: usize,
    bounds: &Leftovers,
    report: &mut Report,
) -> Result<()> {
    let warm_up = (total / 50).clamp(total.min(200), total);
    cycles(runtime, 0, warm_up).await?;
    let watch = Watch::start(phase)?;
    let started = Instant::now();
    cycles(runtime, warm_up, total).await?;
    let elapsed = started.elapsed();
    let measured = total - warm_up;
    report.info(phase, "cycles", total as f64, "");
    report.info(
        phase,
        "cycles per second",
        measured as f64 / elapsed.as_secs_f64(),
        "/s",
    );
    watch.finish(report, *bounds).await?;
    Ok(())
}

/// Cycles `from..to`, spread over [`WORKERS`] concurrent loops.
async fn cycles(runtime: &PluginRuntime, from: usize, to: usize) -> Result<()> {
    let workers = (0..WORKERS).map(|worker| async move {
        let mut cycle = from + worker;
        while cycle < to {
            one_cycle(runtime, cycle)
                .await
                .with_context(|| format!("cycle {cycle}"))?;
            cycle += WORKERS;
        }
        anyhow::Ok(())
    });
    try_join_all(workers).await?;
    Ok(())
}

/// One agent's whole life, checked: its answer is the echo, and after shutdown its id is
/// refused.
async fn one_cycle(runtime: &PluginRuntime, cycle: usize) -> Result<()> {
    let config = AgentConfig::builder("soak-model")
        .extra("chunk_delay_ms", json!(0))
        .build();
    let agent = runtime.create_agent(config).await.context("create_agent")?;
    let message = format!("hello {cycle}");
    let handle = runtime.chat(agent, &message.as_str().into()).await?;
    let answer = handle.text().await.context("chat")?;
    if answer.text != format!("echo: {message}") {
        bail!("unexpected answer {:?}", answer.text);
    }
    drop(handle);
    runtime
        .shutdown_agent(agent)
        .await
        .context("shutdown_agent")?;
    if cycle % 1000 == 0 && runtime.turn_count(agent).await.is_ok() {
        bail!("agent {agent} still answers after shutdown_agent");
    }
    Ok(())
}
