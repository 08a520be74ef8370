//! The backend on the kit: one turn is one or more model rounds (a round that asks for
//! tools runs them through the host and sends their results back), each a streamed
//! chat-completions request with retries.

use std::time::Duration;

use agent_plugin_api::plugin::{async_trait, AgentBackend, AgentRuntime, Turn};
use agent_plugin_api::types::{AgentConfig, Content, Error, UsageMetadata};
use futures::StreamExt;
use serde_json::Value;

use crate::http::{self, Failure};
use crate::options::OpenAiOptions;
use crate::request::{self, AgentSettings, RoundMessages};
use crate::round::Round;
use crate::sse::{SseDecoder, SseEvent};

/// The plugin's runtime: the kit around [`OpenAiBackend`].
pub type OpenAiRuntime = AgentRuntime<OpenAiBackend>;

/// Environment variable read for the key when neither the options nor the agent give one.
pub const OPENAI_API_KEY_ENV: &str = "OPENAI_API_KEY";

pub struct OpenAiBackend {
    options: OpenAiOptions,
    client: reqwest::Client,
    quota_key: String,
}

pub struct Agent {
    settings: AgentSettings,
}

#[async_trait]
impl AgentBackend for OpenAiBackend {
    const NAME: &'static str = "openai";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp, Ollama, LiteLLM), streamed";
    const OPTIONS_HELP: &'static str = "The key: option api_key, else the agent's api_key, \
        else $OPENAI_API_KEY, else $AGENT_API_KEY. Per agent, extras go into the request \
        body (temperature, top_p, max_tokens, ...).";
    type Options = OpenAiOptions;
    type Agent = Agent;

    fn new(options: OpenAiOptions) -> Result<Self, Error> {
        options.validate()?;
        // One process-wide TLS provider; a second install (another runtime) is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout())
            .build()
            .map_err(|error| {
                Error::InvalidConfig(format!("cannot build the HTTP client: {error}"))
            })?;
        let quota_key = format!("openai {}", options.base_url.trim_end_matches('/'));
        Ok(OpenAiBackend {
            options,
            client,
            quota_key,
        })
    }

    fn create_agent(&self, config: &AgentConfig) -> Result<Agent, Error> {
        let settings = AgentSettings::from_config(config).map_err(Error::InvalidConfig)?;
        Ok(Agent { settings })
    }

    async fn chat(&self, agent: &Agent, content: &Content, turn: &mut Turn) -> Result<(), Error> {
        let history = turn.history();
        let mut round_messages = RoundMessages::default();
        let mut usage = UsageMetadata::default();
        for _ in 0..self.options.max_tool_rounds {
            let body = request::body(&agent.settings, &history, content, &round_messages);
            let round = self.round(agent, &body, turn).await?;
            if let Some(round_usage) = round.usage {
                usage += round_usage;
            }
            let calls: Vec<_> = round
                .calls
                .iter()
                .filter(|call| !call.name.is_empty())
                .cloned()
                .collect();
            if calls.is_empty() {
                if agent.settings.response_schema.is_some() {
                    let parsed: Value = serde_json::from_str(round.text.trim()).map_err(|error| {
                        Error::BackendError(format!(
                            "the model's answer is not the JSON its response_schema asks for: {error}"
                        ))
                    })?;
                    turn.set_structured_output(parsed);
                }
                return turn.usage(usage);
            }
            let described: Vec<(String, String, String)> = calls
                .iter()
                .map(|call| (call.id.clone(), call.name.clone(), call.arguments.clone()))
                .collect();
            round_messages.push_calls(&round.text, &described);
            // Every call of the round at once; the kit streams each call and its result.
            let answers = futures::future::join_all(calls.iter().map(|call| {
                let args = serde_json::from_str(&call.arguments)
                    .unwrap_or_else(|_| Value::String(call.arguments.clone()));
                turn.call_tool(&call.name, args)
            }))
            .await;
            for (call, answer) in calls.iter().zip(answers) {
                round_messages.push_result(&call.id, &request::output_text(&answer));
            }
        }
        Err(Error::BackendError(format!(
            "the model still asked for tools after {} rounds (option max_tool_rounds)",
            self.options.max_tool_rounds
        )))
    }

    fn quota_key(&self) -> &str {
        &self.quota_key
    }
}

impl OpenAiBackend {
    /// One model round, retried: a 429 waits out its backoff (up to the agent's
    /// `max_quota_retries` times), a 5xx or a dropped connection tries again with a
    /// jittered backoff (up to `max_attempts` tries). Once text has streamed, a failure
    /// is the turn's: streamed text cannot be taken back.
    async fn round(&self, agent: &Agent, body: &Value, turn: &mut Turn) -> Result<Round, Error> {
        let mut quota_retries = 0;
        let mut attempt = 0;
        loop {
            turn.wait_for_quota().await;
            attempt += 1;
            let failure = match self.send(agent, body).await {
                Ok(response) => return self.read_stream(response, turn).await,
                Err(failure) => failure,
            };
            match failure {
                Failure::Quota {
                    retry_after,
                    message,
                } => {
                    turn.record_quota_hit(retry_after.unwrap_or(Duration::ZERO));
                    if quota_retries < agent.settings.max_quota_retries {
                        quota_retries += 1;
                        tracing::debug!(?retry_after, quota_retries, "quota: waiting, then again");
                        continue;
                    }
                    return Err(Error::QuotaExceeded {
                        retry_after,
                        message,
                    });
                }
                Failure::Retryable(error) if attempt < self.options.max_attempts => {
                    let wait = retry_wait(attempt);
                    tracing::debug!(%error, ?wait, attempt, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Failure::Retryable(error) | Failure::Final(error) => return Err(error),
            }
        }
    }

    /// Sends the request; `Ok` is a 2xx whose stream is about to come.
    async fn send(&self, agent: &Agent, body: &Value) -> Result<reqwest::Response, Failure> {
        let url = self.options.completions_url();
        let mut request = self.client.post(&url).json(body);
        if let Some(key) = self.api_key(agent) {
            request = request.bearer_auth(key);
        }
        if let Some(organization) = &self.options.organization {
            request = request.header("OpenAI-Organization", organization);
        }
        for (name, value) in &self.options.headers {
            request = request.header(name, value);
        }
        let timeout = self.options.first_byte_timeout();
        let response = match tokio::time::timeout(timeout, request.send()).await {
            Err(_) => {
                return Err(Failure::Retryable(Error::Timeout {
                    duration: timeout,
                    operation: format!("the first byte from {url}"),
                }))
            }
            Ok(Err(error)) => return Err(http::transport(&error)),
            Ok(Ok(response)) => response,
        };
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(http::classify(response).await)
        }
    }

    /// Streams the answer into the turn: text as it comes, reasoning as thoughts.
    async fn read_stream(
        &self,
        response: reqwest::Response,
        turn: &mut Turn,
    ) -> Result<Round, Error> {
        let mut bytes = response.bytes_stream();
        let mut decoder = SseDecoder::default();
        let mut round = Round::default();
        let timeout = self.options.chunk_timeout();
        loop {
            let next = tokio::time::timeout(timeout, bytes.next())
                .await
                .map_err(|_| Error::Timeout {
                    duration: timeout,
                    operation: "the next streamed chunk".to_owned(),
                })?;
            let piece = match next {
                None => {
                    return Err(Error::ConnectionClosed);
                }
                Some(Err(error)) => {
                    return Err(Error::ConnectionError(format!(
                        "the stream broke off: {error}"
                    )))
                }
                Some(Ok(piece)) => piece,
            };
            for event in decoder.feed(&piece).map_err(Error::Stream)? {
                let data = match event {
                    SseEvent::Done => return Ok(round),
                    SseEvent::Data(data) => data,
                };
                let chunk: Value = serde_json::from_str(&data).map_err(|error| {
                    Error::Stream(format!("a streamed chunk is not JSON: {error}"))
                })?;
                let delta = round.apply(&chunk)?;
                if let Some(reasoning) = delta.reasoning {
                    turn.thought(reasoning)?;
                }
                if let Some(text) = delta.text {
                    turn.text(text)?;
                }
            }
        }
    }

    fn api_key(&self, agent: &Agent) -> Option<String> {
        let from_env = |name: &str| std::env::var(name).ok();
        self.options
            .api_key
            .clone()
            .or_else(|| agent.settings.api_key.clone())
            .or_else(|| from_env(OPENAI_API_KEY_ENV))
            .or_else(|| from_env(agent_plugin_api::types::API_KEY_ENV))
            .filter(|key| !key.is_empty())
    }
}

/// 250 ms, 500 ms, 1 s, ... (at most 8 s), each within +-25 %.
fn retry_wait(attempt: u32) -> Duration {
    let base = 250.0 * 2f64.powi(attempt.saturating_sub(1).min(5) as i32);
    let jitter = 0.75 + fastrand::f64() * 0.5;
    Duration::from_millis((base.min(8_000.0) * jitter) as u64)
}
