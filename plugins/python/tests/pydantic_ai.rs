//! The pydantic-ai example (examples/pydantic-ai) through the real plugin file: a real
//! `pydantic_ai.Agent` with a function tool, on pydantic-ai's offline models, its tool
//! calls, usage and history surfacing as agent-host's.
//!
//! `cargo xtask test` stages the plugin and makes the venv (`cargo xtask python-env`,
//! target/python-venv) first, and says where the venv is in `AGENT_HOST_PYTHON_VENV`.

mod common;

use std::path::PathBuf;

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatEvent, ChatResult, Content, ConversationMessage, Error, Role, Step,
    ToolCall, ToolDefinition, ToolError, ToolResult, Tools, UsageMetadata,
};
use agent_plugin_api::Runtime;
use futures::StreamExt;
use serde_json::json;

const AGENT: &str = "pydantic_agent:PydanticAgent";

use common::{staged_plugin as plugin, workspace};

/// The venv with pydantic-ai; a missing one fails the test, it never passes silently.
fn venv() -> PathBuf {
    let venv = std::env::var_os("AGENT_HOST_PYTHON_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/python-venv"));
    let package = venv
        .join("lib")
        .join(format!("python{}", env!("AGENT_PYTHON_VERSION")))
        .join("site-packages/pydantic_ai");
    assert!(
        package.is_dir(),
        "{} is missing: run `cargo xtask python-env` first (or `cargo xtask test`)",
        package.display()
    );
    venv
}

fn example_dir() -> PathBuf {
    workspace().join("examples/pydantic-ai")
}

fn runtime() -> PluginRuntime {
    plugin()
        .new_runtime(&json!({
            "agent": AGENT,
            "python_path": [example_dir()],
            "venv": venv(),
        }))
        .expect("the pydantic-ai example loads")
}

/// One turn, read through every stream the handle offers.
struct Turn {
    tool_calls: Vec<ToolCall>,
    steps: Vec<Step>,
    events: Vec<ChatEvent>,
    result: ChatResult,
}

async fn play(runtime: &PluginRuntime, agent: AgentId, text: &str) -> Turn {
    let handle = runtime.chat(agent, &Content::text(text)).await.unwrap();
    let tool_calls = handle.tool_calls();
    let steps = handle.steps();
    let events = handle.events();
    let result = handle.text().await.unwrap();
    Turn {
        tool_calls: tool_calls.collect().await,
        steps: steps.collect().await,
        events: events.collect().await,
        result,
    }
}

fn weather_call(id: &str, city: &str) -> ToolCall {
    ToolCall::new(id, "get_weather", json!({ "city": city }))
}

fn message(role: Role, text: &str) -> ConversationMessage {
    ConversationMessage::new(role, Content::text(text))
}

fn tool(text: &str) -> ConversationMessage {
    message(Role::Tool, text)
}

/// The turn's `Usage` events; the last one must be the turn's usage, with real counts.
fn checked_usage(turn: &Turn) -> UsageMetadata {
    let usages: Vec<UsageMetadata> = turn
        .events
        .iter()
        .filter_map(|event| match event {
            ChatEvent::Usage(usage) => Some(*usage),
            _ => None,
        })
        .collect();
    let usage = *usages.last().expect("a Usage event");
    assert_eq!(usage, turn.result.usage);
    let (prompt, candidates, total) = (
        usage.prompt_token_count.unwrap(),
        usage.candidates_token_count.unwrap(),
        usage.total_token_count.unwrap(),
    );
    assert!(prompt > 0 && candidates > 0, "{usage:?}");
    assert_eq!(total, prompt + candidates, "{usage:?}");
    usage
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_call_its_result_the_text_and_the_usage_surface_as_events() {
    let runtime = runtime();
    let agent = runtime
        .create_agent(AgentConfig::builder("scripted").build())
        .await
        .unwrap();

    let first = play(&runtime, agent, "What's the weather in Paris?").await;
    assert_eq!(first.tool_calls, vec![weather_call("weather-1-0", "Paris")]);
    assert_eq!(
        first.steps,
        vec![Step::new(0, "get_weather returned: sunny, 21 °C")]
    );
    assert_eq!(first.result.text, "The weather in Paris is sunny, 21 °C.");
    // Streamed as pydantic-ai's text deltas, not as one chunk.
    let chunks = first
        .events
        .iter()
        .filter(|event| matches!(event, ChatEvent::Text(_)))
        .count();
    assert!(chunks > 1, "{:?}", first.events);
    // In the order the run made them: the call, its result, then the answer.
    let position = |wanted: fn(&ChatEvent) -> bool| first.events.iter().position(wanted).unwrap();
    assert!(
        position(|e| matches!(e, ChatEvent::ToolCall(_)))
            < position(|e| matches!(e, ChatEvent::Step(_)))
    );
    assert!(
        position(|e| matches!(e, ChatEvent::Step(_)))
            < position(|e| matches!(e, ChatEvent::Text(_)))
    );
    let first_usage = checked_usage(&first);

    // The history is pydantic-ai's messages, shown with the tool traffic in between.
    assert_eq!(
        runtime.history(agent).await.unwrap(),
        vec![
            message(Role::User, "What's the weather in Paris?"),
            tool(r#"get_weather({"city":"Paris"})"#),
            tool("get_weather -> sunny, 21 °C"),
            message(Role::Model, "The weather in Paris is sunny, 21 °C."),
        ]
    );

    // Later turns carry the history: "And now?" names no city, so the model looks the
    // cities of the last lookup up again, which it can only know from message_history.
    let second = play(&runtime, agent, "And in London and Tokyo?").await;
    assert_eq!(
        second.tool_calls,
        vec![
            weather_call("weather-2-0", "London"),
            weather_call("weather-2-1", "Tokyo"),
        ]
    );
    assert_eq!(
        second.result.text,
        "The weather in London is rainy, 14 °C. The weather in Tokyo is cloudy, 18 °C."
    );
    let second_usage = checked_usage(&second);
    let third = play(&runtime, agent, "And now?").await;
    assert_eq!(
        third.tool_calls,
        vec![
            weather_call("weather-3-0", "London"),
            weather_call("weather-3-1", "Tokyo"),
        ]
    );
    assert_eq!(third.result.text, second.result.text);
    let third_usage = checked_usage(&third);

    let history = runtime.history(agent).await.unwrap();
    let roles: Vec<&Role> = history.iter().map(|message| &message.role).collect();
    let tool_role = Role::Tool;
    let (user, model) = (Role::User, Role::Model);
    let turn_with_calls = |calls: usize| {
        let mut roles = vec![&user];
        roles.extend(std::iter::repeat_n(&tool_role, 2 * calls));
        roles.push(&model);
        roles
    };
    assert_eq!(
        roles,
        [turn_with_calls(1), turn_with_calls(2), turn_with_calls(2)].concat()
    );
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 3);
    assert_eq!(
        runtime.last_response(agent).await.unwrap().as_deref(),
        Some(third.result.text.as_str())
    );
    assert_eq!(
        runtime.total_usage(agent).await.unwrap(),
        first_usage + second_usage + third_usage
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scripted_model_is_deterministic() {
    let runtime = runtime();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let agent = runtime
            .create_agent(AgentConfig::builder("scripted").build())
            .await
            .unwrap();
        let turn = play(&runtime, agent, "Weather in Tokyo, then Lima?").await;
        answers.push((turn.tool_calls, turn.result));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0].0,
        vec![
            weather_call("weather-1-0", "Tokyo"),
            weather_call("weather-1-1", "Lima"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clearing_the_history_clears_pydantic_ais_messages() {
    let runtime = runtime();
    let agent = runtime
        .create_agent(AgentConfig::builder("scripted").build())
        .await
        .unwrap();
    play(&runtime, agent, "Weather in Paris?").await;
    runtime.clear_history(agent).await.unwrap();
    assert_eq!(runtime.history(agent).await.unwrap(), vec![]);
    // No lookup to repeat any more: the model has nothing to call.
    let turn = play(&runtime, agent, "And now?").await;
    assert_eq!(turn.tool_calls, vec![]);
    assert_eq!(
        turn.result.text,
        "Ask me about the weather in Paris, London, Tokyo, Lima."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_turn_leaves_no_trace_in_the_conversation() {
    let runtime = runtime();
    let agent = runtime
        .create_agent(
            AgentConfig::builder("scripted")
                .extra("chunk_delay_ms", json!(100))
                .build(),
        )
        .await
        .unwrap();
    let handle = runtime
        .chat(agent, &Content::text("Weather in Lima?"))
        .await
        .unwrap();
    let mut chunks = handle.text_stream();
    assert_eq!(chunks.next().await.as_deref(), Some("The "));
    runtime.cancel(agent).await.unwrap();
    assert_eq!(handle.text().await.unwrap_err(), Error::Cancelled);
    assert_eq!(runtime.history(agent).await.unwrap(), vec![]);
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
    // pydantic-ai's history has no lookup to repeat either.
    let turn = play(&runtime, agent, "And now?").await;
    assert_eq!(turn.tool_calls, vec![]);
    assert!(
        turn.result.text.starts_with("Ask me about"),
        "{}",
        turn.result.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pydantic_ais_test_model_calls_the_tool_with_generated_args() {
    let runtime = runtime();
    let agent = runtime
        .create_agent(AgentConfig::builder("test").build())
        .await
        .unwrap();
    let turn = play(&runtime, agent, "anything").await;
    assert_eq!(turn.tool_calls.len(), 1, "{:?}", turn.tool_calls);
    assert_eq!(turn.tool_calls[0].name, "get_weather");
    assert_eq!(turn.tool_calls[0].args, json!({"city": "a"}));
    assert_eq!(
        turn.result.text,
        r#"{"get_weather":"no weather data for 'a'"}"#
    );
    checked_usage(&turn);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_schema_becomes_pydantic_ai_structured_output() {
    let runtime = runtime();
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
        "required": ["city", "celsius"],
    });
    let agent = runtime
        .create_agent(AgentConfig::builder("test").response_schema(schema).build())
        .await
        .unwrap();
    let turn = play(&runtime, agent, "anything").await;
    let output = turn.result.structured_output.expect("a structured output");
    assert!(output["city"].is_string(), "{output}");
    assert!(output["celsius"].is_i64(), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_configs_are_refused_at_create_agent() {
    let runtime = runtime();
    for (config, expected) in [
        (AgentConfig::builder("").build(), "model must not be empty"),
        (
            AgentConfig::builder("nope:thing").build(),
            "Unknown model: nope:thing",
        ),
    ] {
        let error = runtime.create_agent(config).await.unwrap_err();
        assert!(
            matches!(&error, Error::InvalidConfig(message) if message.contains(expected)),
            "{expected}: {error:?}"
        );
    }
}

/// The application's calculator, declared with the one property `expression`.
fn calculator() -> (ToolDefinition, Tools) {
    let declaration = ToolDefinition::new(
        "calculator",
        "Evaluates a product of two integers, like 6*7.",
        json!({"type": "object", "properties": {"expression": {"type": "string"}}}),
    );
    let tools = Tools::new().with("calculator", |args| async move {
        let expression = args["expression"].as_str().unwrap_or_default().to_owned();
        let product = expression
            .split_once('*')
            .and_then(|(a, b)| Some(a.trim().parse::<i64>().ok()? * b.trim().parse::<i64>().ok()?));
        product
            .map(|product| json!(product))
            .ok_or_else(|| ToolError::new(format!("cannot evaluate {expression:?}")))
    });
    (declaration, tools)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_applications_tools_are_pydantic_ai_tools_called_through_the_host() {
    let runtime = runtime();
    let (declaration, tools) = calculator();
    let config = AgentConfig::builder("scripted").tool(declaration).build();
    let agent = runtime
        .create_agent_with_tools(config, tools)
        .await
        .unwrap();

    let turn = play(&runtime, agent, "calculator: 6*7\ncalculator: six").await;
    assert_eq!(
        turn.result.text,
        "calculator: 42\ncalculator: error: cannot evaluate \"six\""
    );
    // The host streamed each call and its result (its ids, not pydantic-ai's).
    let calls: Vec<&ToolCall> = turn
        .events
        .iter()
        .filter_map(|event| match event {
            ChatEvent::ToolCall(call) => Some(call),
            _ => None,
        })
        .collect();
    let results: Vec<&ToolResult> = turn
        .events
        .iter()
        .filter_map(|event| match event {
            ChatEvent::ToolResult(result) => Some(result),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 2, "{:?}", turn.events);
    assert_eq!(calls[0].args, json!({"expression": "6*7"}));
    assert!(calls[0].id.starts_with("call-"), "{:?}", calls[0]);
    let answered = results
        .iter()
        .find(|result| result.id == calls[0].id)
        .unwrap();
    assert_eq!(answered.output, Ok(json!(42)));
    assert!(
        results.iter().any(|result| result.output.is_err()),
        "{results:?}"
    );
    // The calls run at once: their steps come in the order they end.
    let mut steps: Vec<&str> = turn
        .steps
        .iter()
        .map(|step| step.description.as_str())
        .collect();
    steps.sort_unstable();
    assert_eq!(
        steps,
        [
            "calculator failed: cannot evaluate \"six\"",
            "calculator returned: 42"
        ]
    );

    // get_weather, the agent's own tool, still works beside it, and is reported by the agent.
    let weather = play(&runtime, agent, "What's the weather in Lima?").await;
    assert_eq!(
        weather.tool_calls,
        vec![weather_call("weather-2-0", "Lima")]
    );
    assert_eq!(weather.result.text, "The weather in Lima is foggy, 16 °C.");
}
