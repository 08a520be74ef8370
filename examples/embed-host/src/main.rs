//! An application embedding agent-host: it selects its backend by config, creates an
//! agent, streams two turns, and reads the conversation state back.
//!
//! Run it after `cargo xtask stage`:
//!
//! ```sh
//! cargo run -p embed-host -- examples/embed-host/agent-host.toml
//! ```

use std::io::Write;
use std::path::PathBuf;

use agent_host::{Config, Host};
use agent_plugin_api::types::{AgentConfig, Content};
use agent_plugin_api::Runtime;
use anyhow::Context;
use futures::StreamExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config_path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agent-host.toml"));
    let config = Config::from_file(&config_path)?;
    let host = Host::from_config(config)?;
    let backend = host.default_backend()?.to_owned();
    let runtime = host.runtime(&backend)?;
    println!(
        "backend: {backend} ({})",
        host.plugin(&backend)?.path().display()
    );

    let agent = runtime
        .create_agent(AgentConfig::builder("example-model").build())
        .await
        .context("create_agent")?;
    for message in ["Hello!", "Tell me more."] {
        println!("> {message}");
        let handle = runtime.chat(agent, &Content::text(message)).await?;
        let mut chunks = handle.text_stream();
        while let Some(chunk) = chunks.next().await {
            print!("{chunk}");
            std::io::stdout().flush()?;
        }
        let result = handle.text().await?;
        println!(
            "\n  ({} tokens)",
            result.usage.total_token_count.unwrap_or(0)
        );
    }
    println!(
        "turns: {}, history: {} messages, total tokens: {}",
        runtime.turn_count(agent).await?,
        runtime.history(agent).await?.len(),
        runtime
            .total_usage(agent)
            .await?
            .total_token_count
            .unwrap_or(0)
    );
    runtime.shutdown_agent(agent).await?;
    Ok(())
}
