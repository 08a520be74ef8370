//! Many agents at once on one runtime.

use std::collections::HashSet;

use agent_plugin_api::types::{AgentId, Content, Role};
use agent_plugin_api::Runtime;
use futures::future::join_all;

use crate::case::CheckResult;
use crate::ctx::Ctx;
use crate::expect::brief;

const AGENTS: usize = 100;

/// One agent's whole life in this check; the error says what went wrong with it.
async fn one_agent(
    runtime: &dyn Runtime,
    config: agent_plugin_api::types::AgentConfig,
    number: usize,
) -> Result<AgentId, String> {
    let prompt = Content::text(format!("conformance: agent number {number}"));
    let agent = runtime
        .create_agent(config)
        .await
        .map_err(|error| format!("create_agent: {error:?}"))?;
    let handle = runtime
        .chat(agent, &prompt)
        .await
        .map_err(|error| format!("agent {agent}: chat: {error:?}"))?;
    let answer = handle
        .text()
        .await
        .map_err(|error| format!("agent {agent}: answer: {error:?}"))?;
    if answer.text.is_empty() {
        return Err(format!("agent {agent}: the answer is empty"));
    }
    runtime
        .wait_for_idle(agent)
        .await
        .map_err(|error| format!("agent {agent}: wait_for_idle: {error:?}"))?;
    let history = runtime
        .history(agent)
        .await
        .map_err(|error| format!("agent {agent}: history: {error:?}"))?;
    let first_user = history
        .first()
        .map(|message| (&message.role, message.content.to_text()));
    if history.len() != 2 || first_user != Some((&Role::User, prompt.to_text())) {
        let roles_and_texts: Vec<String> = history
            .iter()
            .map(|message| format!("{:?} {}", message.role, brief(&message.content.to_text())))
            .collect();
        return Err(format!(
            "agent {agent}: history must be [User {}, Model ..], got {roles_and_texts:?}",
            brief(&prompt.to_text())
        ));
    }
    let count = runtime
        .turn_count(agent)
        .await
        .map_err(|error| format!("agent {agent}: turn_count: {error:?}"))?;
    if count != 1 {
        return Err(format!("agent {agent}: turn_count is {count}, expected 1"));
    }
    Ok(agent)
}

pub(crate) async fn many_agents(ctx: Ctx) -> CheckResult {
    ctx.step(format!("running {AGENTS} agents at the same time"));
    let config = ctx.target().agent_config().clone();
    let outcomes =
        join_all((0..AGENTS).map(|number| one_agent(ctx.runtime(), config.clone(), number))).await;
    let mut ids = HashSet::new();
    let mut problems = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(agent) if !ids.insert(agent) => {
                problems.push(format!("id {agent} was given to two agents"));
            }
            Ok(_) => {}
            Err(problem) => problems.push(problem),
        }
    }
    ensure!(
        problems.is_empty(),
        "{} of {AGENTS} concurrent agents went wrong; the first: {}",
        problems.len(),
        problems
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    Ok(())
}
