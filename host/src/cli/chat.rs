use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use agent_host::Host;
use agent_plugin_api::types::{AgentConfig, AgentId, ChatEvent, Content, Tools};
use agent_plugin_api::Runtime;
use anyhow::Context as _;
use futures::StreamExt;

use super::backend_args::BackendArgs;
use super::conversation;
use super::signals::{Caught, Signal, Signals};
use super::stdin_lines::{LineError, Lines};
use super::stdout::{Output, StdoutError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    backend: BackendArgs,
    /// The model name handed to the agent.
    #[arg(long, default_value = "default")]
    model: String,
    /// System instructions for the agent.
    #[arg(long)]
    system: Option<String>,
    /// A per-agent setting for the backend (`AgentConfig.extras`), `key=value` (value
    /// typed like TOML); repeatable.
    #[arg(long = "extra", value_name = "KEY=VALUE")]
    extras: Vec<String>,
    /// A JSON Schema file the answer must follow; the structured answer is printed on
    /// stdout after the text, as one line of JSON.
    #[arg(long, value_name = "FILE")]
    response_schema: Option<std::path::PathBuf>,
    /// Tools this process offers the agent: `demo` (`clock`, `calculator`).
    #[arg(long, value_name = "SET")]
    tools: Option<String>,
    /// How many times a turn refused for quota (HTTP 429) is tried again, each after the
    /// wait the server asked for (`AgentConfig.max_quota_retries`).
    #[arg(long, value_name = "N", default_value_t = 2)]
    max_quota_retries: u32,
    /// Save the conversation in this directory, one file per conversation, so that a
    /// later run can go on with it (`--conversation`). Each completed turn is on disk
    /// before its answer ends.
    #[arg(long, value_name = "DIR")]
    save_dir: Option<std::path::PathBuf>,
    /// The conversation to go on with, or to start under this id (letters, digits, `.`,
    /// `_`, `-`); without it, a new one gets an id, printed on stderr.
    #[arg(long, value_name = "ID", requires = "save_dir")]
    conversation: Option<String>,
    /// Print the saved conversation (the user's messages after `> `) and exit.
    #[arg(long, requires = "conversation", conflicts_with = "message")]
    history: bool,
    /// Also print thoughts, tool calls and results, steps and usage (to stderr).
    #[arg(long, short)]
    verbose: bool,
    /// The message; without it, read one message per line from stdin.
    message: Option<String>,
}

/// How long a session that a signal ended waits for the backend to shut the agent down.
const SHUTDOWN_AFTER_SIGNAL: Duration = Duration::from_secs(1);

pub async fn run(host: &Host, args: Args, signals: &mut Signals) -> anyhow::Result<ExitCode> {
    let backend = args.backend.name(host)?;
    let runtime = host
        .start_runtime(&backend, args.backend.overrides()?)
        .await?;
    let runtime = runtime.as_ref();
    let (config, tools) = agent_config(&args)?;
    let agent = runtime
        .create_agent_with_tools(config, tools)
        .await
        .with_context(|| format!("backend {backend:?}: create_agent"))?;
    if let Some(dir) = &args.save_dir {
        conversation::announce(runtime, agent, &backend, dir).await;
        if args.history {
            let shown = conversation::print_history(runtime, agent).await;
            let _ = runtime.shutdown_agent(agent).await;
            shown.with_context(|| format!("backend {backend:?}: history"))?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mut session = Session {
        runtime,
        agent,
        backend: &backend,
        verbose: args.verbose,
        structured: args.response_schema.is_some(),
        output: Output::new(),
    };
    let mut caught = signals.catch();
    let outcome = match &args.message {
        Some(message) => session.one_shot(message, &mut caught).await,
        None => session.interactive(&mut caught).await,
    };
    // From here on a signal ends the process at once.
    drop(caught);
    let shutdown = runtime.shutdown_agent(agent);
    if matches!(outcome, Ok(End::Signalled(_))) {
        let _ = tokio::time::timeout(SHUTDOWN_AFTER_SIGNAL, shutdown).await;
    } else {
        let _ = shutdown.await;
    }
    match outcome? {
        End::Done { failures: 0 } => Ok(ExitCode::SUCCESS),
        End::Done { .. } => Ok(ExitCode::FAILURE),
        End::Signalled(signal) => Ok(ExitCode::from(signal.exit_code())),
    }
}

/// The agent's config and tools, from the command line.
fn agent_config(args: &Args) -> anyhow::Result<(AgentConfig, Tools)> {
    let mut config = AgentConfig::builder(&args.model).max_quota_retries(args.max_quota_retries);
    if let Some(dir) = &args.save_dir {
        config = config.save_dir(dir);
    }
    if let Some(id) = &args.conversation {
        config = config.conversation_id(id);
    }
    if let Some(system) = &args.system {
        config = config.system_instructions(system);
    }
    for extra in &args.extras {
        let (key, value) = agent_host::parse_option(extra)
            .map_err(|error| anyhow::anyhow!("--extra: {}", error.trim_start_matches("option ")))?;
        config = config.extra(key, value);
    }
    if let Some(path) = &args.response_schema {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--response-schema {}", path.display()))?;
        let schema: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("--response-schema {}: not JSON", path.display()))?;
        config = config.response_schema(schema);
    }
    let mut tools = Tools::new();
    if let Some(set) = &args.tools {
        let (declarations, handlers) = super::demo_tools::set(set).map_err(anyhow::Error::msg)?;
        for declaration in declarations {
            config = config.tool(declaration);
        }
        tools = handlers;
    }
    Ok((config.build(), tools))
}

/// How a chat session ended, short of an error that ends the command.
enum End {
    /// Input ran out; `failures` turns failed (each reported on stderr).
    Done { failures: u64 },
    /// A signal ended it.
    Signalled(Signal),
}

/// How one turn ended.
enum TurnEnd {
    Answered,
    Failed(agent_plugin_api::types::Error),
    /// Cancelled by a signal, the partial answer left on stdout.
    Interrupted(Signal),
}

/// One agent of one backend, talking through stdout.
struct Session<'a> {
    runtime: &'a dyn Runtime,
    agent: AgentId,
    backend: &'a str,
    verbose: bool,
    /// Print the structured answer on stdout, after the text (`--response-schema`).
    structured: bool,
    output: Output,
}

impl Session<'_> {
    /// `chat MESSAGE`: one turn; a failed turn is the command's error.
    async fn one_shot(&mut self, message: &str, signals: &mut Caught<'_>) -> anyhow::Result<End> {
        match self.turn(message, signals).await? {
            TurnEnd::Answered => Ok(End::Done { failures: 0 }),
            TurnEnd::Failed(error) => Err(self.backend_error(error)),
            TurnEnd::Interrupted(signal) => Ok(End::Signalled(signal)),
        }
    }

    /// `chat`: one turn per line of stdin until its end. A failed turn or a line that is
    /// not UTF-8 is reported on stderr and the next line is read. Ctrl-C cancels the
    /// running turn, or at the prompt abandons the line; SIGTERM ends the session.
    async fn interactive(&mut self, signals: &mut Caught<'_>) -> anyhow::Result<End> {
        let prompt = std::io::stdin().is_terminal();
        let mut lines = Lines::from_stdin().context("cannot read stdin")?;
        let mut failures = 0;
        loop {
            if prompt {
                self.output.prompt("> ")?;
            }
            let line = tokio::select! {
                line = lines.next() => line,
                signal = signals.next() => match signal {
                    Signal::Interrupt => {
                        if prompt {
                            self.output.newline()?;
                        }
                        signals.handled();
                        continue;
                    }
                    Signal::Terminate => return Ok(End::Signalled(signal)),
                },
            };
            let Some(line) = line else {
                return Ok(End::Done { failures });
            };
            let text = match line.text {
                Ok(text) => text,
                Err(error @ LineError::NotUtf8(_)) => {
                    eprintln!("agent-host: {error}");
                    failures += 1;
                    continue;
                }
                Err(error @ LineError::Read(_)) => return Err(error.into()),
            };
            if text.trim().is_empty() {
                continue;
            }
            match self.turn(&text, signals).await? {
                TurnEnd::Answered => {}
                TurnEnd::Failed(error) => {
                    eprintln!(
                        "agent-host: stdin line {}: {:#}",
                        line.number,
                        self.backend_error(error)
                    );
                    failures += 1;
                }
                TurnEnd::Interrupted(Signal::Interrupt) => signals.handled(),
                TurnEnd::Interrupted(signal) => return Ok(End::Signalled(signal)),
            }
        }
    }

    fn backend_error(&self, error: agent_plugin_api::types::Error) -> anyhow::Error {
        anyhow::Error::new(error).context(format!("backend {:?}", self.backend))
    }

    /// One turn: text to stdout as it arrives, other events to stderr when verbose.
    /// A signal cancels it, leaving the partial answer and a newline.
    async fn turn(
        &mut self,
        message: &str,
        signals: &mut Caught<'_>,
    ) -> Result<TurnEnd, StdoutError> {
        let content = Content::text(message);
        let started = tokio::select! {
            started = self.runtime.chat(self.agent, &content) => started,
            signal = signals.next() => return self.interrupted(signal),
        };
        let handle = match started {
            Ok(handle) => handle,
            Err(error) => return Ok(TurnEnd::Failed(error)),
        };
        let mut events = handle.events();
        loop {
            let event = tokio::select! {
                event = events.next() => event,
                signal = signals.next() => {
                    handle.cancel();
                    return self.interrupted(signal);
                }
            };
            match event {
                Some(event) => self.show(event)?,
                None => break,
            }
        }
        match handle.text().await {
            Ok(result) => {
                self.output.newline()?;
                if self.verbose {
                    eprintln!("[usage] {}", usage_line(&result.usage));
                }
                if let Some(output) = &result.structured_output {
                    if self.structured {
                        self.output.text(&output.to_string())?;
                        self.output.newline()?;
                    } else if self.verbose {
                        eprintln!("[structured output] {output}");
                    }
                }
                Ok(TurnEnd::Answered)
            }
            Err(error) => {
                self.output.end_line()?;
                Ok(TurnEnd::Failed(error))
            }
        }
    }

    fn interrupted(&mut self, signal: Signal) -> Result<TurnEnd, StdoutError> {
        self.output.newline()?;
        Ok(TurnEnd::Interrupted(signal))
    }

    fn show(&mut self, event: ChatEvent) -> Result<(), StdoutError> {
        match event {
            ChatEvent::Text(chunk) => self.output.text(&chunk)?,
            ChatEvent::Thought(text) if self.verbose => eprintln!("[thought] {text}"),
            ChatEvent::ToolCall(call) if self.verbose => {
                eprintln!("[tool call] {} {} {}", call.id, call.name, call.args)
            }
            ChatEvent::ToolResult(result) if self.verbose => match &result.output {
                Ok(value) => eprintln!("[tool result] {} {} {value}", result.id, result.name),
                Err(error) => eprintln!("[tool error] {} {} {error}", result.id, result.name),
            },
            ChatEvent::Step(step) if self.verbose => {
                eprintln!("[step {}] {}", step.index, step.description)
            }
            _ => {}
        }
        Ok(())
    }
}

/// `prompt 9, candidates 10, total 19 tokens`: the counts the backend reported.
fn usage_line(usage: &agent_plugin_api::types::UsageMetadata) -> String {
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
