//! Handles dropped mid-stream: the turn behind each must be cancelled in the plugin
//! (its agent goes idle at once, not after the turn's remaining minute) and leave
//! nothing behind.

use std::time::Duration;

use agent_plugin_api::{AgentConfig, PluginRuntime, Runtime};
use anyhow::{bail, Context, Result};
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::json;

use crate::bounds::{CycleBounds, LONG_DELAY_MS};
use crate::report::Report;
use crate::watch::{Leftovers, Watch};

/// Turns being dropped at once.
const CONCURRENCY: usize = 64;

/// How long an agent may take to go idle once its turn's handle is dropped.
const IDLE_WITHIN: Duration = Duration::from_secs(10);

pub async fn run(
    runtime: &PluginRuntime,
    handles: usize,
    bounds: &CycleBounds,
    report: &mut Report,
) -> Result<()> {
    const PHASE: &str = "dropped";
    let watch = Watch::start(PHASE)?;
    let config = AgentConfig::builder("soak-model")
        .extra("chunk_delay_ms", json!(LONG_DELAY_MS))
        .build();
    stream::iter(0..handles)
        .map(|index| {
            let config = config.clone();
            async move {
                drop_one(runtime, config, index)
                    .await
                    .with_context(|| format!("handle {index}"))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<()>()
        .await?;
    report.info(PHASE, "handles dropped", handles as f64, "");
    watch
        .finish(
            report,
            Leftovers {
                rss_mib: bounds.rss_growth_mib,
                threads: bounds.threads,
                fds: bounds.fds,
            },
        )
        .await?;
    Ok(())
}

async fn drop_one(runtime: &PluginRuntime, config: AgentConfig, index: usize) -> Result<()> {
    let agent = runtime.create_agent(config).await?;
    let handle = runtime
        .chat(agent, &format!("dropped {index}").into())
        .await?;
    let mut chunks = handle.text_stream();
    let first = chunks.next().await;
    if first.as_deref() != Some("echo: dr") {
        bail!("first chunk {first:?}");
    }
    drop(handle);
    drop(chunks);
    tokio::time::timeout(IDLE_WITHIN, runtime.wait_for_idle(agent))
        .await
        .with_context(|| {
            format!("the agent was still busy {IDLE_WITHIN:?} after its handle was dropped")
        })??;
    let completed = runtime.turn_count(agent).await?;
    if completed != 0 {
        bail!("the dropped turn completed ({completed} turns counted)");
    }
    runtime.shutdown_agent(agent).await?;
    Ok(())
}
