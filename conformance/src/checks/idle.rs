//! Messages and idleness: send, wakeups, idle state ("Messages and idleness" in
//! semantics.md).

use std::time::{Duration, Instant};

use agent_plugin_api::types::{AgentId, Content, Role};

use super::case;
use crate::case::{Case, CheckResult, Stop};
use crate::ctx::Ctx;
use crate::expect::{brief, millis, within, Must};

pub(crate) const CASES: &[Case] = &[
    case!(
        "idle.send_queues_turn",
        "send returns without waiting; its turn runs in order with chat turns and lands in the history",
        send_queues_turn
    ),
    case!(
        "idle.send_wakes",
        "send wakes wait_for_wakeup: a waiter returns true when the message arrives, a \
         message sent earlier is reported at once and only once",
        send_wakes
    ),
    case!(
        "idle.wakeup_times_out",
        "wait_for_wakeup with no message returns false once its timeout has passed",
        wakeup_times_out
    ),
    case!(
        "idle.wait_for_idle",
        "wait_for_idle returns at once on an idle agent, else when no turn is running or queued",
        wait_for_idle
    ),
    case!(
        "idle.signal_idle",
        "signal_idle makes is_idle true and releases wait_for_idle until the next turn starts",
        signal_idle
    ),
    case!(
        "idle.busy_during_turn",
        "is_idle is false while a turn is queued or running and true once none is",
        busy_during_turn
    ),
];

/// Limit for calls that semantics.md says return at once; generous for slow machines.
const AT_ONCE: Duration = Duration::from_secs(1);

async fn is_idle(ctx: &Ctx, agent: AgentId) -> Result<bool, Stop> {
    ctx.runtime()
        .is_idle(agent)
        .await
        .must(format!("is_idle({agent})"))
}

async fn send_queues_turn(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let sent = ctx.target().long_prompt().clone();
    ctx.step("sending the long prompt");
    ctx.runtime()
        .send(agent, &sent)
        .await
        .must(format!("send({agent}, ..)"))?;
    let count = ctx.runtime().turn_count(agent).await.must("turn_count")?;
    ensure!(
        count == 0,
        "send must return without waiting for the answer, but right after it returned \
         turn_count was {count} (the long prompt takes well over 100 ms to answer)"
    );
    let chatted = Content::text("conformance: a chat after a send");
    let answer = ctx.complete_turn(agent, &chatted).await?;
    let history = ctx.runtime().history(agent).await.must("history")?;
    let shape: Vec<(Role, String)> = history
        .iter()
        .map(|message| (message.role.clone(), message.content.to_text()))
        .collect();
    let in_order = shape.len() == 4
        && shape[0] == (Role::User, sent.to_text())
        && shape[1].0 == Role::Model
        && shape[2] == (Role::User, chatted.to_text())
        && shape[3] == (Role::Model, answer.text.clone());
    let described: Vec<String> = shape
        .iter()
        .map(|(role, text)| format!("{role:?} {}", brief(text)))
        .collect();
    ensure!(
        in_order,
        "after send(A) then chat(B), the history must be [User A, Model .., User B, Model \
         <B's answer>] with A = {}, B = {}; got {described:?}",
        brief(&sent.to_text()),
        brief(&chatted.to_text())
    );
    let count = ctx.runtime().turn_count(agent).await.must("turn_count")?;
    ensure!(
        count == 2,
        "turn_count is {count} after a sent and a chatted turn completed, expected 2"
    );
    Ok(())
}

async fn send_wakes(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let runtime = ctx.runtime();

    ctx.step("waiting for a wakeup while a message is sent 100 ms later");
    let patience = Duration::from_secs(10);
    let started = Instant::now();
    let (woken, sent) = tokio::join!(runtime.wait_for_wakeup(agent, patience), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        runtime
            .send(agent, &Content::text("conformance: wake up"))
            .await
    });
    let waited = started.elapsed();
    sent.must("send")?;
    let woken = woken.must("wait_for_wakeup")?;
    ensure!(
        woken,
        "wait_for_wakeup({}) returned false after {} although a message was sent 100 ms into \
         the wait",
        millis(patience),
        millis(waited)
    );
    ensure!(
        waited < Duration::from_secs(5),
        "wait_for_wakeup({}) returned true only after {}: it must return when the message \
         arrives (100 ms in)",
        millis(patience),
        millis(waited)
    );
    ctx.wait_for_idle(agent).await?;

    ctx.step("sending, then waiting for a wakeup");
    runtime
        .send(agent, &Content::text("conformance: wake up again"))
        .await
        .must("send")?;
    let woken = within(
        AT_ONCE,
        "wait_for_wakeup(10 s) after a message was sent",
        runtime.wait_for_wakeup(agent, patience),
    )
    .await?
    .must("wait_for_wakeup")?;
    ensure!(
        woken,
        "wait_for_wakeup must return true at once when a message was sent since the last \
         wakeup it reported, but it returned false"
    );
    ctx.step("waiting for a wakeup once more, with no new message");
    let again = runtime
        .wait_for_wakeup(agent, Duration::from_millis(200))
        .await
        .must("wait_for_wakeup")?;
    ensure!(
        !again,
        "a wakeup is reported once: wait_for_wakeup(200 ms) right after reporting it returned \
         true again with no new message"
    );
    Ok(())
}

async fn wakeup_times_out(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let timeout = Duration::from_millis(300);
    ctx.step("waiting for a wakeup that never comes");
    let started = Instant::now();
    let woken = ctx
        .runtime()
        .wait_for_wakeup(agent, timeout)
        .await
        .must("wait_for_wakeup")?;
    let waited = started.elapsed();
    ensure!(
        !woken,
        "wait_for_wakeup(300 ms) returned true after {} with no message ever sent",
        millis(waited)
    );
    // A timer may fire a hair early on some clocks; 10 ms of slack covers that.
    ensure!(
        waited + Duration::from_millis(10) >= timeout,
        "wait_for_wakeup(300 ms) returned false after only {}, before its timeout passed",
        millis(waited)
    );
    ensure!(
        waited < timeout + Duration::from_secs(3),
        "wait_for_wakeup(300 ms) returned false only after {}",
        millis(waited)
    );
    Ok(())
}

async fn wait_for_idle(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    within(
        AT_ONCE,
        "wait_for_idle on a fresh agent",
        ctx.runtime().wait_for_idle(agent),
    )
    .await?
    .must("wait_for_idle")?;

    // Nobody reads these handles while waiting: the backend must not need a reader.
    let first = ctx.chat(agent, ctx.target().long_prompt()).await?;
    let second = ctx
        .chat(
            agent,
            &Content::text("conformance: queued behind the long turn"),
        )
        .await?;
    ctx.wait_for_idle(agent).await?;
    let count = ctx.runtime().turn_count(agent).await.must("turn_count")?;
    ensure!(
        count == 2,
        "wait_for_idle must return only when no turn is running or queued; when it returned \
         with two turns started, turn_count was {count}, expected 2"
    );
    first
        .text()
        .await
        .must("the first turn's answer, read after wait_for_idle")?;
    second
        .text()
        .await
        .must("the second turn's answer, read after wait_for_idle")?;
    within(
        AT_ONCE,
        "wait_for_idle on an agent whose turns all completed",
        ctx.runtime().wait_for_idle(agent),
    )
    .await?
    .must("wait_for_idle")?;
    Ok(())
}

async fn signal_idle(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let running = ctx.start_long_turn(agent).await?;
    ensure!(
        !is_idle(&ctx, agent).await?,
        "is_idle must be false while a turn runs"
    );
    ctx.step("signalling idle while a turn runs");
    ctx.runtime().signal_idle(agent).await.must("signal_idle")?;
    ensure!(
        is_idle(&ctx, agent).await?,
        "after signal_idle, is_idle must be true (until the next turn starts), got false"
    );
    within(
        AT_ONCE,
        "wait_for_idle after signal_idle (with the signalled turn still running)",
        ctx.runtime().wait_for_idle(agent),
    )
    .await?
    .must("wait_for_idle")?;

    ctx.step("letting the signalled turn end");
    // signal_idle says nothing about the running turn's outcome: only its end matters.
    let _ = running.text().await;
    let next = ctx.start_long_turn(agent).await?;
    ensure!(
        !is_idle(&ctx, agent).await?,
        "signal_idle lasts only until the next turn starts, but is_idle was true while the \
         next turn ran"
    );
    ctx.step("reading the next turn");
    next.text().await.must("the next turn's answer")?;
    ctx.wait_for_idle(agent).await?;
    ensure!(
        is_idle(&ctx, agent).await?,
        "is_idle must be true once wait_for_idle returned"
    );
    Ok(())
}

async fn busy_during_turn(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    ensure!(
        is_idle(&ctx, agent).await?,
        "is_idle must be true on a fresh agent"
    );
    let handle = ctx.chat(agent, ctx.target().long_prompt()).await?;
    ensure!(
        !is_idle(&ctx, agent).await?,
        "is_idle must be false right after chat returned (the turn is queued or running)"
    );
    ctx.step("reading the answer");
    handle.text().await.must("the turn's answer")?;
    ctx.wait_for_idle(agent).await?;
    ensure!(
        is_idle(&ctx, agent).await?,
        "is_idle must be true once the turn completed and wait_for_idle returned"
    );
    Ok(())
}
