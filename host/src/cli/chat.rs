use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use agent_host::Host;
use agent_plugin_api::{AgentConfig, AgentId, ChatEvent, Content, PluginRuntime, Runtime};
use anyhow::Context as _;
use futures::StreamExt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin to use (default: `backend` in the config).
    #[arg(long)]
    backend: Option<String>,
    /// A backend option, `key=value` (value typed like TOML); overrides the config.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// The model name handed to the agent.
    #[arg(long, default_value = "default")]
    model: String,
    /// System instructions for the agent.
    #[arg(long)]
    system: Option<String>,
    /// Also print thoughts, tool calls and usage (to stderr).
    #[arg(long, short)]
    verbose: bool,
    /// The message; without it, read one message per line from stdin.
    message: Option<String>,
}

pub async fn run(host: &Host, args: Args) -> anyhow::Result<ExitCode> {
    let backend = match &args.backend {
        Some(name) => name.clone(),
        None => host.default_backend()?.to_owned(),
    };
    let runtime = host.runtime_with_options(&backend, super::options_map(&args.options)?)?;
    let mut config = AgentConfig::builder(&args.model);
    if let Some(system) = &args.system {
        config = config.system_instructions(system);
    }
    let agent = runtime
        .create_agent(config.build())
        .await
        .with_context(|| format!("backend {backend:?}: create_agent"))?;
    let outcome = match &args.message {
        Some(message) => turn(&runtime, agent, message, args.verbose).await,
        None => interactive(&runtime, agent, args.verbose).await,
    };
    let _ = runtime.shutdown_agent(agent).await;
    outcome.with_context(|| format!("backend {backend:?}"))?;
    Ok(ExitCode::SUCCESS)
}

async fn interactive(runtime: &PluginRuntime, agent: AgentId, verbose: bool) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let prompt = stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    loop {
        if prompt {
            print!("> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else {
            return Ok(());
        };
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        turn(runtime, agent, &line, verbose).await?;
    }
}

/// One turn: text to stdout as it arrives, other events to stderr when verbose.
async fn turn(
    runtime: &PluginRuntime,
    agent: AgentId,
    message: &str,
    verbose: bool,
) -> anyhow::Result<()> {
    let handle = runtime.chat(agent, &Content::text(message)).await?;
    let mut events = handle.events();
    let mut stdout = std::io::stdout();
    while let Some(event) = events.next().await {
        match event {
            ChatEvent::Text(chunk) => {
                stdout.write_all(chunk.as_bytes())?;
                stdout.flush()?;
            }
            ChatEvent::Thought(text) if verbose => eprintln!("[thought] {text}"),
            ChatEvent::ToolCall(call) if verbose => {
                eprintln!("[tool call] {} {} {}", call.id, call.name, call.args)
            }
            ChatEvent::Step(step) if verbose => {
                eprintln!("[step {}] {}", step.index, step.description)
            }
            _ => {}
        }
    }
    let result = handle.text().await;
    writeln!(stdout)?;
    let result = result?;
    if verbose {
        eprintln!("[usage] {}", usage_line(&result.usage));
        if let Some(output) = &result.structured_output {
            eprintln!("[structured output] {output}");
        }
    }
    Ok(())
}

/// `prompt 9, candidates 10, total 19 tokens`: the counts the backend reported.
fn usage_line(usage: &agent_plugin_api::UsageMetadata) -> String {
    let counts = [
        ("prompt", usage.prompt_token_count),
        ("cached", usage.cached_content_token_count),
        ("candidates", usage.candidates_token_count),
        ("thoughts", usage.thoughts_token_count),
        ("total", usage.total_token_count),
    ];
    let reported: Vec<String> = counts
        .iter()
        .filter_map(|(name, count)| count.map(|count| format!("{name} {count}")))
        .collect();
    if reported.is_empty() {
        "not reported".to_owned()
    } else {
        format!("{} tokens", reported.join(", "))
    }
}
