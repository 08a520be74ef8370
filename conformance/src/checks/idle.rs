//! Messages and idleness: send, wakeups, idle state ("Messages and idleness" in
//! semantics.md).

use std::time::{Duration, Instant};

use agent_plugin_api::types::{AgentId, Content, Role};

use crate::case::{CheckResult, Stop};
use crate::ctx::Ctx;
use crate::expect::{brief, millis, Must, LONG_TURN, LONG_TURN_MIN};

/// Limit for calls that semantics.md says return at once; generous for slow machines.
const AT_ONCE: Duration = Duration::from_secs(1);

async fn is_idle(ctx: &Ctx, agent: AgentId) -> Result<bool, Stop> {
    ctx.runtime()
        .is_idle(agent)
        .await
        .must(format!("is_idle({agent})"))
}

pub(crate) async fn send_queues_turn(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let sent = ctx.target().long_prompt().clone();
    ctx.step("sending the long prompt");
    ctx.runtime()
        .send(agent, &sent)
        .await
        .must(format!("send({agent}, ..)"))?;
    let count = ctx.runtime().turn_count(agent).await.must("turn_count")?;
    if count != 0 {
        let takes = ctx.long_turn_takes(agent).await?;
        ensure!(
            takes < LONG_TURN_MIN,
            "send must return without waiting for the answer, but right after it returned \
             turn_count was {count}, although a turn on the long prompt takes {}",
            millis(takes)
        );
        return Err(Stop::Warn(format!(
            "right after send returned on the long prompt its turn had already completed \
             (turn_count {count}; the whole turn takes {}), so this check cannot tell a \
             send that waits from a fast backend: {LONG_TURN}",
            millis(takes)
        )));
    }
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

pub(crate) async fn send_wakes(ctx: Ctx) -> CheckResult {
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
    if waited >= Duration::from_secs(5) {
        ctx.warn(format!(
            "wait_for_wakeup({}) returned true only after {}: it should return when the \
             message arrives (100 ms in)",
            millis(patience),
            millis(waited)
        ));
    }
    ctx.wait_for_idle(agent).await?;

    ctx.step("sending, then waiting for a wakeup");
    runtime
        .send(agent, &Content::text("conformance: wake up again"))
        .await
        .must("send")?;
    let woken = ctx
        .within(
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

pub(crate) async fn wakeup_times_out(ctx: Ctx) -> CheckResult {
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
    if waited >= timeout + Duration::from_secs(3) {
        ctx.warn(format!(
            "wait_for_wakeup(300 ms) returned false only after {}, expected soon after \
             300 ms",
            millis(waited)
        ));
    }
    Ok(())
}

pub(crate) async fn wait_for_idle(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    ctx.within(
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
    ctx.within(
        AT_ONCE,
        "wait_for_idle on an agent whose turns all completed",
        ctx.runtime().wait_for_idle(agent),
    )
    .await?
    .must("wait_for_idle")?;
    Ok(())
}

pub(crate) async fn signal_idle(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let running = ctx.start_long_turn(agent).await?;
    let idle = is_idle(&ctx, agent).await?;
    timing!(
        !(idle && running.is_finished()),
        "the long turn had already ended when is_idle was asked during it: {LONG_TURN}"
    );
    ensure!(!idle, "is_idle must be false while a turn runs");
    ctx.step("signalling idle while a turn runs");
    ctx.runtime().signal_idle(agent).await.must("signal_idle")?;
    ensure!(
        is_idle(&ctx, agent).await?,
        "after signal_idle, is_idle must be true (until the next turn starts), got false"
    );
    ctx.within(
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
    let idle = is_idle(&ctx, agent).await?;
    timing!(
        !(idle && next.is_finished()),
        "the next long turn had already ended when is_idle was asked during it: {LONG_TURN}"
    );
    ensure!(
        !idle,
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

pub(crate) async fn busy_during_turn(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    ensure!(
        is_idle(&ctx, agent).await?,
        "is_idle must be true on a fresh agent"
    );
    let handle = ctx.chat(agent, ctx.target().long_prompt()).await?;
    let idle = is_idle(&ctx, agent).await?;
    timing!(
        !(idle && handle.is_finished()),
        "the long turn had already ended when is_idle was asked right after chat: {LONG_TURN}"
    );
    ensure!(
        !idle,
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
