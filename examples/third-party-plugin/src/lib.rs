//! `echo-plus`: an agent-host backend plugin, built on the kit of `agent-plugin-api`,
//! kept outside the workspace as a third party's crate is (CI builds it with its own
//! `cargo build` and drives it from the unmodified staged host).
//!
//! It is what `agent-host new-plugin echo-plus` writes, plus a little more: a thought
//! before each answer, token usage (a word is a token), a per-agent override of the
//! word delay (`extras.word_delay_ms`), and a wait for the quota backoff before each turn.
//! It answers every message by echoing it word by word, `word_delay_ms` apart, and
//! calls the application's tools when a line of the message reads `<tool>: <input>`.

use std::collections::BTreeMap;
use std::time::Duration;

use agent_plugin_api::plugin::{async_trait, AgentBackend, AgentRuntime, JsonSchema, Turn};
use agent_plugin_api::types::{AgentConfig, Content, Error, UsageMetadata};
use serde::Deserialize;
use serde_json::{json, Value};

/// The `[backends.echo-plus]` table (or `--option key=value`). The doc comments are the
/// help `agent-host inspect echo-plus` shows; unknown keys and wrong types are refused
/// by name before `new` runs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Options {
    /// Written before every answer.
    pub greeting: String,
    /// Pause before every word, so the answer streams.
    #[schemars(range(min = 0, max = 10_000))]
    pub word_delay_ms: u64,
    /// A message containing this text fails with a backend error; "" = never.
    pub fail_on: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            greeting: "echo:".to_owned(),
            word_delay_ms: 20,
            fail_on: "FAIL".to_owned(),
        }
    }
}

pub struct Backend {
    options: Options,
}

/// One agent: for each tool it declares, the argument a `<tool>: <input>` line fills, and
/// its own word delay.
pub struct Agent {
    tool_arguments: BTreeMap<String, String>,
    word_delay: Duration,
}

#[async_trait]
impl AgentBackend for Backend {
    const NAME: &'static str = "echo-plus";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Echoes each message word by word (a scaffold: replace it)";
    type Options = Options;
    type Agent = Agent;

    /// Runs inside the plugin's own tokio runtime: it may spawn, but must not block.
    fn new(options: Options) -> Result<Self, Error> {
        Ok(Backend { options })
    }

    fn create_agent(&self, config: &AgentConfig) -> Result<Agent, Error> {
        let tool_arguments = config
            .tools
            .iter()
            .map(|tool| {
                let properties = tool.parameter_schema.get("properties").and_then(Value::as_object);
                let argument = match properties {
                    Some(properties) if properties.len() == 1 => properties.keys().next().cloned(),
                    _ => None,
                };
                (tool.name.clone(), argument.unwrap_or_else(|| "input".to_owned()))
            })
            .collect();
        // Per agent: `extras.word_delay_ms`, refused by name when it is not a number in
        // the option's range.
        let word_delay_ms = match config.extras.get("word_delay_ms") {
            None => self.options.word_delay_ms,
            Some(value) => value
                .as_u64()
                .filter(|ms| *ms <= 10_000)
                .ok_or_else(|| {
                    Error::InvalidConfig(format!(
                        "extras.word_delay_ms must be an integer in 0..=10000, not {value}"
                    ))
                })?,
        };
        Ok(Agent {
            tool_arguments,
            word_delay: Duration::from_millis(word_delay_ms),
        })
    }

    /// One turn. Cancelling it drops this future, so it needs no checks of its own.
    async fn chat(&self, agent: &Agent, content: &Content, turn: &mut Turn) -> Result<(), Error> {
        // A backend that calls a rate-limited API waits out a backoff first.
        turn.wait_for_quota().await;
        let text = content.to_text();
        if !self.options.fail_on.is_empty() && text.contains(&self.options.fail_on) {
            return Err(Error::BackendError(format!(
                "the message contains {:?}",
                self.options.fail_on
            )));
        }
        let calls: Vec<(String, Value)> = text
            .lines()
            .filter_map(|line| {
                let (tool, input) = line.split_once(':')?;
                let argument = agent.tool_arguments.get(tool.trim())?;
                Some((tool.trim().to_owned(), json!({ argument: input.trim() })))
            })
            .collect();
        if !calls.is_empty() {
            // All at once; the kit streams each call and result and records them.
            let answers = futures::future::join_all(
                calls.iter().map(|(tool, args)| turn.call_tool(tool, args.clone())),
            )
            .await;
            for ((tool, _), answer) in calls.iter().zip(answers) {
                let shown = match answer {
                    Ok(Value::String(text)) => text,
                    Ok(value) => value.to_string(),
                    Err(error) => format!("error: {error}"),
                };
                turn.text(format!("{tool}: {shown}\n"))?;
            }
            return Ok(());
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        turn.thought(format!("echoing {} words", words.len()))?;
        turn.text(&self.options.greeting)?;
        for word in &words {
            tokio::time::sleep(agent.word_delay).await;
            turn.text(format!(" {word}"))?;
        }
        let count = u32::try_from(words.len()).unwrap_or(u32::MAX);
        turn.usage(UsageMetadata {
            prompt_token_count: Some(count),
            candidates_token_count: Some(count.saturating_add(1)),
            total_token_count: Some(count.saturating_mul(2).saturating_add(1)),
            ..UsageMetadata::default()
        })?;
        Ok(())
    }
}

agent_plugin_api::export_plugin!(AgentRuntime<Backend>);
