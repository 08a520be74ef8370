//! Turns: the handle, its streams, ordering and cancellation ("Turns" in semantics.md).

use agent_plugin_api::types::{ChatEvent, Content, Error};
use futures::future::join_all;
use futures::StreamExt;

use crate::case::{CheckResult, Stop};
use crate::ctx::Ctx;
use crate::expect::{brief, history_is, millis, outcome, Entry, Must, LONG_TURN, LONG_TURN_MIN};

fn timeline_text(events: &[ChatEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            ChatEvent::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

pub(crate) async fn handle_before_completion(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let handle = ctx.chat(agent, ctx.target().long_prompt()).await?;
    let finished = handle.is_finished();
    let count = ctx.runtime().turn_count(agent).await.must("turn_count")?;
    if finished {
        drop(handle);
        ctx.wait_for_idle(agent).await?;
        let takes = ctx.long_turn_takes(agent).await?;
        ensure!(
            takes < LONG_TURN_MIN,
            "chat must return its handle before the answer is complete, but right after chat \
             returned on the long prompt its turn was already complete, although a turn on \
             the long prompt takes {} from chat to its answer",
            millis(takes)
        );
        return Err(Stop::Warn(format!(
            "right after chat returned on the long prompt its turn was already complete \
             (the whole turn takes {}), so this check cannot tell a backend that waits for \
             the answer in chat from a fast one: {LONG_TURN}",
            millis(takes)
        )));
    }
    ensure!(
        count == 0,
        "chat must return its handle before the answer is complete, but right after chat \
         returned on the long prompt, with the handle not finished, turn_count was {count} \
         (expected 0)"
    );
    ctx.step("reading the answer");
    handle
        .text()
        .await
        .must("the turn's answer (handle.text())")?;
    Ok(())
}

pub(crate) async fn text_matches_chunks(ctx: Ctx) -> CheckResult {
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

pub(crate) async fn independent_streams(ctx: Ctx) -> CheckResult {
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

pub(crate) async fn turns_in_call_order(ctx: Ctx) -> CheckResult {
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

pub(crate) async fn drop_cancels(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let running = ctx.start_long_turn(agent).await?;
    let queued = ctx
        .chat(agent, &Content::text("conformance: queued, then dropped"))
        .await?;
    ctx.step("dropping the queued handle, then the running one");
    timing!(
        !running.is_finished(),
        "the long turn had already ended when its handle was dropped, so this check cannot \
         tell whether a drop cancels: {LONG_TURN}"
    );
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

pub(crate) async fn cancel_ends_turn(ctx: Ctx) -> CheckResult {
    let agent = ctx.new_agent().await?;
    let running = ctx.start_long_turn(agent).await?;
    let queued_prompt = Content::text("conformance: queued behind the cancelled turn");
    let queued = ctx.chat(agent, &queued_prompt).await?;
    ctx.step("cancelling the running turn");
    let ended_before = running.is_finished();
    ctx.runtime()
        .cancel(agent)
        .await
        .must(format!("cancel({agent}) with a running turn"))?;
    ctx.step("waiting for the cancelled turn's handle to end");
    let ended = running.text().await;
    timing!(
        !(ended_before && ended.is_ok()),
        "the long turn had already completed when cancel was called, so there was nothing \
         to cancel: {LONG_TURN}"
    );
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

pub(crate) async fn cancel_without_turn(ctx: Ctx) -> CheckResult {
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
