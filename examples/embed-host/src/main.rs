//! An application embedding agent-host: it selects its backend by config, creates an
//! agent that may call one of the application's tools (`weather`), streams three turns
//! (the last asks for the tool), and reads the conversation state back.
//!
//! Run it after `cargo xtask stage`:
//!
//! ```sh
//! cargo run -p embed-host -- examples/embed-host/agent-host.toml
//! ```

use std::io::Write;
use std::path::PathBuf;

use agent_host::{Config, Host};
use agent_plugin_api::types::{AgentConfig, ChatEvent, Content, ToolDefinition, ToolError, Tools};
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

    // The application's tool: declared to the agent (so its model knows of it) and
    // served by this process, on this process's tokio runtime.
    let config = AgentConfig::builder("example-model")
        .tool(ToolDefinition::new(
            "weather",
            "Today's weather in a city.",
            serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        ))
        .build();
    let tools = Tools::new().with("weather", |args| async move {
        match args["city"].as_str() {
            Some(city) => Ok(serde_json::json!(format!("sunny in {city}, 21 °C"))),
            None => Err(ToolError::new("weather needs a city")),
        }
    });
    let agent = runtime
        .create_agent_with_tools(config, tools)
        .await
        .context("create_agent")?;
    // The mock calls a declared tool for a line `<tool>: <input>`.
    for message in ["Hello!", "Tell me more.", "weather: Paris"] {
        println!("> {message}");
        let handle = runtime.chat(agent, &Content::text(message)).await?;
        let mut events = handle.events();
        while let Some(event) = events.next().await {
            match event {
                ChatEvent::Text(chunk) => print!("{chunk}"),
                ChatEvent::ToolCall(call) => println!("  [calls {} {}]", call.name, call.args),
                ChatEvent::ToolResult(result) => {
                    println!("  [{} answered {:?}]", result.name, result.output)
                }
                _ => {}
            }
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
