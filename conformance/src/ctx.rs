//! What a check runs with: a fresh runtime, the target's inputs, and a note of where it is.

use std::sync::{Arc, Mutex};

use agent_plugin_api::types::{AgentId, ChatResponseHandle, ChatResult, Content};
use agent_plugin_api::Runtime;
use futures::StreamExt;

use crate::case::Stop;
use crate::expect::Must;
use crate::target::Target;

/// The context of one check run.
#[derive(Clone)]
pub(crate) struct Ctx {
    runtime: Arc<dyn Runtime>,
    target: Target,
    step: Arc<Mutex<String>>,
}

impl Ctx {
    pub(crate) fn new(runtime: Arc<dyn Runtime>, target: Target, step: Arc<Mutex<String>>) -> Self {
        Ctx {
            runtime,
            target,
            step,
        }
    }

    pub(crate) fn runtime(&self) -> &dyn Runtime {
        self.runtime.as_ref()
    }

    /// The runtime, for work that must outlive a borrow (another thread).
    pub(crate) fn shared_runtime(&self) -> Arc<dyn Runtime> {
        self.runtime.clone()
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// Notes what the check is doing now, so that a timeout or a panic can say where.
    pub(crate) fn step(&self, doing: impl Into<String>) {
        let mut step = self
            .step
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *step = doing.into();
    }

    /// Another fresh runtime from the target's factory.
    pub(crate) async fn another_runtime(&self) -> Result<Arc<dyn Runtime>, Stop> {
        self.step("building a second runtime from the factory");
        self.target
            .build_runtime()
            .await
            .must("building a second runtime from the factory")
    }

    /// An agent made with the target's valid config.
    pub(crate) async fn new_agent(&self) -> Result<AgentId, Stop> {
        self.step("creating an agent with the target's config");
        self.runtime
            .create_agent(self.target.agent_config().clone())
            .await
            .must("create_agent with the target's valid config")
    }

    pub(crate) async fn chat(
        &self,
        agent: AgentId,
        content: &Content,
    ) -> Result<ChatResponseHandle, Stop> {
        self.step(format!("calling chat on agent {agent}"));
        self.runtime.chat(agent, content).await.must("chat")
    }

    /// Starts the long turn and waits until it has visibly started (its first event
    /// arrived), so that the check acts on a running turn.
    pub(crate) async fn start_long_turn(&self, agent: AgentId) -> Result<ChatResponseHandle, Stop> {
        let handle = self.chat(agent, self.target.long_prompt()).await?;
        self.step("waiting for the first event of the long turn");
        if handle.events().next().await.is_none() {
            let outcome = handle.text().await;
            return Err(Stop::Fail(format!(
                "the long turn ended before any event, with {outcome:?}; \
                 a turn on the long prompt must run well over 100 ms"
            )));
        }
        Ok(handle)
    }

    /// A whole turn: chat, read the answer, then wait until the agent is idle, so that
    /// the conversation state includes the turn.
    pub(crate) async fn complete_turn(
        &self,
        agent: AgentId,
        content: &Content,
    ) -> Result<ChatResult, Stop> {
        let handle = self.chat(agent, content).await?;
        self.step(format!("reading the answer of a turn on agent {agent}"));
        let result = handle
            .text()
            .await
            .must("the turn's answer (handle.text())")?;
        self.wait_for_idle(agent).await?;
        Ok(result)
    }

    pub(crate) async fn wait_for_idle(&self, agent: AgentId) -> Result<(), Stop> {
        self.step(format!("waiting for agent {agent} to be idle"));
        self.runtime
            .wait_for_idle(agent)
            .await
            .must("wait_for_idle")
    }
}
