//! How a Python agent's stream reaches the reader through the real plugin: the native
//! pump hands text over as soon as the generator waits, keeps order with other events
//! and errors, carries large bursts whole, and stops generators that ignore a cancel.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use agent_plugin_api::host::PluginRuntime;
use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatEvent, ChatResponseHandle, Content, Error,
};
use agent_plugin_api::Runtime;
use futures::StreamExt;
use serde_json::json;

async fn start(agent: &str) -> (PluginRuntime, AgentId) {
    let agents = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents");
    let runtime = common::staged_plugin()
        .new_runtime(&json!({"agent": format!("streaming:{agent}"), "python_path": [agents]}))
        .unwrap();
    let agent = runtime
        .create_agent(AgentConfig::builder("test-model").build())
        .await
        .unwrap();
    (runtime, agent)
}

async fn chat(runtime: &PluginRuntime, agent: AgentId, text: &str) -> ChatResponseHandle {
    runtime.chat(agent, &Content::text(text)).await.unwrap()
}

/// Starts a turn of `agent` and checks that its first chunk, `first`, arrives well before
/// the agent's half-second pause is over.
async fn first_chunk_comes_early(agent: &str, first: &str) -> (PluginRuntime, ChatResponseHandle) {
    let (runtime, agent) = start(agent).await;
    let started = Instant::now();
    let handle = chat(&runtime, agent, "go").await;
    assert_eq!(handle.text_stream().next().await.as_deref(), Some(first));
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the first chunk waited for the agent's pause: {:?}",
        started.elapsed()
    );
    (runtime, handle)
}

#[tokio::test(flavor = "multi_thread")]
async fn text_reaches_the_reader_as_soon_as_the_agent_waits() {
    let (_runtime, handle) = first_chunk_comes_early("Drip", "first ").await;
    assert!(!handle.is_finished());
    assert_eq!(handle.text().await.unwrap().text, "first second");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_larger_than_a_batch_arrives_whole_and_in_order() {
    let (runtime, agent) = start("Burst").await;
    let handle = chat(&runtime, agent, "10000").await;
    let chunks: Vec<String> = handle.text_stream().collect().await;
    let expected: Vec<String> = (0..10_000).map(|index| format!("{index},")).collect();
    assert_eq!(chunks, expected);
    assert_eq!(handle.text().await.unwrap().text, expected.concat());
    let history = runtime.history(agent).await.unwrap();
    assert_eq!(history.len(), 2, "the turn is recorded once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_batch_reaches_the_reader_while_the_agent_keeps_the_loop_busy() {
    let (_runtime, handle) = first_chunk_comes_early("Hog", "0,").await;
    assert!(handle.text().await.unwrap().text.ends_with("4095,end"));
}

#[tokio::test(flavor = "multi_thread")]
async fn other_events_keep_their_place_among_the_text() {
    let (runtime, agent) = start("Mixed").await;
    let handle = chat(&runtime, agent, "go").await;
    let timeline: Vec<String> = handle
        .events()
        .map(|event| match event {
            ChatEvent::Text(text) => format!("text:{text}"),
            ChatEvent::Thought(text) => format!("thought:{text}"),
            ChatEvent::Step(step) => format!("step:{}", step.index),
            other => format!("{other:?}"),
        })
        .collect()
        .await;
    assert_eq!(
        timeline,
        [
            "text:one ",
            "thought:thinking",
            "text:two ",
            "step:1",
            "text:three"
        ]
    );
    assert_eq!(handle.text().await.unwrap().text, "one two three");
}

#[tokio::test(flavor = "multi_thread")]
async fn text_before_an_exception_comes_before_the_error() {
    let agents = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents");
    let runtime = common::staged_plugin()
        .new_runtime(&json!({"agent": "failing:Raises", "python_path": [agents]}))
        .unwrap();
    let agent = runtime
        .create_agent(AgentConfig::builder("test-model").build())
        .await
        .unwrap();
    let handle = chat(&runtime, agent, "go").await;
    let chunks: Vec<String> = handle.text_stream().collect().await;
    assert_eq!(chunks, ["partial "]);
    let error = handle.text().await.unwrap_err();
    assert!(matches!(&error, Error::BackendError(message) if message.contains("ValueError")));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_item_that_is_no_event_fails_the_turn_after_the_text_before_it() {
    let (runtime, agent) = start("Odd").await;
    for (message, named) in [("none", "builtins.NoneType"), ("tuple", "builtins.tuple")] {
        let handle = chat(&runtime, agent, message).await;
        let chunks: Vec<String> = handle.text_stream().collect().await;
        assert_eq!(chunks, ["before "]);
        let error = handle.text().await.unwrap_err();
        assert!(
            matches!(&error, Error::BackendError(text) if text.contains(named)),
            "{error:?}"
        );
    }
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_that_ignores_its_cancellation_is_stopped() {
    let (runtime, agent) = start("Swallows").await;
    let handle = chat(&runtime, agent, "go").await;
    assert_eq!(
        handle.text_stream().next().await.as_deref(),
        Some("started")
    );
    runtime.cancel(agent).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), handle.text())
        .await
        .expect("the turn ended");
    assert!(matches!(outcome, Err(Error::Cancelled)), "{outcome:?}");
    // The agent takes new turns (the one that ignored the cancel is gone).
    let next = chat(&runtime, agent, "again").await;
    assert_eq!(next.text_stream().next().await.as_deref(), Some("started"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_async_iterator_that_is_not_a_generator_streams_too() {
    let (runtime, agent) = start("Iterator").await;
    let handle = chat(&runtime, agent, "go").await;
    assert_eq!(handle.text().await.unwrap().text, "3 2 1 ");
}
