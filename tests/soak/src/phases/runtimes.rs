//! Runtimes built and dropped, each after one turn: what a runtime's life leaves
//! behind (a plugin's executor and the Python interpreter are per process, so nothing
//! should be).

use agent_host::Host;
use agent_plugin_api::types::AgentConfig;
use agent_plugin_api::Runtime;
use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::report::Report;
use crate::watch::{Leftovers, Watch};

/// The share of each backend's runtimes built before the first sample.
const WARM_UP: usize = 20;

pub async fn run(
    host: &Host,
    backend: &'static str,
    phase: &'static str,
    count: usize,
    bounds: &Leftovers,
    report: &mut Report,
) -> Result<()> {
    for index in 0..WARM_UP.min(count) {
        one_runtime(host, backend, index).await?;
    }
    let watch = Watch::start(phase)?;
    for index in WARM_UP.min(count)..count {
        one_runtime(host, backend, index)
            .await
            .with_context(|| format!("runtime {index}"))?;
    }
    report.info(phase, "runtimes", count as f64, "");
    watch.finish(report, *bounds).await?;
    Ok(())
}

async fn one_runtime(host: &Host, backend: &str, index: usize) -> Result<()> {
    let runtime = host.runtime(backend)?;
    let config = AgentConfig::builder("soak-model")
        .extra("chunk_delay_ms", json!(0))
        .build();
    let agent = runtime.create_agent(config).await?;
    let message = format!("runtime {index}");
    let answer = runtime
        .chat(agent, &message.as_str().into())
        .await?
        .text()
        .await?;
    if answer.text != format!("echo: {message}") {
        bail!("unexpected answer {:?}", answer.text);
    }
    // The agent is left running: dropping the runtime must end it.
    drop(runtime);
    Ok(())
}
