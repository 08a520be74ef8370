//! Handles dropped mid-stream: the turn behind each must be cancelled in the plugin
//! (its agent goes idle at once, not after the turn's remaining minute) and leave
//! nothing behind.
//!
//! The figure is the slowest time from the drop to the agent being idle. An agent still
//! busy after [`GIVE_UP`] ends the phase early (waiting out 10,000 of them would take
//! hours): the figure is then `GIVE_UP`, over its bound.

use std::time::{Duration, Instant};

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::AgentConfig;
use agent_plugin_api::Runtime;
use anyhow::{bail, Result};
use futures::{stream, StreamExt};
use serde_json::json;

use crate::bounds::{DroppedBounds, LONG_DELAY_MS};
use crate::phases::first_chunk_of;
use crate::report::Report;
use crate::watch::Watch;

/// Turns being dropped at once.
const CONCURRENCY: usize = 64;

/// How long the phase waits for one agent to go idle before it stops.
const GIVE_UP: Duration = Duration::from_secs(3);

/// How one dropped handle went.
enum Dropped {
    /// The agent was idle this long after the drop.
    IdleAfter(Duration),
    /// The agent was still busy after [`GIVE_UP`].
    StillBusy,
}

pub async fn run(
    phase: &'static str,
    runtime: &PluginRuntime,
    handles: usize,
    bounds: &DroppedBounds,
    report: &mut Report,
) -> Result<()> {
    let watch = Watch::start(phase)?;
    let config = AgentConfig::builder("soak-model")
        .extra("chunk_delay_ms", json!(LONG_DELAY_MS))
        .build();
    let mut outcomes = stream::iter(0..handles)
        .map(|index| {
            let config = config.clone();
            async move { (index, drop_one(runtime, config, index).await) }
        })
        .buffer_unordered(CONCURRENCY);
    let mut slowest = Duration::ZERO;
    let mut dropped = 0;
    while let Some((index, outcome)) = outcomes.next().await {
        match outcome {
            Ok(Dropped::IdleAfter(elapsed)) => slowest = slowest.max(elapsed),
            Ok(Dropped::StillBusy) => {
                eprintln!(
                    "agent-soak: {phase}: handle {index}: the agent was still busy {GIVE_UP:?} after its handle was dropped; stopping the phase"
                );
                slowest = GIVE_UP;
                break;
            }
            Err(error) => return Err(error.context(format!("handle {index}"))),
        }
        dropped += 1;
    }
    drop(outcomes);
    report.info(phase, "handles dropped", dropped as f64, "");
    report.bounded(
        phase,
        "slowest idle after drop",
        slowest.as_secs_f64() * 1000.0,
        "ms",
        bounds.idle_after_drop_ms,
    );
    watch.finish(report, bounds.leftovers).await?;
    Ok(())
}

async fn drop_one(runtime: &PluginRuntime, config: AgentConfig, index: usize) -> Result<Dropped> {
    let agent = runtime.create_agent(config).await?;
    let message = format!("dropped {index}");
    let handle = runtime.chat(agent, &message.as_str().into()).await?;
    let mut chunks = handle.text_stream();
    let first = chunks.next().await;
    if !first
        .as_deref()
        .is_some_and(|first| first_chunk_of(first, &message))
    {
        bail!("first chunk {first:?}");
    }
    let dropped_at = Instant::now();
    drop(handle);
    drop(chunks);
    let idle = tokio::time::timeout(GIVE_UP, runtime.wait_for_idle(agent)).await;
    let elapsed = dropped_at.elapsed();
    let Ok(idle) = idle else {
        runtime.shutdown_agent(agent).await?;
        return Ok(Dropped::StillBusy);
    };
    idle?;
    let completed = runtime.turn_count(agent).await?;
    if completed != 0 {
        bail!("the dropped turn completed ({completed} turns counted)");
    }
    runtime.shutdown_agent(agent).await?;
    Ok(Dropped::IdleAfter(elapsed))
}
