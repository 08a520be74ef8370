//! The application's tools ("Tools" in semantics.md): calls a backend makes into the
//! host, their results, and how they end. Each check declares its tools, offers
//! handlers, and asks for calls with the target's tool prompt.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatEvent, ChatResponseHandle, Role, ToolDefinition, ToolError,
    ToolResult, Tools,
};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::case::{CheckResult, Stop};
use crate::ctx::Ctx;
use crate::expect::Must;

/// A tool declaration with one string argument, `input`.
fn declared(name: &str) -> ToolDefinition {
    ToolDefinition::new(
        name,
        "a tool of the conformance kit",
        json!({"type": "object", "properties": {"input": {"type": "string"}}}),
    )
}

/// Skips when the runtime says it cannot run host tools (an older plugin).
fn needs_host_tools(ctx: &Ctx) -> CheckResult {
    match ctx.runtime().host_tools_unavailable() {
        Some(reason) => Err(Stop::Skip(reason)),
        None => Ok(()),
    }
}

/// An agent of the target's config plus `declarations`, offered `tools`.
async fn agent_with(ctx: &Ctx, declarations: &[&str], tools: Tools) -> Result<AgentId, Stop> {
    ctx.step("creating an agent with tools");
    let mut config: AgentConfig = ctx.target().agent_config().clone();
    for name in declarations {
        config.tools.push(declared(name));
    }
    ctx.runtime()
        .create_agent_with_tools(config, tools)
        .await
        .must("create_agent_with_tools")
}

/// A turn's events in order, and its outcome.
async fn play(
    ctx: &Ctx,
    handle: ChatResponseHandle,
) -> Result<(Vec<ChatEvent>, Result<String, String>), Stop> {
    ctx.step("reading the turn's events");
    let events: Vec<ChatEvent> = ctx
        .within(
            ctx.target().check_timeout(),
            "the turn's events",
            handle.events().collect(),
        )
        .await?;
    let outcome = handle
        .text()
        .await
        .map(|result| result.text)
        .map_err(|error| error.to_string());
    Ok((events, outcome))
}

/// The results in `events`, each checked to come after a call with its id and name.
fn results_after_calls(events: &[ChatEvent]) -> Result<Vec<ToolResult>, Stop> {
    let mut results = Vec::new();
    for (at, event) in events.iter().enumerate() {
        let ChatEvent::ToolResult(result) = event else {
            continue;
        };
        let called_before = events[..at].iter().any(|earlier| {
            matches!(earlier, ChatEvent::ToolCall(call) if call.id == result.id && call.name == result.name)
        });
        ensure!(
            called_before,
            "the result of tool call {:?} ({}) came without its ToolCall event before it",
            result.id,
            result.name
        );
        results.push(result.clone());
    }
    Ok(results)
}

/// Whether `value`, anywhere inside, holds a string containing `needle`.
fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(text) => text.contains(needle),
        Value::Array(items) => items.iter().any(|item| mentions(item, needle)),
        Value::Object(fields) => fields.values().any(|field| mentions(field, needle)),
        _ => false,
    }
}

/// A tool that answers `{"echoed": <its arguments>}` and counts its calls.
fn echo_tool(
    calls: Arc<AtomicUsize>,
) -> impl Fn(Value) -> futures::future::Ready<Result<Value, ToolError>> {
    move |args| {
        calls.fetch_add(1, Ordering::SeqCst);
        futures::future::ready(Ok(json!({ "echoed": args })))
    }
}

pub(crate) async fn call_and_result(ctx: Ctx) -> CheckResult {
    needs_host_tools(&ctx)?;
    let calls = Arc::new(AtomicUsize::new(0));
    let tools = Tools::new().with("kit_echo", echo_tool(calls.clone()));
    let agent = agent_with(&ctx, &["kit_echo"], tools).await?;
    let prompt = ctx.target().tool_prompt(&[("kit_echo", "marmalade")]);
    let handle = ctx.chat(agent, &prompt).await?;
    let (events, outcome) = play(&ctx, handle).await?;
    ensure!(outcome.is_ok(), "the turn failed: {outcome:?}");
    ensure!(
        calls.load(Ordering::SeqCst) == 1,
        "the handler ran {} times, not once",
        calls.load(Ordering::SeqCst)
    );
    let results = results_after_calls(&events)?;
    let [result] = results.as_slice() else {
        return Err(Stop::Fail(format!(
            "expected one ToolResult event, got {}: {events:?}",
            results.len()
        )));
    };
    let Ok(output) = &result.output else {
        return Err(Stop::Fail(format!(
            "the result is an error: {:?}",
            result.output
        )));
    };
    ensure!(
        mentions(output, "marmalade"),
        "the handler's answer {output} does not carry the input `marmalade`: the backend's \
         arguments did not reach it"
    );
    ctx.wait_for_idle(agent).await?;
    let history = ctx.runtime().history(agent).await.must("history")?;
    let asked = history.iter().position(|message| {
        message
            .tool_calls
            .iter()
            .any(|call| call.name == "kit_echo")
    });
    let answered = history.iter().position(|message| {
        message.role == Role::Tool
            && message
                .tool_result
                .as_ref()
                .is_some_and(|result| result.name == "kit_echo")
    });
    match (asked, answered) {
        (Some(asked), Some(answered)) => ensure!(
            asked < answered,
            "the history has the tool's answer (at {answered}) before the call (at {asked})"
        ),
        _ => {
            return Err(Stop::Fail(format!(
                "the history does not record the call and its result: {history:?}"
            )))
        }
    }
    Ok(())
}

pub(crate) async fn several_in_a_turn(ctx: Ctx) -> CheckResult {
    needs_host_tools(&ctx)?;
    let (first, second) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let tools = Tools::new()
        .with("kit_first", echo_tool(first.clone()))
        .with("kit_second", echo_tool(second.clone()));
    let agent = agent_with(&ctx, &["kit_first", "kit_second"], tools).await?;
    let prompt = ctx
        .target()
        .tool_prompt(&[("kit_first", "one"), ("kit_second", "two")]);
    let (events, outcome) = play(&ctx, ctx.chat(agent, &prompt).await?).await?;
    ensure!(outcome.is_ok(), "the turn failed: {outcome:?}");
    ensure!(
        first.load(Ordering::SeqCst) == 1 && second.load(Ordering::SeqCst) == 1,
        "the handlers ran {} and {} times, not once each",
        first.load(Ordering::SeqCst),
        second.load(Ordering::SeqCst)
    );
    let results = results_after_calls(&events)?;
    ensure!(results.len() == 2, "expected two results, got {results:?}");
    Ok(())
}

pub(crate) async fn concurrent_calls(ctx: Ctx) -> CheckResult {
    needs_host_tools(&ctx)?;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let slow = |running: Arc<AtomicUsize>, most: Arc<AtomicUsize>| {
        move |args: Value| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(json!({ "echoed": args }))
            }
        }
    };
    let tools = Tools::new()
        .with("kit_slow_a", slow(running.clone(), most.clone()))
        .with("kit_slow_b", slow(running.clone(), most.clone()));
    let agent = agent_with(&ctx, &["kit_slow_a", "kit_slow_b"], tools).await?;
    let prompt = ctx
        .target()
        .tool_prompt(&[("kit_slow_a", "left"), ("kit_slow_b", "right")]);
    let (events, outcome) = play(&ctx, ctx.chat(agent, &prompt).await?).await?;
    ensure!(outcome.is_ok(), "the turn failed: {outcome:?}");
    let results = results_after_calls(&events)?;
    ensure!(results.len() == 2, "expected two results, got {results:?}");
    for result in &results {
        let wanted = if result.name == "kit_slow_a" {
            "left"
        } else {
            "right"
        };
        ensure!(
            result
                .output
                .as_ref()
                .is_ok_and(|output| mentions(output, wanted)),
            "the result of {} is {:?}, not its own answer (mixed up between calls?)",
            result.name,
            result.output
        );
    }
    if most.load(Ordering::SeqCst) < 2 {
        skip!("the backend called its tools one at a time");
    }
    Ok(())
}

pub(crate) async fn failing_tool(ctx: Ctx) -> CheckResult {
    needs_host_tools(&ctx)?;
    let tools = Tools::new()
        .with("kit_fails", |_| async {
            Err(ToolError::new("no marmalade left"))
        })
        .with("kit_panics", |_| async {
            panic!("the kit's tool panicked on purpose")
        });
    let agent = agent_with(&ctx, &["kit_fails", "kit_panics"], tools).await?;
    let prompt = ctx
        .target()
        .tool_prompt(&[("kit_fails", "x"), ("kit_panics", "y")]);
    let (events, outcome) = play(&ctx, ctx.chat(agent, &prompt).await?).await?;
    ensure!(
        outcome.is_ok(),
        "a failing tool failed the whole turn: {outcome:?}"
    );
    let results = results_after_calls(&events)?;
    for (tool, wanted) in [
        ("kit_fails", "no marmalade left"),
        ("kit_panics", "panicked"),
    ] {
        let found = results.iter().find(|result| result.name == tool);
        ensure!(
            found.is_some_and(
                |result| matches!(&result.output, Err(error) if error.message.contains(wanted))
            ),
            "the result of {tool} should be an error saying {wanted:?}, got {found:?}"
        );
    }
    ctx.wait_for_idle(agent).await?;
    ctx.step("a plain turn after the failures");
    let again = ctx.chat(agent, &"still there?".into()).await?;
    again
        .text()
        .await
        .must("a turn after a failed and a panicked tool")?;
    Ok(())
}

pub(crate) async fn unknown_tool(ctx: Ctx) -> CheckResult {
    needs_host_tools(&ctx)?;
    let agent = agent_with(&ctx, &["kit_ghost"], Tools::new()).await?;
    let prompt = ctx.target().tool_prompt(&[("kit_ghost", "boo")]);
    let (events, outcome) = play(&ctx, ctx.chat(agent, &prompt).await?).await?;
    ensure!(outcome.is_ok(), "the turn failed: {outcome:?}");
    let results = results_after_calls(&events)?;
    ensure!(
        results
            .iter()
            .any(|result| result.name == "kit_ghost" && result.output.is_err()),
        "a call to a tool without a handler should give an error result, got {results:?}"
    );
    Ok(())
}

/// Sets its flag when the pending call is dropped.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub(crate) async fn cancel_during_call(ctx: Ctx) -> CheckResult {
    needs_host_tools(&ctx)?;
    let started = Arc::new(tokio::sync::Notify::new());
    let dropped = Arc::new(AtomicUsize::new(0));
    let tools = {
        let (started, dropped) = (started.clone(), dropped.clone());
        Tools::new().with("kit_forever", move |_| {
            let (started, guard) = (started.clone(), Dropped(dropped.clone()));
            async move {
                let _guard = guard;
                started.notify_one();
                std::future::pending::<()>().await;
                Ok(json!(null))
            }
        })
    };
    let agent = agent_with(&ctx, &["kit_forever"], tools).await?;
    let prompt = ctx.target().tool_prompt(&[("kit_forever", "wait")]);
    let handle = ctx.chat(agent, &prompt).await?;
    ctx.step("waiting for the tool call to start");
    ctx.within(
        ctx.target().check_timeout(),
        "the tool call to start",
        started.notified(),
    )
    .await?;
    ctx.runtime().cancel(agent).await.must("cancel")?;
    ctx.step("reading the cancelled turn");
    let outcome = ctx
        .within(
            Duration::from_secs(5),
            "the cancelled turn's end",
            handle.text(),
        )
        .await?;
    ensure!(
        matches!(outcome, Err(agent_plugin_api::types::Error::Cancelled)),
        "the turn should end with Cancelled, got {outcome:?}"
    );
    ctx.step("waiting for the pending call to be dropped");
    ctx.within(
        Duration::from_secs(5),
        "the pending tool call to be dropped",
        async {
            while dropped.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    )
    .await?;
    Ok(())
}
