use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use agent_host::Host;
use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::{AgentConfig, AgentId, ChatEvent, Content};
use agent_plugin_api::Runtime;
use anyhow::Context as _;
use futures::StreamExt;

use super::signals::{Caught, Signal, Signals};
use super::stdin_lines::{LineError, Lines};
use super::stdout::{Output, StdoutError};

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

/// How long a session that a signal ended waits for the backend to shut the agent down.
const SHUTDOWN_AFTER_SIGNAL: Duration = Duration::from_secs(1);

pub async fn run(host: &Host, args: Args, signals: &mut Signals) -> anyhow::Result<ExitCode> {
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
    let mut session = Session {
        runtime: &runtime,
        agent,
        backend: &backend,
        verbose: args.verbose,
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
    runtime: &'a PluginRuntime,
    agent: AgentId,
    backend: &'a str,
    verbose: bool,
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
                    if let Some(output) = &result.structured_output {
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
