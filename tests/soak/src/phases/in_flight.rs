//! Many agents with a turn in flight at the same moment, then all of them cancelled.
//!
//! Each turn streams its first chunk and then waits [`crate::bounds::LONG_DELAY_MS`]
//! before the next, so every turn is provably mid-stream when the sample is taken (no
//! race with turns that end early), and cancelling them is what ends them.
//!
//! The phase runs twice. The first round gives the resident cost per turn in flight;
//! the allocator keeps what it freed (about 10 KiB a turn, reused, not returned to the
//! system), so the second round is the one whose growth is checked: a leak shows there
//! as the same growth again, retained free memory does not.

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::{AgentConfig, AgentId, ChatResponseHandle, Error};
use agent_plugin_api::Runtime;
use anyhow::{bail, Context, Result};
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::json;

use crate::bounds::{InFlightBounds, LONG_DELAY_MS};
use crate::phases::first_chunk_of;
use crate::report::Report;
use crate::resources::Sample;
use crate::watch::Watch;

/// ABI calls issued at once while starting and stopping the agents.
const CONCURRENCY: usize = 256;

pub async fn run(
    phase: &'static str,
    runtime: &PluginRuntime,
    agents: usize,
    bounds: &InFlightBounds,
    report: &mut Report,
) -> Result<()> {
    let before = Sample::now()?;
    let peak = round(phase, runtime, agents, report).await?;
    report.bounded(
        phase,
        "rss per in-flight turn",
        peak.rss.saturating_sub(before.rss) as f64 / agents as f64 / 1024.0,
        "KiB",
        bounds.rss_per_turn_kib,
    );
    report.info(phase, "threads while in flight", peak.threads as f64, "");
    let watch = Watch::start(phase)?;
    round(phase, runtime, agents, report).await?;
    watch.finish(report, bounds.leftovers).await?;
    Ok(())
}

/// Starts a turn on each of `agents` new agents, checks they are all mid-stream, then
/// cancels and shuts down every one. Returns the sample taken while all were in flight.
async fn round(
    phase: &'static str,
    runtime: &PluginRuntime,
    agents: usize,
    report: &mut Report,
) -> Result<Sample> {
    let config = AgentConfig::builder("soak-model")
        .extra("chunk_delay_ms", json!(LONG_DELAY_MS))
        .build();
    let turns: Vec<(AgentId, ChatResponseHandle)> = stream::iter(0..agents)
        .map(|index| {
            let config = config.clone();
            async move {
                let agent = runtime.create_agent(config).await?;
                let message = format!("in flight {index}");
                let handle = runtime.chat(agent, &message.as_str().into()).await?;
                let first = handle.text_stream().next().await;
                if !first
                    .as_deref()
                    .is_some_and(|first| first_chunk_of(first, &message))
                {
                    bail!("turn {index}: first chunk {first:?}");
                }
                Ok((agent, handle))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await
        .context("starting the turns")?;
    let peak = Sample::now()?;
    let finished_early = turns
        .iter()
        .filter(|(_, handle)| handle.is_finished())
        .count();
    report.info(
        phase,
        "turns in flight",
        (turns.len() - finished_early) as f64,
        "",
    );
    report.bounded(phase, "turns ended early", finished_early as f64, "", 0.0);

    // Cancel through the ABI; every handle must then end with `Cancelled`.
    let wrong_endings = stream::iter(turns)
        .map(|(agent, handle)| async move {
            runtime.cancel(agent).await?;
            let ending = handle.text().await;
            drop(handle);
            runtime.shutdown_agent(agent).await?;
            anyhow::Ok(usize::from(!matches!(ending, Err(Error::Cancelled))))
        })
        .buffer_unordered(CONCURRENCY)
        .try_fold(0, |sum, wrong| async move { Ok(sum + wrong) })
        .await
        .context("cancelling the turns")?;
    report.bounded(
        phase,
        "turns not ending Cancelled",
        wrong_endings as f64,
        "",
        0.0,
    );
    Ok(peak)
}
