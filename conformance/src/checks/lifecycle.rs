//! Agents: creation, shutdown, deletion, disconnection ("Agents" in semantics.md).

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use agent_plugin_api::types::{AgentId, Content, Error};

use crate::case::{CheckResult, Stop};
use crate::ctx::Ctx;
use crate::expect::{all_calls_not_started, history_is, millis, outcome, Entry, Must};
use crate::panic_text::panic_text;

pub(crate) async fn unique_ids(ctx: Ctx) -> CheckResult {
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(ctx.new_agent().await?);
    }
    ctx.step("shutting down the second agent and deleting the third");
    ctx.runtime()
        .shutdown_agent(ids[1])
        .await
        .must(format!("shutdown_agent({})", ids[1]))?;
    ctx.runtime()
        .delete(ids[2])
        .await
        .must(format!("delete({})", ids[2]))?;
    for _ in 0..3 {
        ids.push(ctx.new_agent().await?);
    }
    let mut seen = HashSet::new();
    let repeated: Vec<AgentId> = ids.iter().copied().filter(|id| !seen.insert(*id)).collect();
    ensure!(
        repeated.is_empty(),
        "create_agent returned ids {ids:?} (in creation order; the 2nd was shut down and the \
         3rd deleted before the last three were created); repeated: {repeated:?}"
    );
    Ok(())
}

pub(crate) async fn invalid_config(ctx: Ctx) -> CheckResult {
    let Some(config) = ctx.target().invalid_config().cloned() else {
        skip!("the target names no invalid config");
    };
    ctx.step("creating an agent with the invalid config");
    let created = ctx.runtime().create_agent(config.clone()).await;
    ensure!(
        matches!(created, Err(Error::InvalidConfig(_))),
        "create_agent({config:?}) must return Err(InvalidConfig(..)), got {created:?}"
    );
    // Refusing one config must not break the runtime.
    ctx.new_agent().await?;
    Ok(())
}

pub(crate) async fn shutdown_then_not_started(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    ctx.complete_turn(agent, &Content::text("conformance: before shutdown"))
        .await?;
    ctx.step("shutting the agent down");
    ctx.runtime()
        .shutdown_agent(agent)
        .await
        .must(format!("shutdown_agent({agent})"))?;
    ctx.step("calling every method on the shut-down agent");
    all_calls_not_started(ctx.runtime(), agent, "after shutdown_agent").await
}

pub(crate) async fn shutdown_cancels_turns(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let running = ctx.start_long_turn(agent).await?;
    let queued = ctx
        .chat(
            agent,
            &Content::text("conformance: queued behind the long turn"),
        )
        .await?;
    ctx.step("shutting the agent down while a turn runs and another is queued");
    ctx.runtime()
        .shutdown_agent(agent)
        .await
        .must(format!("shutdown_agent({agent})"))?;
    ctx.step("waiting for the running turn's handle to end");
    let running_outcome = running.text().await;
    ensure!(
        matches!(running_outcome, Err(Error::Cancelled)),
        "the turn running at shutdown must end with Err(Cancelled), got {}",
        outcome(&running_outcome)
    );
    ctx.step("waiting for the queued turn's handle to end");
    let queued_outcome = queued.text().await;
    ensure!(
        queued_outcome.is_err(),
        "a turn queued at shutdown must never run, but its handle ended with {}",
        outcome(&queued_outcome)
    );
    Ok(())
}

pub(crate) async fn unknown_id_not_started(ctx: Ctx) -> CheckResult {
    ctx.step("calling every method with an id on a runtime without agents");
    all_calls_not_started(ctx.runtime(), 1, "on a runtime that created no agent yet").await?;
    let agent = ctx.new_agent().await?;
    let never_created = agent.wrapping_add(1_000_003);
    ctx.step("calling every method with an id never created");
    all_calls_not_started(
        ctx.runtime(),
        never_created,
        &format!("with id {never_created}, never created (agent {agent} exists)"),
    )
    .await
}

pub(crate) async fn delete(ctx: Ctx) -> CheckResult {
    let doomed = ctx.new_agent().await?;
    let survivor = ctx.new_agent().await?;
    let prompt = Content::text("conformance: the survivor's turn");
    let answer = ctx.complete_turn(survivor, &prompt).await?;
    ctx.complete_turn(doomed, &Content::text("conformance: soon deleted"))
        .await?;
    ctx.step("deleting an agent");
    ctx.runtime()
        .delete(doomed)
        .await
        .must(format!("delete({doomed})"))?;
    ctx.step("calling every method on the deleted agent");
    all_calls_not_started(ctx.runtime(), doomed, "after delete").await?;
    ctx.step("reading the other agent's history");
    let history = ctx.runtime().history(survivor).await.must(format!(
        "history({survivor}) of an agent that was not deleted"
    ))?;
    history_is(
        &history,
        &[Entry::user(&prompt), Entry::model(&answer.text)],
        "deleting one agent must leave another alone",
    )
}

/// Calls `try_shutdown_agent` on a thread of its own, outside any tokio runtime (as a
/// `Drop` may). It must not block: a call that takes over 1 s is a warning, one that
/// never returns fails at the check's timeout.
async fn try_shutdown_from_plain_thread(ctx: &Ctx, agent: AgentId) -> CheckResult {
    let runtime = ctx.shared_runtime();
    let (done, answer) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| runtime.try_shutdown_agent(agent)));
        let _ = done.send(outcome.map_err(|payload| panic_text(payload.as_ref())));
    });
    let call = format!("try_shutdown_agent({agent}) called outside any tokio runtime");
    match ctx.within(Duration::from_secs(1), &call, answer).await? {
        Ok(Ok(())) => Ok(()),
        Ok(Err(panic)) => Err(Stop::Fail(format!("{call} panicked: {panic}"))),
        Err(_) => Err(Stop::Fail(format!(
            "{call}: its thread ended without an answer"
        ))),
    }
}

pub(crate) async fn try_shutdown_non_blocking(ctx: Ctx) -> CheckResult {
    let bystander = ctx.new_agent().await?;
    let agent = ctx.new_agent().await?;
    let running = ctx.start_long_turn(agent).await?;

    ctx.step("calling try_shutdown_agent while a turn runs");
    try_shutdown_from_plain_thread(&ctx, agent).await?;
    ctx.step("waiting for the running turn's handle to end");
    let ended = running.text().await;
    ensure!(
        matches!(ended, Err(Error::Cancelled)),
        "the turn running at try_shutdown_agent must end with Err(Cancelled) (a shutdown \
         never waits for it), got {}",
        outcome(&ended)
    );

    ctx.step(format!(
        "waiting for turn_count({agent}) to become Err(AgentNotStarted) after \
         try_shutdown_agent returned"
    ));
    let started = Instant::now();
    loop {
        match ctx.runtime().turn_count(agent).await {
            Err(Error::AgentNotStarted(id)) if id == agent => break,
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    if started.elapsed() > Duration::from_secs(1) {
        ctx.warn(format!(
            "turn_count({agent}) became Err(AgentNotStarted) only {} after \
             try_shutdown_agent({agent}) returned, expected within 1 s",
            millis(started.elapsed())
        ));
    }

    ctx.step("calling try_shutdown_agent on unknown ids");
    try_shutdown_from_plain_thread(&ctx, agent).await?;
    try_shutdown_from_plain_thread(&ctx, agent.wrapping_add(1_000_003)).await?;
    let count = ctx.runtime().turn_count(bystander).await.must(format!(
        "turn_count({bystander}) of an agent try_shutdown_agent never named"
    ))?;
    ensure!(
        count == 0,
        "turn_count of an untouched agent is {count}, expected 0"
    );
    Ok(())
}

pub(crate) async fn disconnect(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    ctx.step("disconnecting a live agent");
    ctx.runtime()
        .disconnect(agent)
        .await
        .must(format!("disconnect({agent}) on a live agent"))?;
    let prompt = Content::text("conformance: after disconnect");
    let answer = ctx.complete_turn(agent, &prompt).await?;
    let history = ctx.runtime().history(agent).await.must("history")?;
    history_is(
        &history,
        &[Entry::user(&prompt), Entry::model(&answer.text)],
        "after disconnect and one turn",
    )
}
