//! `MockRuntime` driven through the `Runtime` trait, as an application would.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_plugin_api::plugin::Plugin;
use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatEvent, Content, ConversationMessage, Error, Media, Role,
    ToolDefinition,
};
use agent_plugin_api::Runtime;
use futures::StreamExt;
use serde_json::json;

use crate::{MockOptions, MockRuntime};

/// Options for tests where timing does not matter.
fn fast() -> MockOptions {
    MockOptions {
        chunk_delay_ms: 0,
        ..MockOptions::default()
    }
}

/// Options whose turns last long enough to be cancelled or observed while running.
fn slow() -> MockOptions {
    MockOptions {
        chunk_chars: 1,
        chunk_delay_ms: 50,
        ..MockOptions::default()
    }
}

fn runtime(options: MockOptions) -> MockRuntime {
    MockRuntime::with_options(options).unwrap()
}

async fn agent(runtime: &MockRuntime) -> AgentId {
    runtime
        .create_agent(AgentConfig::builder("mock-model").build())
        .await
        .unwrap()
}

async fn ask(runtime: &MockRuntime, agent: AgentId, text: &str) -> Result<String, Error> {
    let handle = runtime.chat(agent, &text.into()).await?;
    handle.text().await.map(|result| result.text)
}

#[tokio::test]
async fn echo_streams_in_chunks() {
    let runtime = runtime(MockOptions {
        chunk_chars: 4,
        ..fast()
    });
    let agent = agent(&runtime).await;
    let handle = runtime.chat(agent, &"hello world".into()).await.unwrap();
    let chunks: Vec<String> = handle.text_stream().collect().await;
    assert_eq!(chunks, ["echo", ": he", "llo ", "worl", "d"]);
    let result = handle.text().await.unwrap();
    assert_eq!(result.text, "echo: hello world");
    assert_eq!(result.usage.prompt_token_count, Some(2));
    assert_eq!(result.usage.candidates_token_count, Some(3));
    assert_eq!(result.structured_output, None);

    assert_eq!(
        runtime.history(agent).await.unwrap(),
        [
            ConversationMessage::new(Role::User, "hello world"),
            ConversationMessage::new(Role::Model, "echo: hello world"),
        ]
    );
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 1);
    assert_eq!(runtime.last_turn_usage(agent).await.unwrap(), result.usage);
    assert_eq!(
        runtime.last_response(agent).await.unwrap().as_deref(),
        Some("echo: hello world")
    );
}

#[tokio::test]
async fn chunks_are_paced_by_the_delay() {
    let runtime = runtime(MockOptions {
        chunk_chars: 2,
        chunk_delay_ms: 10,
        ..MockOptions::default()
    });
    let agent = agent(&runtime).await;
    let start = Instant::now();
    // "echo: abc" is 5 chunks of 2 characters: 4 pauses.
    assert_eq!(ask(&runtime, agent, "abc").await.unwrap(), "echo: abc");
    assert!(start.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn media_without_text_is_described() {
    let runtime = runtime(fast());
    let agent = agent(&runtime).await;
    let image = Content::Image(Media::new(vec![1, 2, 3], "image/png"));
    let handle = runtime.chat(agent, &image).await.unwrap();
    assert_eq!(
        handle.text().await.unwrap().text,
        "echo: [image image/png, 3 bytes]"
    );
    assert_eq!(runtime.history(agent).await.unwrap()[0].content, image);
}

#[tokio::test]
async fn scripted_replies_cycle_per_agent() {
    let runtime = runtime(MockOptions {
        replies: vec!["one".into(), "two".into()],
        ..fast()
    });
    let first = agent(&runtime).await;
    let second = agent(&runtime).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(ask(&runtime, first, "q").await.unwrap());
    }
    assert_eq!(answers, ["one", "two", "one"]);
    assert_eq!(ask(&runtime, second, "q").await.unwrap(), "one");
}

#[tokio::test]
async fn extras_override_chunking_per_agent() {
    let runtime = runtime(fast());
    let config = AgentConfig::builder("m")
        .extra("chunk_chars", json!(2))
        .build();
    let agent = runtime.create_agent(config).await.unwrap();
    let handle = runtime.chat(agent, &"hi".into()).await.unwrap();
    let chunks: Vec<String> = handle.text_stream().collect().await;
    assert_eq!(chunks, ["ec", "ho", ": ", "hi"]);
}

#[test]
fn bad_options_are_refused_by_name() {
    let Err(Error::InvalidConfig(message)) = <MockRuntime as Plugin>::new(MockOptions {
        chunk_chars: 0,
        ..MockOptions::default()
    }) else {
        panic!("chunk_chars = 0 should be refused");
    };
    assert!(message.contains("chunk_chars"), "{message}");

    let unknown = serde_json::from_value::<MockOptions>(json!({"chunk_delay": 5}));
    assert!(unknown.unwrap_err().to_string().contains("chunk_delay"));
}

#[tokio::test]
async fn bad_agent_configs_are_invalid_config() {
    let runtime = runtime(fast());
    let configs = [
        AgentConfig::default(),
        AgentConfig::builder("m")
            .tool(ToolDefinition {
                name: String::new(),
                description: String::new(),
                parameter_schema: json!({}),
            })
            .build(),
        AgentConfig::builder("m")
            .response_schema(json!([1]))
            .build(),
    ];
    for config in configs {
        assert!(matches!(
            runtime.create_agent(config).await,
            Err(Error::InvalidConfig(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_turns_run_one_at_a_time_in_call_order() {
    let runtime = runtime(MockOptions {
        chunk_chars: 3,
        chunk_delay_ms: 5,
        ..MockOptions::default()
    });
    let agent = agent(&runtime).await;
    let mut handles = Vec::new();
    for text in ["first", "second", "third"] {
        handles.push(Arc::new(runtime.chat(agent, &text.into()).await.unwrap()));
    }
    assert!(!runtime.is_idle(agent).await.unwrap());

    // When a turn's first event exists, every turn queued before it has ended: a turn
    // ends before the worker starts the next one.
    let readers: Vec<_> = (0..handles.len())
        .map(|index| {
            let handles = handles.clone();
            tokio::spawn(async move {
                let handle = &handles[index];
                handle.events().next().await;
                let earlier_finished: Vec<bool> = handles[..index]
                    .iter()
                    .map(|earlier| earlier.is_finished())
                    .collect();
                assert!(earlier_finished.iter().all(|&finished| finished));
                handle.text().await.unwrap().text
            })
        })
        .collect();
    let mut answers = Vec::new();
    for reader in readers {
        answers.push(reader.await.unwrap());
    }
    assert_eq!(answers, ["echo: first", "echo: second", "echo: third"]);

    let history: Vec<String> = runtime
        .history(agent)
        .await
        .unwrap()
        .iter()
        .map(|message| message.content.to_text())
        .collect();
    assert_eq!(
        history,
        [
            "first",
            "echo: first",
            "second",
            "echo: second",
            "third",
            "echo: third"
        ]
    );
}

#[tokio::test]
async fn cancel_ends_the_running_turn_only() {
    let runtime = runtime(slow());
    let agent = agent(&runtime).await;
    let running = runtime.chat(agent, &"long".into()).await.unwrap();
    let queued = runtime.chat(agent, &"next".into()).await.unwrap();
    let mut text = running.text_stream();
    assert_eq!(text.next().await.as_deref(), Some("e"));
    runtime.cancel(agent).await.unwrap();
    assert_eq!(running.text().await, Err(Error::Cancelled));
    assert_eq!(queued.text().await.unwrap().text, "echo: next");

    assert_eq!(runtime.turn_count(agent).await.unwrap(), 1);
    assert_eq!(runtime.history(agent).await.unwrap().len(), 2);
    assert_eq!(
        runtime.history(agent).await.unwrap()[0].content,
        "next".into()
    );
}

#[tokio::test]
async fn cancel_right_after_chat_hits_that_turn() {
    let runtime = runtime(slow());
    let agent = agent(&runtime).await;
    let handle = runtime.chat(agent, &"hi".into()).await.unwrap();
    runtime.cancel(agent).await.unwrap();
    assert_eq!(handle.text().await, Err(Error::Cancelled));
    runtime.wait_for_idle(agent).await.unwrap();
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
}

/// A turn starts on the caller's thread: one that never waits is over when `chat`
/// returns, so there is nothing left to cancel.
#[tokio::test]
async fn a_turn_that_never_waits_is_done_when_chat_returns() {
    let runtime = runtime(fast());
    let agent = agent(&runtime).await;
    let handle = runtime.chat(agent, &"hi".into()).await.unwrap();
    assert!(handle.is_finished());
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 1);
    runtime.cancel(agent).await.unwrap();
    assert_eq!(handle.text().await.unwrap().text, "echo: hi");
}

#[tokio::test]
async fn cancel_with_no_turn_is_a_no_op() {
    let runtime = runtime(fast());
    let agent = agent(&runtime).await;
    runtime.cancel(agent).await.unwrap();
    assert_eq!(ask(&runtime, agent, "after").await.unwrap(), "echo: after");
}

#[tokio::test]
async fn dropping_a_handle_cancels_its_turn() {
    let runtime = runtime(slow());
    let agent = agent(&runtime).await;
    let running = runtime.chat(agent, &"running".into()).await.unwrap();
    let queued = runtime.chat(agent, &"queued".into()).await.unwrap();
    running.text_stream().next().await;
    drop(queued);
    drop(running);
    runtime.wait_for_idle(agent).await.unwrap();
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
    assert!(runtime.history(agent).await.unwrap().is_empty());
    assert_eq!(runtime.last_response(agent).await.unwrap(), None);
    assert_eq!(
        runtime.last_turn_usage(agent).await.unwrap(),
        Default::default()
    );
}

#[tokio::test]
async fn send_runs_unread_and_wakes() {
    let runtime = Arc::new(runtime(fast()));
    let agent = agent(&runtime).await;
    let no_wait = Duration::ZERO;
    assert!(!runtime.wait_for_wakeup(agent, no_wait).await.unwrap());

    runtime.send(agent, &"note".into()).await.unwrap();
    assert!(runtime.wait_for_wakeup(agent, no_wait).await.unwrap());
    assert!(
        !runtime.wait_for_wakeup(agent, no_wait).await.unwrap(),
        "consumed"
    );

    runtime.wait_for_idle(agent).await.unwrap();
    let history = runtime.history(agent).await.unwrap();
    assert_eq!(history[0], ConversationMessage::new(Role::User, "note"));
    assert_eq!(
        history[1],
        ConversationMessage::new(Role::Model, "echo: note")
    );

    let sender = {
        let runtime = runtime.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            runtime.send(agent, &"later".into()).await.unwrap();
        })
    };
    let start = Instant::now();
    assert!(runtime
        .wait_for_wakeup(agent, Duration::from_secs(10))
        .await
        .unwrap());
    assert!(start.elapsed() < Duration::from_secs(5));
    sender.await.unwrap();

    let start = Instant::now();
    assert!(!runtime
        .wait_for_wakeup(agent, Duration::from_millis(30))
        .await
        .unwrap());
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[tokio::test]
async fn sent_turns_keep_their_place_in_line() {
    let runtime = runtime(fast());
    let agent = agent(&runtime).await;
    let first = runtime.chat(agent, &"a".into()).await.unwrap();
    runtime.send(agent, &"b".into()).await.unwrap();
    let last = runtime.chat(agent, &"c".into()).await.unwrap();
    first.text().await.unwrap();
    last.text().await.unwrap();
    let users: Vec<String> = runtime
        .history(agent)
        .await
        .unwrap()
        .iter()
        .filter(|message| message.role == Role::User)
        .map(|message| message.content.to_text())
        .collect();
    assert_eq!(users, ["a", "b", "c"]);
}

#[tokio::test]
async fn idleness_follows_turns_and_signals() {
    let runtime = Arc::new(runtime(slow()));
    let agent = agent(&runtime).await;
    assert!(runtime.is_idle(agent).await.unwrap());
    runtime.wait_for_idle(agent).await.unwrap();

    let handle = runtime.chat(agent, &"hi".into()).await.unwrap();
    assert!(!runtime.is_idle(agent).await.unwrap());

    // A waiter is released by signal_idle, before the turn ends.
    let waiter = {
        let runtime = runtime.clone();
        tokio::spawn(async move { runtime.wait_for_idle(agent).await })
    };
    handle.text_stream().next().await;
    runtime.signal_idle(agent).await.unwrap();
    assert!(runtime.is_idle(agent).await.unwrap());
    waiter.await.unwrap().unwrap();
    assert!(!handle.is_finished());

    // The next turn clears the signal; the agent is idle again once its queue is empty.
    let next = runtime.chat(agent, &"again".into()).await.unwrap();
    handle.text().await.unwrap();
    next.text_stream().next().await;
    assert!(!runtime.is_idle(agent).await.unwrap());
    runtime.wait_for_idle(agent).await.unwrap();
    assert!(next.is_finished());
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 2);
}

#[tokio::test]
async fn every_nth_turn_hits_the_quota() {
    let runtime = runtime(MockOptions {
        quota_every: 2,
        quota_retry_after_ms: 250,
        ..fast()
    });
    let agent = agent(&runtime).await;
    assert!(ask(&runtime, agent, "one").await.is_ok());
    let Err(Error::QuotaExceeded { retry_after, .. }) = ask(&runtime, agent, "two").await else {
        panic!("turn 2 should hit the quota");
    };
    assert_eq!(retry_after, Some(Duration::from_millis(250)));
    assert_eq!(runtime.quota_registry().consecutive_hits("mock"), 1);
    assert!(runtime.quota_registry().remaining("mock").unwrap() >= Duration::from_millis(200));
    assert!(ask(&runtime, agent, "three").await.is_ok());
    assert!(ask(&runtime, agent, "four")
        .await
        .unwrap_err()
        .is_quota_error());
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 2);
}

#[tokio::test]
async fn quota_hits_back_off_per_runtime() {
    let options = MockOptions {
        backoff_base_ms: 10,
        backoff_cap_ms: 200,
        ..fast()
    };
    let first = runtime(options.clone());
    let second = runtime(options);
    // Nothing recorded yet: returns at once.
    first.wait_for_quota().await;

    let start = Instant::now();
    first.record_quota_hit(Duration::from_millis(40)).await;
    assert!(first.quota_registry().remaining("mock").is_some());
    assert_eq!(first.quota_registry().consecutive_hits("mock"), 1);
    // Another runtime's hit never delays this one.
    assert!(second.quota_registry().remaining("mock").is_none());
    second.wait_for_quota().await;
    first.wait_for_quota().await;
    assert!(start.elapsed() >= Duration::from_millis(40));

    first.record_quota_hit(Duration::ZERO).await;
    assert_eq!(first.quota_registry().consecutive_hits("mock"), 2);
}

#[tokio::test]
async fn compaction_is_recorded_every_n_turns() {
    let runtime = runtime(MockOptions {
        compact_every: 2,
        ..fast()
    });
    let agent = agent(&runtime).await;
    for turn in 0..5 {
        ask(&runtime, agent, &format!("turn {turn}")).await.unwrap();
    }
    assert_eq!(runtime.compaction_indices(agent).await.unwrap(), [4, 8]);
    runtime.clear_history(agent).await.unwrap();
    assert!(runtime.compaction_indices(agent).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_trigger_word_fails_the_turn() {
    let runtime = runtime(fast());
    let agent = agent(&runtime).await;
    assert_eq!(
        ask(&runtime, agent, "please FAIL now").await,
        Err(Error::BackendError(
            "mock: the message contains the trigger word FAIL".into()
        ))
    );
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
    assert!(runtime.history(agent).await.unwrap().is_empty());
    assert_eq!(
        runtime.total_usage(agent).await.unwrap(),
        Default::default()
    );

    let lenient = self::runtime(MockOptions {
        fail_on: String::new(),
        ..fast()
    });
    let agent = self::agent(&lenient).await;
    assert_eq!(ask(&lenient, agent, "FAIL").await.unwrap(), "echo: FAIL");
}

#[tokio::test]
async fn a_response_schema_gives_structured_output() {
    let runtime = runtime(fast());
    let schema = json!({
        "type": "object",
        "properties": {"answer": {"type": "string"}, "turn": {"type": "integer"}}
    });
    let agent = runtime
        .create_agent(AgentConfig::builder("m").response_schema(schema).build())
        .await
        .unwrap();
    ask(&runtime, agent, "warm up").await.unwrap();
    let handle = runtime.chat(agent, &"hi".into()).await.unwrap();
    let result = handle.text().await.unwrap();
    assert_eq!(
        result.structured_output,
        Some(json!({"answer": "echo: hi", "turn": 2}))
    );
}

#[tokio::test]
async fn naming_a_tool_calls_it() {
    let runtime = runtime(fast());
    let tool = |name: &str| ToolDefinition {
        name: name.into(),
        description: String::new(),
        parameter_schema: json!({"type": "object"}),
    };
    let config = AgentConfig::builder("m")
        .tool(tool("weather"))
        .tool(tool("search"))
        .build();
    let agent = runtime.create_agent(config).await.unwrap();
    let handle = runtime
        .chat(agent, &"search the weather".into())
        .await
        .unwrap();
    let calls: Vec<_> = handle.tool_calls().collect().await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "weather");
    assert_eq!(calls[0].id, "call-1-0");
    assert_eq!(calls[0].args, json!({"query": "search the weather"}));

    let plain = runtime.chat(agent, &"hello".into()).await.unwrap();
    assert_eq!(plain.tool_calls().count().await, 0);
}

#[tokio::test]
async fn events_come_in_order_with_usage_last() {
    let runtime = runtime(fast());
    let agent = agent(&runtime).await;
    let handle = runtime.chat(agent, &"hi".into()).await.unwrap();
    let events: Vec<ChatEvent> = handle.events().collect().await;
    assert!(matches!(&events[0], ChatEvent::Step(step) if step.index == 0));
    assert_eq!(events[1], ChatEvent::Thought("considering: hi".into()));
    assert!(matches!(&events[2], ChatEvent::Step(step) if step.index == 1));
    let usage = handle.text().await.unwrap().usage;
    assert_eq!(events.last(), Some(&ChatEvent::Usage(usage)));
    assert_eq!(usage.thoughts_token_count, Some(2));
    assert_eq!(usage.total_token_count, Some(1 + 2 + 2));

    let quiet = self::runtime(MockOptions {
        thoughts: false,
        ..fast()
    });
    let agent = self::agent(&quiet).await;
    let handle = quiet.chat(agent, &"hi".into()).await.unwrap();
    assert_eq!(handle.thoughts().count().await, 0);
    assert_eq!(
        handle.text().await.unwrap().usage.thoughts_token_count,
        None
    );
}

#[tokio::test]
async fn usage_adds_up_and_clear_history_keeps_it() {
    let runtime = runtime(fast());
    let agent = agent(&runtime).await;
    let first = runtime.chat(agent, &"a b".into()).await.unwrap();
    let first = first.text().await.unwrap().usage;
    let second = runtime.chat(agent, &"c".into()).await.unwrap();
    let second = second.text().await.unwrap().usage;
    assert_eq!(runtime.total_usage(agent).await.unwrap(), first + second);
    assert_eq!(runtime.last_turn_usage(agent).await.unwrap(), second);

    runtime.clear_history(agent).await.unwrap();
    assert!(runtime.history(agent).await.unwrap().is_empty());
    assert_eq!(runtime.turn_count(agent).await.unwrap(), 0);
    assert_eq!(runtime.last_response(agent).await.unwrap(), None);
    assert_eq!(runtime.total_usage(agent).await.unwrap(), first + second);
}

/// Every call that takes an agent id, checked to fail with `AgentNotStarted`.
async fn assert_not_started(runtime: &MockRuntime, agent: AgentId) {
    let not_started = Err(Error::AgentNotStarted(agent));
    let content = Content::text("x");
    assert_eq!(runtime.chat(agent, &content).await.map(drop), not_started);
    assert_eq!(runtime.send(agent, &content).await, not_started);
    assert_eq!(runtime.cancel(agent).await, not_started);
    assert_eq!(runtime.wait_for_idle(agent).await, not_started);
    assert_eq!(runtime.signal_idle(agent).await, not_started);
    assert_eq!(
        runtime
            .wait_for_wakeup(agent, Duration::ZERO)
            .await
            .map(drop),
        not_started
    );
    assert_eq!(runtime.history(agent).await.map(drop), not_started);
    assert_eq!(runtime.turn_count(agent).await.map(drop), not_started);
    assert_eq!(runtime.total_usage(agent).await.map(drop), not_started);
    assert_eq!(runtime.last_turn_usage(agent).await.map(drop), not_started);
    assert_eq!(runtime.clear_history(agent).await, not_started);
    assert_eq!(runtime.last_response(agent).await.map(drop), not_started);
    assert_eq!(
        runtime.compaction_indices(agent).await.map(drop),
        not_started
    );
    assert_eq!(runtime.disconnect(agent).await, not_started);
    assert_eq!(runtime.is_idle(agent).await.map(drop), not_started);
    assert_eq!(runtime.shutdown_agent(agent).await, not_started);
    assert_eq!(runtime.delete(agent).await, not_started);
    runtime.try_shutdown_agent(agent);
}

#[tokio::test]
async fn shutdown_cancels_turns_and_forgets_the_agent() {
    let runtime = runtime(slow());
    let agent = agent(&runtime).await;
    let running = runtime.chat(agent, &"running".into()).await.unwrap();
    let queued = runtime.chat(agent, &"queued".into()).await.unwrap();
    running.text_stream().next().await;
    runtime.shutdown_agent(agent).await.unwrap();
    assert!(running.is_finished() && queued.is_finished());
    assert_eq!(running.text().await, Err(Error::Cancelled));
    assert_eq!(queued.text().await, Err(Error::Cancelled));
    assert_not_started(&runtime, agent).await;
    assert_not_started(&runtime, 999).await;

    let next = self::agent(&runtime).await;
    assert!(next > agent, "ids are never reused");
}

#[tokio::test]
async fn waiters_learn_of_a_shutdown() {
    let runtime = Arc::new(runtime(slow()));
    let agent = agent(&runtime).await;
    let _busy = runtime.chat(agent, &"busy".into()).await.unwrap();
    let idle_waiter = {
        let runtime = runtime.clone();
        tokio::spawn(async move { runtime.wait_for_idle(agent).await })
    };
    let wakeup_waiter = {
        let runtime = runtime.clone();
        tokio::spawn(async move {
            runtime
                .wait_for_wakeup(agent, Duration::from_secs(30))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    runtime.shutdown_agent(agent).await.unwrap();
    assert_eq!(
        idle_waiter.await.unwrap(),
        Err(Error::AgentNotStarted(agent))
    );
    assert_eq!(
        wakeup_waiter.await.unwrap(),
        Err(Error::AgentNotStarted(agent))
    );
}

#[tokio::test]
async fn try_shutdown_and_delete_forget_the_agent() {
    let runtime = runtime(slow());
    let first = agent(&runtime).await;
    let running = runtime.chat(first, &"running".into()).await.unwrap();
    runtime.try_shutdown_agent(first);
    assert_not_started(&runtime, first).await;
    assert_eq!(running.text().await, Err(Error::Cancelled));

    let second = agent(&runtime).await;
    runtime.disconnect(second).await.unwrap();
    assert!(runtime.is_idle(second).await.unwrap(), "still usable");
    runtime.delete(second).await.unwrap();
    assert_not_started(&runtime, second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_agents_chat_at_once() {
    let runtime = Arc::new(runtime(MockOptions {
        chunk_chars: 4,
        chunk_delay_ms: 1,
        ..MockOptions::default()
    }));
    let chats: Vec<_> = (0..200)
        .map(|index| {
            let runtime = runtime.clone();
            tokio::spawn(async move {
                let agent = self::agent(&runtime).await;
                for turn in 0..3 {
                    let text = format!("agent {index} turn {turn}");
                    let answer = ask(&runtime, agent, &text).await.unwrap();
                    assert_eq!(answer, format!("echo: {text}"));
                }
                assert_eq!(runtime.turn_count(agent).await.unwrap(), 3);
                runtime.shutdown_agent(agent).await.unwrap();
                agent
            })
        })
        .collect();
    let mut ids = Vec::new();
    for chat in chats {
        ids.push(chat.await.unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200, "every agent got its own id");
}
