//! What a check runs with: a fresh runtime, the target's inputs, and a note of where it is.

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_plugin_api::types::{AgentId, ChatResponseHandle, ChatResult, Content};
use agent_plugin_api::Runtime;
use futures::StreamExt;

use crate::case::Stop;
use crate::expect::{millis, Must};
use crate::target::Target;

/// The context of one check run.
#[derive(Clone)]
pub(crate) struct Ctx {
    runtime: Arc<dyn Runtime>,
    target: Target,
    step: Arc<Mutex<String>>,
    warnings: Arc<Mutex<Vec<String>>>,
}

impl Ctx {
    pub(crate) fn new(
        runtime: Arc<dyn Runtime>,
        target: Target,
        step: Arc<Mutex<String>>,
        warnings: Arc<Mutex<Vec<String>>>,
    ) -> Self {
        Ctx {
            runtime,
            target,
            step,
            warnings,
        }
    }

    /// Notes that only the timing was off; the check goes on, and ends as `warning` if
    /// nothing fails.
    pub(crate) fn warn(&self, text: impl Into<String>) {
        self.warnings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(text.into());
    }

    /// Awaits `future`, which semantics.md says returns at once (here: within `limit`).
    /// Later is a warning: it did return, only its timing is off (a loaded machine, a
    /// slow backend). One that never returns fails at the check's timeout.
    pub(crate) async fn within<T>(
        &self,
        limit: Duration,
        what: impl Display,
        future: impl Future<Output = T>,
    ) -> Result<T, Stop> {
        let started = Instant::now();
        let value = future.await;
        let took = started.elapsed();
        if took > limit {
            self.warn(format!(
                "{what} took {}, expected within {}",
                millis(took),
                millis(limit)
            ));
        }
        Ok(value)
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
                "the long turn ended before any event, with {outcome:?}; {}",
                crate::expect::LONG_TURN
            )));
        }
        Ok(handle)
    }

    /// How long a whole turn on the long prompt takes, from `chat` to its answer: a
    /// check that found a turn over too soon asks it, to tell a fast backend (a warning)
    /// from one that waited where it must not (a failure).
    pub(crate) async fn long_turn_takes(&self, agent: AgentId) -> Result<Duration, Stop> {
        self.step("timing a turn on the long prompt");
        let started = Instant::now();
        let handle = self.chat(agent, self.target.long_prompt()).await?;
        handle
            .text()
            .await
            .must("the long prompt's answer (handle.text())")?;
        Ok(started.elapsed())
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
