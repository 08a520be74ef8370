//! The mock's turns: what it answers and the events it streams, on the plugin-api kit.

use std::time::Duration;

use agent_plugin_api::plugin::{async_trait, consume_budget, AgentBackend, AgentRuntime, Turn};
use agent_plugin_api::types::{AgentConfig, BackoffPolicy, Content, Error};

use crate::options::{AgentSettings, MockOptions};
use crate::{reply, tool_calls};

/// The mock as a complete `Runtime` and `Plugin`: the kit's agents, the mock's turns.
pub type MockRuntime = AgentRuntime<MockBackend>;

/// A deterministic backend: answers by echo or script, streams in chunks, and can be
/// told to fail, hit quotas and compact, so every `Runtime` path can be exercised.
#[derive(Debug)]
pub struct MockBackend {
    options: MockOptions,
}

impl MockBackend {
    pub fn options(&self) -> &MockOptions {
        &self.options
    }

    /// The configured failures: a quota error every `quota_every` turns (recorded in the
    /// runtime's registry too), and a backend error on the trigger word.
    fn check_failures(&self, user_text: &str, turn: &Turn) -> Result<(), Error> {
        let options = &self.options;
        let quota_every = u64::from(options.quota_every);
        if quota_every > 0 && turn.number() % quota_every == 0 {
            let retry_after = options.quota_retry_after();
            turn.record_quota_hit(retry_after);
            return Err(Error::QuotaExceeded {
                retry_after: Some(retry_after),
                message: format!(
                    "mock: turn {} hit the quota (quota_every = {quota_every})",
                    turn.number()
                ),
            });
        }
        if !options.fail_on.is_empty() && user_text.contains(&options.fail_on) {
            return Err(Error::BackendError(format!(
                "mock: the message contains the trigger word {}",
                options.fail_on
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl AgentBackend for MockBackend {
    const NAME: &'static str = "mock";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "A deterministic backend for tests and demos: echoes or scripted answers, streamed in chunks";

    type Options = MockOptions;
    type Agent = AgentSettings;

    fn new(options: MockOptions) -> Result<Self, Error> {
        options.validate()?;
        Ok(MockBackend { options })
    }

    fn create_agent(&self, config: &AgentConfig) -> Result<AgentSettings, Error> {
        let settings = AgentSettings::resolve(&self.options, config)?;
        tracing::info!(model = %config.model, "mock agent created");
        Ok(settings)
    }

    /// Events, in order: step 0, thought, tool calls (and their results), step 1, text
    /// chunks, usage.
    async fn chat(
        &self,
        settings: &AgentSettings,
        content: &Content,
        turn: &mut Turn,
    ) -> Result<(), Error> {
        let options = &self.options;
        let number = turn.number();
        let user_text = reply::user_text(content);
        turn.step(0, "received")?;
        self.check_failures(&user_text, turn)?;

        let thought = options.thoughts.then(|| reply::thought_for(&user_text));
        if let Some(thought) = &thought {
            turn.thought(thought.as_str())?;
        }
        let requests = tool_calls::requests(&user_text, &settings.tool_arguments);
        let tool_answer = if requests.is_empty() {
            if let Some(call) = reply::detect_tool_call(&user_text, &settings.tools, number) {
                turn.tool_call(call)?;
            }
            None
        } else {
            Some(tool_calls::answer(turn, &requests).await)
        };
        turn.step(1, "answering")?;

        // The answer streams straight from the message: no copy of it is made here.
        let answer = match &tool_answer {
            Some(text) => reply::Answer {
                prefix: "",
                body: std::borrow::Cow::Borrowed(text),
            },
            None => {
                reply::compose_answer(content, &user_text, options.scripted_replies(), number - 1)
            }
        };
        let chunks = reply::chunks(answer.parts(), settings.chunk_chars);
        for (index, chunk) in chunks.enumerate() {
            if index > 0 {
                pause(settings.chunk_delay).await;
            }
            turn.text(chunk)?;
        }

        let words = answer.word_count();
        turn.usage(reply::usage_for(&user_text, words, thought.as_deref()))?;
        if let Some(schema) = &settings.response_schema {
            let output = reply::structured_output(schema, turn.text_so_far(), number);
            turn.set_structured_output(output);
        }
        let compact_every = options.compact_every;
        if compact_every > 0 && (turn.completed_turns() + 1) % compact_every == 0 {
            turn.compact();
        }
        Ok(())
    }

    fn quota_key(&self) -> &str {
        &self.options.api_key
    }

    fn backoff_policy(&self) -> BackoffPolicy {
        self.options.backoff_policy()
    }
}

/// The pause between chunks. With no delay the turn still lets other tasks run, but
/// only when its share of the scheduler's budget is spent: a forced yield per chunk sent
/// the worker through the IO driver (a system call) between every two chunks, which was
/// most of a short turn's time. The kit's budget also ends a long answer's start on the
/// caller's thread, so the rest streams from the plugin's threads.
async fn pause(delay: Duration) {
    if delay.is_zero() {
        consume_budget().await;
    } else {
        tokio::time::sleep(delay).await;
    }
}
