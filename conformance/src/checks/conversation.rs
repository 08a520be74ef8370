//! Conversation state: history, counts, usage, clearing ("Conversation state" and the last
//! point of "Turns" in semantics.md).

use agent_plugin_api::types::{
    AgentId, ChatResponseHandle, Content, ConversationMessage, UsageMetadata,
};

use crate::case::{CheckResult, Stop};
use crate::ctx::Ctx;
use crate::expect::{brief, history_is, outcome, Entry, Must};

async fn history_of(ctx: &Ctx, agent: AgentId) -> Result<Vec<ConversationMessage>, Stop> {
    ctx.runtime()
        .history(agent)
        .await
        .must(format!("history({agent})"))
}

async fn count_of(ctx: &Ctx, agent: AgentId) -> Result<u32, Stop> {
    ctx.runtime()
        .turn_count(agent)
        .await
        .must(format!("turn_count({agent})"))
}

pub(crate) async fn history_order(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    history_is(&history_of(&ctx, agent).await?, &[], "on a fresh agent")?;
    let first = Content::text("conformance: the first message");
    let second = Content::text("conformance: the second message");
    let first_answer = ctx.complete_turn(agent, &first).await?;
    history_is(
        &history_of(&ctx, agent).await?,
        &[Entry::user(&first), Entry::model(&first_answer.text)],
        "after one turn",
    )?;
    let second_answer = ctx.complete_turn(agent, &second).await?;
    history_is(
        &history_of(&ctx, agent).await?,
        &[
            Entry::user(&first),
            Entry::model(&first_answer.text),
            Entry::user(&second),
            Entry::model(&second_answer.text),
        ],
        "after two turns",
    )
}

pub(crate) async fn turn_count(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    for expected in 0..3_u32 {
        let count = count_of(&ctx, agent).await?;
        ensure!(
            count == expected,
            "turn_count is {count} after {expected} completed turns"
        );
        ctx.complete_turn(
            agent,
            &Content::text(format!("conformance: turn number {}", expected + 1)),
        )
        .await?;
    }
    Ok(())
}

async fn usages(ctx: &Ctx, agent: AgentId) -> Result<(UsageMetadata, UsageMetadata), Stop> {
    let last = ctx
        .runtime()
        .last_turn_usage(agent)
        .await
        .must("last_turn_usage")?;
    let total = ctx.runtime().total_usage(agent).await.must("total_usage")?;
    Ok((last, total))
}

pub(crate) async fn usage_sums(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let (last, total) = usages(&ctx, agent).await?;
    ensure!(
        last == UsageMetadata::default() && total == UsageMetadata::default(),
        "before any turn, last_turn_usage and total_usage must have every count None, got \
         {last:?} and {total:?}"
    );
    let mut sum = UsageMetadata::default();
    for turn in 1..=2 {
        let result = ctx
            .complete_turn(agent, &Content::text(format!("conformance: usage {turn}")))
            .await?;
        sum += result.usage;
        let (last, total) = usages(&ctx, agent).await?;
        ensure!(
            last == result.usage,
            "after turn {turn}, last_turn_usage is {last:?} but the turn's ChatResult.usage \
             is {:?}",
            result.usage
        );
        ensure!(
            total == sum,
            "after turn {turn}, total_usage is {total:?}, expected the sum of the turns' \
             ChatResult.usage: {sum:?}"
        );
    }
    ctx.step("clearing the history");
    ctx.runtime()
        .clear_history(agent)
        .await
        .must("clear_history")?;
    let result = ctx
        .complete_turn(agent, &Content::text("conformance: usage after clearing"))
        .await?;
    sum += result.usage;
    let (_, total) = usages(&ctx, agent).await?;
    ensure!(
        total == sum,
        "clear_history must not reset total_usage: after two turns, a clear and a third turn \
         it is {total:?}, expected {sum:?}"
    );
    Ok(())
}

pub(crate) async fn clear_history(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    for turn in 1..=2 {
        ctx.complete_turn(agent, &Content::text(format!("conformance: clear {turn}")))
            .await?;
    }
    let (_, total_before) = usages(&ctx, agent).await?;
    ctx.step("clearing the history");
    ctx.runtime()
        .clear_history(agent)
        .await
        .must("clear_history")?;
    history_is(&history_of(&ctx, agent).await?, &[], "after clear_history")?;
    let count = count_of(&ctx, agent).await?;
    ensure!(count == 0, "turn_count is {count} after clear_history");
    let last = ctx
        .runtime()
        .last_response(agent)
        .await
        .must("last_response")?;
    ensure!(
        last.is_none(),
        "last_response is {last:?} after clear_history, expected None"
    );
    let indices = ctx
        .runtime()
        .compaction_indices(agent)
        .await
        .must("compaction_indices")?;
    ensure!(
        indices.is_empty(),
        "compaction_indices is {indices:?} after clear_history, expected empty"
    );
    let (_, total_after) = usages(&ctx, agent).await?;
    ensure!(
        total_after == total_before,
        "clear_history changed total_usage from {total_before:?} to {total_after:?}"
    );
    let prompt = Content::text("conformance: after clearing");
    let answer = ctx.complete_turn(agent, &prompt).await?;
    history_is(
        &history_of(&ctx, agent).await?,
        &[Entry::user(&prompt), Entry::model(&answer.text)],
        "after clear_history and one more turn",
    )?;
    let count = count_of(&ctx, agent).await?;
    ensure!(
        count == 1,
        "turn_count is {count} after clear_history and one more turn"
    );
    Ok(())
}

pub(crate) async fn last_response(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let before = ctx
        .runtime()
        .last_response(agent)
        .await
        .must("last_response")?;
    ensure!(
        before.is_none(),
        "last_response must be None before any turn, got {before:?}"
    );
    for turn in 1..=2 {
        let answer = ctx
            .complete_turn(agent, &Content::text(format!("conformance: answer {turn}")))
            .await?;
        let last = ctx
            .runtime()
            .last_response(agent)
            .await
            .must("last_response")?;
        match last {
            None if turn == 1 => {
                skip!("the backend does not keep last_response (None after a turn)")
            }
            Some(text) if text == answer.text => {}
            other => {
                return Err(Stop::Fail(format!(
                    "after turn {turn}, last_response is {}, expected that turn's answer {}",
                    other.as_deref().map_or("None".to_owned(), brief),
                    brief(&answer.text)
                )))
            }
        }
    }
    Ok(())
}

pub(crate) async fn compaction_indices(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    for turn in 0..=3 {
        if turn > 0 {
            ctx.complete_turn(
                agent,
                &Content::text(format!("conformance: compact {turn}")),
            )
            .await?;
        }
        let indices = ctx
            .runtime()
            .compaction_indices(agent)
            .await
            .must("compaction_indices")?;
        let length = history_of(&ctx, agent).await?.len();
        let beyond: Vec<u32> = indices
            .iter()
            .copied()
            .filter(|&index| usize::try_from(index).map_or(true, |index| index > length))
            .collect();
        ensure!(
            beyond.is_empty(),
            "after {turn} turns the history holds {length} messages, but compaction_indices \
             {indices:?} has positions beyond it: {beyond:?}"
        );
    }
    Ok(())
}

/// Everything a turn may change, read in one go.
#[derive(Debug, PartialEq)]
struct Snapshot {
    history: Vec<ConversationMessage>,
    turn_count: u32,
    last_turn_usage: UsageMetadata,
    total_usage: UsageMetadata,
    last_response: Option<String>,
}

async fn snapshot(ctx: &Ctx, agent: AgentId) -> Result<Snapshot, Stop> {
    let (last_turn_usage, total_usage) = usages(ctx, agent).await?;
    Ok(Snapshot {
        history: history_of(ctx, agent).await?,
        turn_count: count_of(ctx, agent).await?,
        last_turn_usage,
        total_usage,
        last_response: ctx
            .runtime()
            .last_response(agent)
            .await
            .must("last_response")?,
    })
}

/// Waits for a turn that must end in an error, then checks the conversation state is
/// still `before`.
async fn unsuccessful_turn_changes_nothing(
    ctx: &Ctx,
    agent: AgentId,
    what: &str,
    handle: ChatResponseHandle,
    before: Snapshot,
) -> CheckResult {
    ctx.step(format!("waiting for the {what} turn to end"));
    let ended = handle.text().await;
    ensure!(
        ended.is_err(),
        "the {what} turn must end with an error, got {}",
        outcome(&ended)
    );
    let turn = format!("a {what} turn (ended with {})", outcome(&ended));
    state_unchanged(ctx, agent, &turn, before).await
}

async fn state_unchanged(ctx: &Ctx, agent: AgentId, turn: &str, before: Snapshot) -> CheckResult {
    ctx.wait_for_idle(agent).await?;
    let after = snapshot(ctx, agent).await?;
    ensure!(
        after == before,
        "{turn} must change nothing, but the conversation state went from {before:?} to \
         {after:?}"
    );
    Ok(())
}

pub(crate) async fn cancelled_turn_changes_nothing(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    ctx.complete_turn(agent, &Content::text("conformance: a good turn first"))
        .await?;
    let before = snapshot(&ctx, agent).await?;
    let running = ctx.start_long_turn(agent).await?;
    ctx.step("cancelling the running turn");
    ctx.runtime().cancel(agent).await.must("cancel")?;
    unsuccessful_turn_changes_nothing(&ctx, agent, "cancelled", running, before).await
}

pub(crate) async fn failed_turn_changes_nothing(ctx: Ctx) -> CheckResult {
    let Some(prompt) = ctx.target().failing_prompt().cloned() else {
        skip!("the target names no failing prompt, so no turn can be made to fail");
    };
    let agent = ctx.new_agent().await?;
    ctx.complete_turn(agent, &Content::text("conformance: a good turn first"))
        .await?;
    let before = snapshot(&ctx, agent).await?;
    ctx.step("calling chat with the failing prompt");
    match ctx.runtime().chat(agent, &prompt).await {
        Ok(handle) => {
            unsuccessful_turn_changes_nothing(&ctx, agent, "failed", handle, before).await
        }
        // Refusing the turn outright is a failure too.
        Err(error) => {
            let turn = format!("a turn refused by chat with Err({error:?})");
            state_unchanged(&ctx, agent, &turn, before).await
        }
    }
}
