//! One large message echoed by the mock with its default chunking (8 characters a
//! chunk, so 50 MB is about 6.5 million chunks), streamed event by event, then read
//! whole with `text()`.
//!
//! The bounded figure is the peak resident increase while the answer streams, divided
//! by the message size: every copy made on its way through the ABI, the plugin's
//! history and the chunks the host keeps for its streams (issue 9: "streaming a 50 MB
//! echo peaks under 3x the message"). The caller's own copy from `text()` comes on top
//! and is reported, not bounded (about 1x more). The message is built before the
//! baseline, so it is not counted.

use std::time::Instant;

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::{AgentConfig, Content};
use agent_plugin_api::Runtime;
use anyhow::{bail, Context, Result};
use futures::StreamExt;
use serde_json::json;

use crate::bounds::LargeMessageBounds;
use crate::report::Report;
use crate::resources::{mib, reset_peak, Sample};

pub async fn run(
    runtime: &PluginRuntime,
    size: usize,
    bounds: &LargeMessageBounds,
    report: &mut Report,
) -> Result<()> {
    const PHASE: &str = "large-message";
    let message = Content::Text(text_of_size(size));
    let config = AgentConfig::builder("soak-model")
        .extra("chunk_delay_ms", json!(0))
        .build();
    let agent = runtime.create_agent(config).await?;
    let before = Sample::now()?;
    reset_peak()?;
    let started = Instant::now();
    let handle = runtime.chat(agent, &message).await?;
    let streamed_bytes = handle
        .text_stream()
        .fold(0, |bytes, chunk| async move { bytes + chunk.len() })
        .await;
    let streamed = Sample::now()?;
    let answer = handle.text().await.context("the large turn")?;
    let elapsed = started.elapsed();
    let after = Sample::now()?;
    let expected = size + "echo: ".len();
    if streamed_bytes != expected
        || answer.text.len() != expected
        || !answer.text.starts_with("echo: ")
    {
        bail!(
            "the echo has {} bytes streamed and {} in the answer, expected {expected}",
            streamed_bytes,
            answer.text.len(),
        );
    }
    drop(answer);
    drop(handle);
    runtime.shutdown_agent(agent).await?;
    drop(message);
    report.info(PHASE, "message size", mib(size as u64), "MiB");
    report.info(PHASE, "seconds", elapsed.as_secs_f64(), "s");
    let increase = |peak: u64| peak.saturating_sub(before.rss);
    report.info(
        PHASE,
        "peak rss increase",
        mib(increase(streamed.peak)),
        "MiB",
    );
    report.info(
        PHASE,
        "and the copy from text()",
        mib(increase(after.peak)),
        "MiB",
    );
    report.info(
        PHASE,
        "rss held with the answer",
        mib(after.rss.saturating_sub(before.rss)),
        "MiB",
    );
    report.bounded(
        PHASE,
        "peak increase / size",
        increase(streamed.peak) as f64 / size as f64,
        "x",
        bounds.peak_per_size,
    );
    Ok(())
}

/// `size` bytes of words and spaces (ASCII, so bytes and characters agree).
fn text_of_size(size: usize) -> String {
    const WORDS: &str = "the quick brown fox jumps over the lazy dog ";
    let mut text = WORDS.repeat(size / WORDS.len() + 1);
    text.truncate(size);
    text
}
