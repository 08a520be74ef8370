//! Saved conversations: `save_dir` and `conversation_id` ("Saved conversations" in
//! semantics.md). A backend that saves nothing (its `conversation_id` is `None` for an
//! agent with a `save_dir`) skips these checks.

use std::path::Path;

use agent_plugin_api::types::{
    AgentConfig, AgentId, Content, ConversationMessage, Error, UsageMetadata,
};
use agent_plugin_api::Runtime;

use crate::case::{CheckResult, Stop};
use crate::ctx::Ctx;
use crate::expect::{brief, Must};

/// What a conversation comes back with.
#[derive(Debug, PartialEq)]
struct State {
    history: Vec<ConversationMessage>,
    turn_count: u32,
    total_usage: UsageMetadata,
    last_turn_usage: UsageMetadata,
}

async fn state_of(runtime: &dyn Runtime, agent: AgentId) -> Result<State, Stop> {
    Ok(State {
        history: runtime.history(agent).await.must("history")?,
        turn_count: runtime.turn_count(agent).await.must("turn_count")?,
        total_usage: runtime.total_usage(agent).await.must("total_usage")?,
        last_turn_usage: runtime
            .last_turn_usage(agent)
            .await
            .must("last_turn_usage")?,
    })
}

/// A directory of its own for the check's conversations, removed when it ends.
fn save_dir() -> Result<tempfile::TempDir, Stop> {
    tempfile::Builder::new()
        .prefix("agent-conformance-")
        .tempdir()
        .map_err(|error| Stop::Fail(format!("cannot make a temporary save_dir: {error}")))
}

fn saved_config(ctx: &Ctx, dir: &Path, id: Option<&str>) -> AgentConfig {
    let mut config = ctx.target().agent_config().clone();
    config.save_dir = Some(dir.to_owned());
    config.conversation_id = id.map(str::to_owned);
    config
}

async fn create(
    ctx: &Ctx,
    runtime: &dyn Runtime,
    config: AgentConfig,
    doing: &str,
) -> Result<AgentId, Stop> {
    ctx.step(doing);
    runtime
        .create_agent(config)
        .await
        .must(format!("create_agent {doing}"))
}

/// The agent's conversation id, skipping the check for a backend that saves nothing.
async fn conversation_id_of(
    runtime: &dyn Runtime,
    agent: AgentId,
    config: &AgentConfig,
) -> Result<String, Stop> {
    match runtime
        .conversation_id(agent)
        .await
        .must("conversation_id")?
    {
        Some(id) => Ok(id),
        None => skip!(
            "the backend saves no conversations (conversation_id is None for an agent \
             created with save_dir {:?})",
            config.save_dir
        ),
    }
}

async fn shut_down(runtime: &dyn Runtime, agent: AgentId) -> CheckResult {
    runtime
        .shutdown_agent(agent)
        .await
        .must(format!("shutdown_agent({agent})"))
}

fn same_state(resumed: &State, saved: &State, situation: &str) -> CheckResult {
    ensure!(
        resumed == saved,
        "{situation}, the agent must resume its saved conversation: expected {} messages, \
         turn_count {}, total_usage {:?}, last_turn_usage {:?}; got {} messages ({}), \
         turn_count {}, total_usage {:?}, last_turn_usage {:?}",
        saved.history.len(),
        saved.turn_count,
        saved.total_usage,
        saved.last_turn_usage,
        resumed.history.len(),
        roles(&resumed.history),
        resumed.turn_count,
        resumed.total_usage,
        resumed.last_turn_usage
    );
    Ok(())
}

fn roles(history: &[ConversationMessage]) -> String {
    let roles: Vec<&str> = history.iter().map(|message| message.role.name()).collect();
    roles.join(", ")
}

pub(crate) async fn resumes_after_restart(ctx: Ctx) -> CheckResult {
    let dir = save_dir()?;
    let config = saved_config(&ctx, dir.path(), Some("conformance-resume"));
    let runtime = ctx.runtime();
    let agent = create(&ctx, runtime, config.clone(), "with a save_dir").await?;
    let id = conversation_id_of(runtime, agent, &config).await?;
    ensure!(
        id == "conformance-resume",
        "conversation_id must be the config's, \"conformance-resume\", got {}",
        brief(&id)
    );
    ctx.complete_turn(agent, &Content::text("conformance: remember this"))
        .await?;
    ctx.step("cancelling a long turn, which must not be saved");
    let long = ctx.start_long_turn(agent).await?;
    runtime.cancel(agent).await.must("cancel")?;
    let _ = long.text().await;
    ctx.wait_for_idle(agent).await?;
    ctx.complete_turn(agent, &Content::text("conformance: and this"))
        .await?;
    let saved = state_of(runtime, agent).await?;
    let last_response = runtime.last_response(agent).await.must("last_response")?;
    shut_down(runtime, agent).await?;

    let restarted = ctx.another_runtime().await?;
    let resumed = create(
        &ctx,
        restarted.as_ref(),
        config.clone(),
        "on the same conversation in a new runtime",
    )
    .await?;
    same_state(
        &state_of(restarted.as_ref(), resumed).await?,
        &saved,
        "in a new runtime, with the same save_dir and conversation_id",
    )?;
    let response = restarted
        .last_response(resumed)
        .await
        .must("last_response")?;
    // A backend that keeps no last response (None before) may keep none after either.
    ensure!(
        response == last_response,
        "after resuming, last_response must be what it was before the restart ({}), got \
         {response:?}",
        last_response.as_deref().map_or("None".into(), brief)
    );
    ctx.step("a turn on the resumed agent");
    let handle = restarted
        .chat(resumed, &Content::text("conformance: one more"))
        .await
        .must("chat")?;
    handle.text().await.must("the resumed agent's answer")?;
    restarted
        .wait_for_idle(resumed)
        .await
        .must("wait_for_idle")?;
    let count = restarted.turn_count(resumed).await.must("turn_count")?;
    ensure!(
        count == saved.turn_count + 1,
        "a turn on the resumed agent must count on from {}: turn_count is {count}",
        saved.turn_count
    );
    shut_down(restarted.as_ref(), resumed).await
}

pub(crate) async fn clear_and_delete(ctx: Ctx) -> CheckResult {
    let dir = save_dir()?;
    let config = saved_config(&ctx, dir.path(), Some("conformance-clear"));
    let runtime = ctx.runtime();
    let agent = create(&ctx, runtime, config.clone(), "with a save_dir").await?;
    conversation_id_of(runtime, agent, &config).await?;
    ctx.complete_turn(agent, &Content::text("conformance: forget this"))
        .await?;
    let usage = runtime.total_usage(agent).await.must("total_usage")?;
    ctx.step("clearing the history");
    runtime.clear_history(agent).await.must("clear_history")?;
    shut_down(runtime, agent).await?;
    let cleared = create(&ctx, runtime, config.clone(), "again after clear_history").await?;
    let state = state_of(runtime, cleared).await?;
    ensure!(
        state.history.is_empty() && state.turn_count == 0 && state.total_usage == usage,
        "an agent resuming a cleared conversation must start with no history and no turns, \
         and keep total_usage {usage:?}; got {} messages, turn_count {}, total_usage {:?}",
        state.history.len(),
        state.turn_count,
        state.total_usage
    );
    ctx.complete_turn(cleared, &Content::text("conformance: delete this"))
        .await?;
    ctx.step("deleting the agent");
    runtime
        .delete(cleared)
        .await
        .must(format!("delete({cleared})"))?;
    let fresh = create(&ctx, runtime, config, "again after delete").await?;
    let state = state_of(runtime, fresh).await?;
    ensure!(
        state.history.is_empty()
            && state.turn_count == 0
            && state.total_usage == UsageMetadata::default(),
        "after delete, a new agent on the conversation must start afresh (delete removes \
         what was saved); got {} messages, turn_count {}, total_usage {:?}",
        state.history.len(),
        state.turn_count,
        state.total_usage
    );
    shut_down(runtime, fresh).await
}

pub(crate) async fn generated_id(ctx: Ctx) -> CheckResult {
    let dir = save_dir()?;
    let config = saved_config(&ctx, dir.path(), None);
    let runtime = ctx.runtime();
    let first = create(&ctx, runtime, config.clone(), "with a save_dir and no id").await?;
    let id = conversation_id_of(runtime, first, &config).await?;
    let second = create(&ctx, runtime, config.clone(), "a second with no id").await?;
    let other = conversation_id_of(runtime, second, &config).await?;
    ensure!(
        id != other,
        "two agents created without a conversation_id got the same one, {}",
        brief(&id)
    );
    ctx.complete_turn(first, &Content::text("conformance: saved under a new id"))
        .await?;
    let saved = state_of(runtime, first).await?;
    shut_down(runtime, first).await?;
    shut_down(runtime, second).await?;
    let resumed = create(
        &ctx,
        runtime,
        saved_config(&ctx, dir.path(), Some(&id)),
        "with the id conversation_id reported",
    )
    .await?;
    same_state(
        &state_of(runtime, resumed).await?,
        &saved,
        &format!("created with the reported id {}", brief(&id)),
    )?;
    shut_down(runtime, resumed).await
}

pub(crate) async fn one_agent_per_conversation(ctx: Ctx) -> CheckResult {
    let dir = save_dir()?;
    let config = saved_config(&ctx, dir.path(), Some("conformance-busy"));
    let runtime = ctx.runtime();
    let first = create(&ctx, runtime, config.clone(), "with a save_dir").await?;
    conversation_id_of(runtime, first, &config).await?;
    ctx.step("creating a second agent on the same conversation");
    match runtime.create_agent(config.clone()).await {
        Err(Error::InvalidConfig(_)) => {}
        other => {
            return Err(Stop::Fail(format!(
                "a second live agent on conversation \"conformance-busy\" must be refused \
                 with Err(InvalidConfig(..)) (two writers would mix their turns), got {other:?}"
            )))
        }
    }
    shut_down(runtime, first).await?;
    let after = create(
        &ctx,
        runtime,
        config,
        "on the conversation once its agent shut down",
    )
    .await?;
    shut_down(runtime, after).await
}
