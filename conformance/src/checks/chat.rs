//! Turns: the handle, its streams, ordering and cancellation ("Turns" in semantics.md).

use agent_plugin_api::types::{ChatEvent, Content, Error};
use futures::future::join_all;
use futures::StreamExt;

use super::case;
use crate::case::{Case, CheckResult};
use crate::ctx::Ctx;
use crate::expect::{brief, history_is, outcome, Entry, Must};

pub(crate) const CASES: &[Case] = &[
    case!(
        "chat.handle_before_completion",
        "chat returns its handle as soon as the turn is queued, before the answer is complete",
        handle_before_completion
    ),
    case!(
        "chat.text_matches_chunks",
        "the ChatResult text is every text chunk concatenated, in the text stream and in the timeline",
        text_matches_chunks
    ),
    case!(
        "chat.independent_streams",
        "each stream of a handle can be read or ignored on its own; an unread stream stalls nothing",
        independent_streams
    ),
    case!(
        "chat.turns_in_call_order",
        "turns on one agent run one at a time, in call order",
        turns_in_call_order
    ),
    case!(
        "chat.drop_cancels",
        "dropping a handle cancels its turn: a queued turn never runs, a running one stops",
        drop_cancels
    ),
    case!(
        "chat.cancel_ends_turn",
        "cancel ends the running turn with Error::Cancelled; queued turns still run; chat works after",
        cancel_ends_turn
    ),
    case!(
        "chat.cancel_without_turn",
        "cancel with no running turn is a no-op Ok(())",
        cancel_without_turn
    ),
];

fn timeline_text(events: &[ChatEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            ChatEvent::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

async fn handle_before_completion(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let handle = ctx.chat(agent, ctx.target().long_prompt()).await?;
    let finished = handle.is_finished();
    let count = ctx.runtime().turn_count(agent).await.must("turn_count")?;
    ensure!(
        !finished && count == 0,
        "chat must return its handle before the answer is complete, but right after chat \
         returned on the long prompt, is_finished() was {finished} and turn_count was {count} \
         (expected false and 0)"
    );
    ctx.step("reading the answer");
    handle
        .text()
        .await
        .must("the turn's answer (handle.text())")?;
    Ok(())
}

async fn text_matches_chunks(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let handle = ctx.chat(agent, ctx.target().long_prompt()).await?;
    ctx.step("reading the text stream, the timeline and the result together");
    let (chunks, events, result) = tokio::join!(
        handle.text_stream().collect::<Vec<_>>(),
        handle.events().collect::<Vec<_>>(),
        handle.text()
    );
    let result = result.must("the turn's answer (handle.text())")?;
    ensure!(
        chunks.concat() == result.text,
        "ChatResult.text must be the text chunks concatenated: the {} chunks joined give {}, \
         ChatResult.text is {}",
        chunks.len(),
        brief(&chunks.concat()),
        brief(&result.text)
    );
    let from_timeline = timeline_text(&events);
    ensure!(
        from_timeline == result.text,
        "the Text events of the timeline (events()) give {}, ChatResult.text is {}",
        brief(&from_timeline),
        brief(&result.text)
    );
    ctx.step("reading the text stream again after the end");
    let replayed: Vec<String> = handle.text_stream().collect().await;
    ensure!(
        replayed == chunks,
        "a text stream taken after the turn ended must replay every chunk from the first: \
         got {} chunks, the live stream had {}",
        replayed.len(),
        chunks.len()
    );
    Ok(())
}

async fn independent_streams(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;

    // Read the thoughts only, to their end, with a tool-call stream taken but never read.
    let handle = ctx.chat(agent, ctx.target().long_prompt()).await?;
    let _never_read = handle.tool_calls();
    ctx.step("reading only the thoughts stream to its end");
    let thoughts: Vec<String> = handle.thoughts().collect().await;
    ctx.step("reading the answer after the thoughts");
    let result = handle.text().await.must(format!(
        "handle.text() after reading only the thoughts ({} of them)",
        thoughts.len()
    ))?;
    let chunks: Vec<String> = handle.text_stream().collect().await;
    ensure!(
        chunks.concat() == result.text,
        "after reading only the thoughts, the text stream holds {}, ChatResult.text is {}",
        brief(&chunks.concat()),
        brief(&result.text)
    );

    // Read nothing until the backend is done, then the timeline and the text separately.
    let handle = ctx
        .chat(
            agent,
            &Content::text("conformance: nobody reads this turn yet"),
        )
        .await?;
    ctx.wait_for_idle(agent).await?;
    ctx.step("reading the timeline of a turn nobody read while it ran");
    let events: Vec<ChatEvent> = handle.events().collect().await;
    ctx.step("reading the text stream after the timeline");
    let chunks: Vec<String> = handle.text_stream().collect().await;
    let result = handle
        .text()
        .await
        .must("handle.text() of a turn nobody read while it ran")?;
    let from_timeline = timeline_text(&events);
    ensure!(
        from_timeline == chunks.concat() && from_timeline == result.text,
        "read one after the other, the timeline's text {}, the text stream {} and \
         ChatResult.text {} must be equal",
        brief(&from_timeline),
        brief(&chunks.concat()),
        brief(&result.text)
    );
    Ok(())
}

async fn turns_in_call_order(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    // The slow turn first: a backend that ran turns side by side would finish the
    // short ones before it.
    let prompts = [
        ctx.target().long_prompt().clone(),
        Content::text("conformance: second turn"),
        Content::text("conformance: third turn"),
    ];
    let mut handles = Vec::new();
    for prompt in &prompts {
        handles.push(ctx.chat(agent, prompt).await?);
    }
    ctx.step("reading the three answers");
    let answers = join_all(handles.iter().map(|handle| handle.text())).await;
    let mut expected = Vec::new();
    for (index, (prompt, answer)) in prompts.iter().zip(answers).enumerate() {
        let answer = answer.must(format!("the answer of turn {}", index + 1))?;
        expected.push(Entry::user(prompt));
        expected.push(Entry::model(&answer.text));
    }
    ctx.wait_for_idle(agent).await?;
    let history = ctx.runtime().history(agent).await.must("history")?;
    history_is(
        &history,
        &expected,
        "three turns queued at once must run in call order",
    )
}

async fn drop_cancels(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let running = ctx.start_long_turn(agent).await?;
    let queued = ctx
        .chat(agent, &Content::text("conformance: queued, then dropped"))
        .await?;
    ctx.step("dropping the queued handle, then the running one");
    drop(queued);
    drop(running);
    let prompt = Content::text("conformance: after the dropped turns");
    let answer = ctx.complete_turn(agent, &prompt).await?;
    let history = ctx.runtime().history(agent).await.must("history")?;
    history_is(
        &history,
        &[Entry::user(&prompt), Entry::model(&answer.text)],
        "after dropping a running and a queued handle, then one turn, only that turn may \
         be in the history",
    )?;
    let count = ctx.runtime().turn_count(agent).await.must("turn_count")?;
    ensure!(
        count == 1,
        "turn_count is {count}; only the one turn that was read counts, the dropped ones never \
         complete"
    );
    Ok(())
}

async fn cancel_ends_turn(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let running = ctx.start_long_turn(agent).await?;
    let queued_prompt = Content::text("conformance: queued behind the cancelled turn");
    let queued = ctx.chat(agent, &queued_prompt).await?;
    ctx.step("cancelling the running turn");
    ctx.runtime()
        .cancel(agent)
        .await
        .must(format!("cancel({agent}) with a running turn"))?;
    ctx.step("waiting for the cancelled turn's handle to end");
    let ended = running.text().await;
    ensure!(
        matches!(ended, Err(Error::Cancelled)),
        "the cancelled turn's handle must end with Err(Cancelled), got {}",
        outcome(&ended)
    );
    ctx.step("waiting for the turn queued behind the cancelled one");
    let queued_answer = queued
        .text()
        .await
        .must("the turn queued behind the cancelled one (cancel must not touch queued turns)")?;
    let later_prompt = Content::text("conformance: after the cancel");
    let later = ctx.complete_turn(agent, &later_prompt).await?;
    let history = ctx.runtime().history(agent).await.must("history")?;
    history_is(
        &history,
        &[
            Entry::user(&queued_prompt),
            Entry::model(&queued_answer.text),
            Entry::user(&later_prompt),
            Entry::model(&later.text),
        ],
        "after a cancelled turn, the queued one and a later one",
    )
}

async fn cancel_without_turn(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    ctx.step("cancelling on a fresh agent");
    let outcome = ctx.runtime().cancel(agent).await;
    ensure!(
        outcome == Ok(()),
        "cancel on an agent that never had a turn must be Ok(()), got {outcome:?}"
    );
    let prompt = Content::text("conformance: a turn before a stray cancel");
    let answer = ctx.complete_turn(agent, &prompt).await?;
    ctx.step("cancelling after the turn completed");
    let outcome = ctx.runtime().cancel(agent).await;
    ensure!(
        outcome == Ok(()),
        "cancel on an agent whose turns all completed must be Ok(()), got {outcome:?}"
    );
    let history = ctx.runtime().history(agent).await.must("history")?;
    history_is(
        &history,
        &[Entry::user(&prompt), Entry::model(&answer.text)],
        "a cancel with no running turn must change nothing",
    )?;
    ctx.complete_turn(agent, &Content::text("conformance: after the stray cancel"))
        .await?;
    Ok(())
}
