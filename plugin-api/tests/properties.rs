//! Property tests: whatever crosses the ABI comes back unchanged.
//!
//! A small kit backend ([`Echo`]) answers with what it received, and
//! [`PluginRuntime::in_process`] forces every call down the foreign path (FFI types,
//! vtables, the batched event stream), so arbitrary contents (any unicode, media with
//! any bytes and mime type, nested multi-part), agent configs and sequences of chat
//! events are checked for equality after the round trip. Each case runs under a
//! timeout: a hang fails the case instead of the suite.

use std::future::Future;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::plugin::{async_trait, AgentBackend, AgentRuntime, NoOptions, Turn};
use agent_plugin_api::types::{
    AgentConfig, ChatEvent, ChatResult, Content, ConversationMessage, Error, Media, Role, Step,
    ToolCall, ToolDefinition, UsageMetadata,
};
use agent_plugin_api::Runtime;
use futures::StreamExt;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How long one case may take before it counts as a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(10);

/// Model names that pick what the echo backend answers.
const ECHO_CONTENT: &str = "content";
const ECHO_EVENTS: &str = "events";
const ECHO_ERROR: &str = "error";
const ECHO_CONFIG_PREFIX: &str = "config:";

/// What an `events` agent is asked to play: the events in order, then the structured
/// output. It travels as the JSON text of the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Script {
    events: Vec<ChatEvent>,
    /// Absent for `None`, so that `Some(Value::Null)` survives the trip.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    structured_output: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(value).map(Some)
}

/// An [`Error`] as data, so that it can travel as the text of a message (the error
/// type itself is not `Serialize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum ErrorSpec {
    AgentNotStarted(u64),
    Backend(String),
    Connection(String),
    Quota {
        retry_after: Option<Duration>,
        message: String,
    },
    ChannelClosed,
    ConnectionClosed,
    Timeout {
        duration: Duration,
        operation: String,
    },
    Stream(String),
    InvalidConfig(String),
    Io(String),
    Cancelled,
}

impl ErrorSpec {
    fn error(&self) -> Error {
        match self.clone() {
            ErrorSpec::AgentNotStarted(agent) => Error::AgentNotStarted(agent),
            ErrorSpec::Backend(message) => Error::BackendError(message),
            ErrorSpec::Connection(message) => Error::ConnectionError(message),
            ErrorSpec::Quota {
                retry_after,
                message,
            } => Error::QuotaExceeded {
                retry_after,
                message,
            },
            ErrorSpec::ChannelClosed => Error::ChannelClosed,
            ErrorSpec::ConnectionClosed => Error::ConnectionClosed,
            ErrorSpec::Timeout {
                duration,
                operation,
            } => Error::Timeout {
                duration,
                operation,
            },
            ErrorSpec::Stream(message) => Error::Stream(message),
            ErrorSpec::InvalidConfig(message) => Error::InvalidConfig(message),
            ErrorSpec::Io(message) => Error::Io(message),
            ErrorSpec::Cancelled => Error::Cancelled,
        }
    }
}

/// Answers with what it received: the content as JSON (model `content`), the agent's
/// config as JSON (`config:...`), the events of a [`Script`] (`events`), or fails with
/// the error of an [`ErrorSpec`] after a first chunk (`error`).
struct Echo;

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

#[async_trait]
impl AgentBackend for Echo {
    const NAME: &'static str = "echo";
    const VERSION: &'static str = "0.0.0";
    type Options = NoOptions;
    type Agent = AgentConfig;

    fn new(_: NoOptions) -> Result<Self, Error> {
        Ok(Echo)
    }

    fn create_agent(&self, config: &AgentConfig) -> Result<AgentConfig, Error> {
        Ok(config.clone())
    }

    async fn chat(
        &self,
        config: &AgentConfig,
        content: &Content,
        turn: &mut Turn,
    ) -> Result<(), Error> {
        if config.model.starts_with(ECHO_CONFIG_PREFIX) {
            return turn.text(to_json(config));
        }
        if config.model == ECHO_CONTENT {
            return turn.text(to_json(content));
        }
        let Content::Text(text) = content else {
            return Err(Error::BackendError("a script is text".into()));
        };
        if config.model == ECHO_ERROR {
            let spec: ErrorSpec = serde_json::from_str(text)
                .map_err(|error| Error::BackendError(format!("bad error spec: {error}")))?;
            turn.text("before the error")?;
            return Err(spec.error());
        }
        let script: Script = serde_json::from_str(text)
            .map_err(|error| Error::BackendError(format!("bad script: {error}")))?;
        for event in script.events {
            match event {
                ChatEvent::Text(text) => turn.text(text)?,
                ChatEvent::Thought(text) => turn.thought(text)?,
                ChatEvent::ToolCall(call) => turn.tool_call(call)?,
                ChatEvent::Step(step) => turn.step(step.index, step.description)?,
                ChatEvent::Usage(usage) => turn.usage(usage)?,
                other => return Err(Error::BackendError(format!("unscripted: {other:?}"))),
            }
        }
        if let Some(output) = script.structured_output {
            turn.set_structured_output(output);
        }
        Ok(())
    }
}

fn runtime() -> &'static PluginRuntime {
    static RUNTIME: OnceLock<PluginRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        PluginRuntime::in_process("echo", AgentRuntime::new(Echo)).expect("the echo runtime")
    })
}

/// Runs one case on the host's side of the ABI, failing it if it takes too long.
fn run_case<T>(case: impl Future<Output = T>) -> T {
    static HOST: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let host = HOST.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the host's tokio runtime")
    });
    host.block_on(async {
        tokio::time::timeout(CASE_TIMEOUT, case)
            .await
            .unwrap_or_else(|_| panic!("the case hung for {CASE_TIMEOUT:?}"))
    })
}

/// One turn on a fresh agent: its events, its result, and the agent's history after.
async fn one_turn(
    config: AgentConfig,
    content: &Content,
) -> (Vec<ChatEvent>, ChatResult, Vec<ConversationMessage>) {
    let runtime = runtime();
    let agent = runtime.create_agent(config).await.expect("create_agent");
    let handle = runtime.chat(agent, content).await.expect("chat");
    let events: Vec<ChatEvent> = handle.events().collect().await;
    let result = handle.text().await.expect("the turn");
    drop(handle);
    let history = runtime.history(agent).await.expect("history");
    runtime.shutdown_agent(agent).await.expect("shutdown_agent");
    (events, result, history)
}

// ---- strategies ----

/// Any unicode, including control characters, NUL and characters outside the BMP.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..48).prop_map(String::from_iter)
}

/// Text with at least one character that is not whitespace.
fn name() -> impl Strategy<Value = String> {
    (text(), text()).prop_map(|(before, after)| format!("{before}n{after}"))
}

fn media() -> impl Strategy<Value = Media> {
    (
        prop::collection::vec(any::<u8>(), 0..512),
        text(),
        prop::option::of(text()),
    )
        .prop_map(|(data, mime_type, description)| Media {
            data,
            mime_type,
            description,
        })
}

fn content() -> impl Strategy<Value = Content> {
    let leaf = prop_oneof![
        text().prop_map(Content::Text),
        media().prop_map(Content::Image),
        media().prop_map(Content::Document),
        media().prop_map(Content::Audio),
        media().prop_map(Content::Video),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Content::Multi)
    })
}

/// Any JSON value (numbers: integers of both signs and finite floats).
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |number| number.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(text(), json(), 0..4)
        .prop_map(|map| Value::Object(map.into_iter().collect()))
}

/// A conversation id the kit accepts (it names a file).
fn conversation_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-][A-Za-z0-9._-]{0,30}"
}

/// A save_dir no other case uses (a case must not resume another's conversation),
/// inside a directory of this test process's own, never the working directory.
fn fresh_save_dir() -> PathBuf {
    static SAVES: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let saves = SAVES.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
    let case = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    saves.path().join(format!("case-{case}"))
}

/// An agent config the kit accepts (a model and tool names that are not blank, a schema
/// that is an object, a conversation id that can name a file, a save_dir in a temporary
/// directory), with everything else arbitrary.
fn agent_config() -> impl Strategy<Value = AgentConfig> {
    let tool =
        (name(), text(), json()).prop_map(|(name, description, parameter_schema)| ToolDefinition {
            name,
            description,
            parameter_schema,
        });
    (
        (text(), prop::option::of(text()), prop::option::of(text())),
        prop::collection::vec(tool, 0..3),
        prop::option::of(json_object()),
        (
            prop::option::of(conversation_id()),
            prop::option::of(Just(()).prop_map(|()| fresh_save_dir())),
            any::<u32>(),
        ),
        prop::collection::btree_map(text(), json(), 0..4),
    )
        .prop_map(
            |(
                (model, api_key, system_instructions),
                tools,
                response_schema,
                (conversation_id, save_dir, max_quota_retries),
                extras,
            )| AgentConfig {
                model: format!("{ECHO_CONFIG_PREFIX}{model}"),
                api_key,
                system_instructions,
                tools,
                response_schema,
                conversation_id,
                save_dir,
                max_quota_retries,
                extras: extras.into_iter().collect::<Map<String, Value>>(),
            },
        )
}

fn usage() -> impl Strategy<Value = UsageMetadata> {
    let count = || prop::option::of(any::<u32>());
    (count(), count(), count(), count(), count()).prop_map(
        |(prompt, cached, candidates, thoughts, total)| UsageMetadata {
            prompt_token_count: prompt,
            cached_content_token_count: cached,
            candidates_token_count: candidates,
            thoughts_token_count: thoughts,
            total_token_count: total,
        },
    )
}

fn chat_event() -> impl Strategy<Value = ChatEvent> {
    prop_oneof![
        3 => text().prop_map(ChatEvent::Text),
        1 => text().prop_map(ChatEvent::Thought),
        1 => (text(), text(), json())
            .prop_map(|(id, name, args)| ChatEvent::ToolCall(ToolCall::new(id, name, args))),
        1 => (any::<u32>(), text())
            .prop_map(|(index, description)| ChatEvent::Step(Step::new(index, description))),
        1 => usage().prop_map(ChatEvent::Usage),
    ]
}

fn script() -> impl Strategy<Value = Script> {
    (
        prop::collection::vec(chat_event(), 0..24),
        prop::option::of(json()),
    )
        .prop_map(|(events, structured_output)| Script {
            events,
            structured_output,
        })
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(secs, nanos)| Duration::new(secs, nanos)),
        (0..10_000u64).prop_map(Duration::from_millis),
        Just(Duration::MAX),
        Just(Duration::ZERO),
    ]
}

fn error_spec() -> impl Strategy<Value = ErrorSpec> {
    prop_oneof![
        any::<u64>().prop_map(ErrorSpec::AgentNotStarted),
        text().prop_map(ErrorSpec::Backend),
        text().prop_map(ErrorSpec::Connection),
        (prop::option::of(duration()), text()).prop_map(|(retry_after, message)| {
            ErrorSpec::Quota {
                retry_after,
                message,
            }
        }),
        Just(ErrorSpec::ChannelClosed),
        Just(ErrorSpec::ConnectionClosed),
        (duration(), text()).prop_map(|(duration, operation)| ErrorSpec::Timeout {
            duration,
            operation,
        }),
        text().prop_map(ErrorSpec::Stream),
        text().prop_map(ErrorSpec::InvalidConfig),
        text().prop_map(ErrorSpec::Io),
        Just(ErrorSpec::Cancelled),
    ]
}

// ---- properties ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The plugin receives the content the host sent (its JSON comes back as the
    /// answer), and the history the host reads back holds the same content.
    #[test]
    fn content_crosses_unchanged(content in content()) {
        let config = AgentConfig::builder(ECHO_CONTENT).build();
        let (_, result, history) = run_case(one_turn(config, &content));
        let received: Content = serde_json::from_str(&result.text).expect("the echo is JSON");
        prop_assert_eq!(&received, &content);
        prop_assert_eq!(history.len(), 2);
        prop_assert_eq!(&history[0].role, &Role::User);
        prop_assert_eq!(&history[0].content, &content);
    }

    /// The plugin's agent is built from the config the host sent.
    #[test]
    fn agent_config_crosses_unchanged(config in agent_config()) {
        let (_, result, _) = run_case(one_turn(config.clone(), &"config?".into()));
        let received: AgentConfig = serde_json::from_str(&result.text).expect("the echo is JSON");
        prop_assert_eq!(received, config);
    }

    /// A turn that fails ends, on the host's side, with the very error the plugin
    /// returned, after the text it wrote before.
    #[test]
    fn errors_cross_unchanged(spec in error_spec()) {
        let runtime = runtime();
        let message = Content::Text(to_json(&spec));
        let (chunks, ending) = run_case(async {
            let agent = runtime
                .create_agent(AgentConfig::builder(ECHO_ERROR).build())
                .await
                .expect("create_agent");
            let handle = runtime.chat(agent, &message).await.expect("chat");
            let chunks: Vec<String> = handle.text_stream().collect().await;
            let ending = handle.text().await;
            drop(handle);
            runtime.shutdown_agent(agent).await.expect("shutdown_agent");
            (chunks, ending)
        });
        prop_assert_eq!(chunks, vec!["before the error".to_owned()]);
        prop_assert_eq!(ending, Err(spec.error()));
    }

    /// Every event the plugin writes arrives in order and unchanged; the result's text
    /// is the text events joined, its usage the last usage event, and the structured
    /// output the one the plugin set.
    #[test]
    fn chat_events_cross_unchanged(script in script()) {
        let config = AgentConfig::builder(ECHO_EVENTS).build();
        let message = Content::Text(to_json(&script));
        let (events, result, _) = run_case(one_turn(config, &message));
        prop_assert_eq!(&events, &script.events);
        let text: String = script
            .events
            .iter()
            .filter_map(|event| match event {
                ChatEvent::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let usage = script
            .events
            .iter()
            .filter_map(|event| match event {
                ChatEvent::Usage(usage) => Some(*usage),
                _ => None,
            })
            .next_back()
            .unwrap_or_default();
        prop_assert_eq!(result.text, text);
        prop_assert_eq!(result.usage, usage);
        prop_assert_eq!(result.structured_output, script.structured_output);
    }
}
