//! [`ProcessRuntime`]: a plugin in child processes, used through `Runtime`. Agent ids are
//! the host's own (a fresh child counts from 1 again), each mapped to its child and the
//! child's id for it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatResponseHandle, Content, ConversationMessage, Error, QuotaRegistry,
    Tools, UsageMetadata,
};
use agent_plugin_api::Runtime;
use async_trait::async_trait;

use super::child::{Child, Launch};

/// A child that lived at least this long before it died was healthy: its death does not
/// count toward the pause before the next start.
const HEALTHY_LIFE: Duration = Duration::from_secs(10);

/// The longest pause before starting a child again while children keep dying.
const MAX_RESTART_PAUSE: Duration = Duration::from_secs(30);

/// A plugin served by `workers` child processes. A child that dies takes its agents and
/// turns with it (they get an error naming the plugin and the cause); the next call that
/// needs that worker starts a fresh child.
pub struct ProcessRuntime {
    launch: Launch,
    workers: Vec<Worker>,
    agents: Mutex<HashMap<AgentId, Placement>>,
    next_agent: AtomicU64,
    host_tools_unavailable: Option<String>,
    tools: Tools,
    quota: QuotaRegistry,
    call_timeout: Option<Duration>,
}

impl std::fmt::Debug for ProcessRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRuntime")
            .field("plugin", &self.launch.plugin)
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Worker {
    child: tokio::sync::Mutex<Option<Arc<Child>>>,
    restarts: Mutex<Restarts>,
    agents: AtomicUsize,
}

#[derive(Default)]
struct Restarts {
    /// Deaths in a row of children that died young.
    in_a_row: u32,
    not_before: Option<Instant>,
}

#[derive(Clone)]
struct Placement {
    worker: usize,
    child: Arc<Child>,
    remote: AgentId,
}

impl ProcessRuntime {
    /// Starts the first child at once, so that a plugin that cannot start (a constructor
    /// that refuses its options) says so here; the other workers start when first needed.
    pub async fn start(launch: Launch, workers: usize) -> Result<ProcessRuntime, Error> {
        let mut runtime = ProcessRuntime {
            launch,
            workers: (0..workers.max(1)).map(|_| Worker::default()).collect(),
            agents: Mutex::new(HashMap::new()),
            next_agent: AtomicU64::new(1),
            host_tools_unavailable: None,
            tools: Tools::new(),
            quota: QuotaRegistry::default(),
            call_timeout: None,
        };
        let first = runtime.live_child(0).await?;
        runtime.host_tools_unavailable = first.runtime.server().host_tools_unavailable.clone();
        Ok(runtime)
    }

    /// As [`PluginRuntime::with_tools`](agent_plugin_api::host::PluginRuntime::with_tools).
    pub fn with_tools(mut self, tools: Tools) -> Self {
        self.tools = tools;
        self
    }

    /// A call with no answer within `limit` is `Error::Timeout`, and its child, wedged,
    /// is killed (the next call starts another). The caller's own waits
    /// (`wait_for_idle`, `wait_for_wakeup`, `wait_for_quota`) are never cut short.
    pub fn with_call_timeout(mut self, limit: Option<Duration>) -> Self {
        self.call_timeout = limit;
        self
    }

    pub fn plugin(&self) -> &str {
        &self.launch.plugin
    }

    fn agents(&self) -> MutexGuard<'_, HashMap<AgentId, Placement>> {
        self.agents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The worker's child, started (again) if it has none or it died.
    async fn live_child(&self, worker: usize) -> Result<Arc<Child>, Error> {
        let slot = &self.workers[worker];
        let mut current = slot.child.lock().await;
        if let Some(child) = current.as_ref() {
            if child.death().is_none() {
                return Ok(child.clone());
            }
            self.died_young(slot, child.lived() < HEALTHY_LIFE);
            *current = None;
        }
        let pause = slot
            .restarts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .not_before;
        if let Some(not_before) = pause {
            tokio::time::sleep_until(not_before.into()).await;
        }
        match self.launch.start().await {
            Ok(child) => {
                let child = Arc::new(child);
                *current = Some(child.clone());
                Ok(child)
            }
            Err(error) => {
                self.died_young(slot, true);
                Err(error)
            }
        }
    }

    /// Counts a death (or a failed start); young ones in a row double the pause.
    fn died_young(&self, slot: &Worker, young: bool) {
        let mut restarts = slot
            .restarts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        restarts.in_a_row = if young { restarts.in_a_row + 1 } else { 1 };
        let pause = Duration::from_millis(250)
            .saturating_mul(1 << restarts.in_a_row.saturating_sub(1).min(16))
            .min(MAX_RESTART_PAUSE);
        restarts.not_before = (restarts.in_a_row > 1).then(|| Instant::now() + pause);
    }

    /// The child and id of one of our agents; an agent whose child died is gone with it.
    fn placement(&self, agent: AgentId) -> Result<Placement, Error> {
        let placement = self
            .agents()
            .get(&agent)
            .cloned()
            .ok_or(Error::AgentNotStarted(agent))?;
        if let Some(death) = placement.child.death() {
            return Err(Error::ConnectionError(format!(
                "{death}; agent {agent} was lost with it"
            )));
        }
        Ok(placement)
    }

    fn forget(&self, agent: AgentId) {
        if let Some(placement) = self.agents().remove(&agent) {
            self.workers[placement.worker]
                .agents
                .fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Runs `call` under the call timeout; a child that does not answer is killed.
    async fn bounded<T>(
        &self,
        child: &Child,
        operation: &str,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(limit) = self.call_timeout else {
            return call.await;
        };
        match tokio::time::timeout(limit, call).await {
            Ok(outcome) => outcome,
            Err(_) => {
                child.stop(format!("{operation} had no answer within {limit:?}"));
                Err(Error::Timeout {
                    duration: limit,
                    operation: format!(
                        "{operation} on plugin {:?} (its process was killed and is replaced \
                         on the next call)",
                        self.launch.plugin
                    ),
                })
            }
        }
    }

    /// Calls `call` on the agent's child with the child's id for it; `bounded` says
    /// whether the call timeout applies.
    async fn on_agent<T, F, Fut>(
        &self,
        agent: AgentId,
        operation: &str,
        bounded: bool,
        call: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(Arc<Child>, AgentId) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let placement = self.placement(agent)?;
        let child = placement.child.clone();
        let outcome = if bounded {
            self.bounded(&placement.child, operation, call(child, placement.remote))
                .await
        } else {
            call(child, placement.remote).await
        };
        outcome.map_err(|error| match error {
            Error::AgentNotStarted(remote) if remote == placement.remote => {
                Error::AgentNotStarted(agent)
            }
            error => error,
        })
    }

    /// The children that are running now (none is started for this).
    async fn running_children(&self) -> Vec<Arc<Child>> {
        let mut running = Vec::new();
        for worker in &self.workers {
            if let Some(child) = worker.child.lock().await.as_ref() {
                if child.death().is_none() {
                    running.push(child.clone());
                }
            }
        }
        running
    }
}

#[async_trait]
impl Runtime for ProcessRuntime {
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        self.create_agent_with_tools(config, Tools::new()).await
    }

    async fn create_agent_with_tools(
        &self,
        config: AgentConfig,
        tools: Tools,
    ) -> Result<AgentId, Error> {
        let tools = tools.for_agent(&self.tools, &config)?;
        let (worker, _) = self
            .workers
            .iter()
            .enumerate()
            .min_by_key(|(_, worker)| worker.agents.load(Ordering::Relaxed))
            .expect("at least one worker");
        let child = self.live_child(worker).await?;
        let remote = self
            .bounded(
                &child,
                "create_agent",
                child.runtime.create_agent_with_tools(config, tools),
            )
            .await?;
        let agent = self.next_agent.fetch_add(1, Ordering::Relaxed);
        self.workers[worker].agents.fetch_add(1, Ordering::Relaxed);
        self.agents().insert(
            agent,
            Placement {
                worker,
                child,
                remote,
            },
        );
        Ok(agent)
    }

    fn host_tools_unavailable(&self) -> Option<String> {
        self.host_tools_unavailable.clone()
    }

    async fn chat(&self, agent: AgentId, content: &Content) -> Result<ChatResponseHandle, Error> {
        // The turn's length is bounded as in-process, counted from the call; a turn that
        // outlasts it ends `Timeout` and is cancelled in the child, which lives on (it
        // answered: it is not wedged).
        let deadline = self.call_timeout.map(|limit| {
            let timeout = Error::Timeout {
                duration: limit,
                operation: format!("plugin {} chat turn of agent {agent}", self.launch.plugin),
            };
            (tokio::time::Instant::now() + limit, timeout)
        });
        self.on_agent(agent, "chat", true, |child, id| async move {
            child.runtime.chat_until(id, content, deadline).await
        })
        .await
    }

    async fn shutdown_agent(&self, agent: AgentId) -> Result<(), Error> {
        let outcome = self
            .on_agent(agent, "shutdown_agent", true, |child, id| async move {
                child.runtime.shutdown_agent(id).await
            })
            .await;
        if !matches!(outcome, Err(Error::Timeout { .. })) {
            self.forget(agent);
        }
        outcome
    }

    async fn cancel(&self, agent: AgentId) -> Result<(), Error> {
        self.on_agent(agent, "cancel", true, |child, id| async move {
            child.runtime.cancel(id).await
        })
        .await
    }

    async fn wait_for_idle(&self, agent: AgentId) -> Result<(), Error> {
        self.on_agent(agent, "wait_for_idle", false, |child, id| async move {
            child.runtime.wait_for_idle(id).await
        })
        .await
    }

    async fn send(&self, agent: AgentId, content: &Content) -> Result<(), Error> {
        self.on_agent(agent, "send", true, |child, id| async move {
            child.runtime.send(id, content).await
        })
        .await
    }

    async fn signal_idle(&self, agent: AgentId) -> Result<(), Error> {
        self.on_agent(agent, "signal_idle", true, |child, id| async move {
            child.runtime.signal_idle(id).await
        })
        .await
    }

    async fn wait_for_wakeup(&self, agent: AgentId, timeout: Duration) -> Result<bool, Error> {
        self.on_agent(agent, "wait_for_wakeup", false, |child, id| async move {
            child.runtime.wait_for_wakeup(id, timeout).await
        })
        .await
    }

    async fn wait_for_quota(&self) {
        self.quota.wait("").await;
        for child in self.running_children().await {
            child.runtime.wait_for_quota().await;
        }
    }

    async fn record_quota_hit(&self, retry_after: Duration) {
        self.quota.record_hit("", retry_after);
        for child in self.running_children().await {
            child.runtime.record_quota_hit(retry_after).await;
        }
    }

    fn quota_registry(&self) -> &QuotaRegistry {
        &self.quota
    }

    async fn history(&self, agent: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        self.on_agent(agent, "history", true, |child, id| async move {
            child.runtime.history(id).await
        })
        .await
    }

    async fn turn_count(&self, agent: AgentId) -> Result<u32, Error> {
        self.on_agent(agent, "turn_count", true, |child, id| async move {
            child.runtime.turn_count(id).await
        })
        .await
    }

    async fn total_usage(&self, agent: AgentId) -> Result<UsageMetadata, Error> {
        self.on_agent(agent, "total_usage", true, |child, id| async move {
            child.runtime.total_usage(id).await
        })
        .await
    }

    async fn last_turn_usage(&self, agent: AgentId) -> Result<UsageMetadata, Error> {
        self.on_agent(agent, "last_turn_usage", true, |child, id| async move {
            child.runtime.last_turn_usage(id).await
        })
        .await
    }

    async fn clear_history(&self, agent: AgentId) -> Result<(), Error> {
        self.on_agent(agent, "clear_history", true, |child, id| async move {
            child.runtime.clear_history(id).await
        })
        .await
    }

    async fn last_response(&self, agent: AgentId) -> Result<Option<String>, Error> {
        self.on_agent(agent, "last_response", true, |child, id| async move {
            child.runtime.last_response(id).await
        })
        .await
    }

    async fn compaction_indices(&self, agent: AgentId) -> Result<Vec<u32>, Error> {
        self.on_agent(agent, "compaction_indices", true, |child, id| async move {
            child.runtime.compaction_indices(id).await
        })
        .await
    }

    async fn delete(&self, agent: AgentId) -> Result<(), Error> {
        let outcome = self
            .on_agent(agent, "delete", true, |child, id| async move {
                child.runtime.delete(id).await
            })
            .await;
        if !matches!(outcome, Err(Error::Timeout { .. })) {
            self.forget(agent);
        }
        outcome
    }

    async fn disconnect(&self, agent: AgentId) -> Result<(), Error> {
        self.on_agent(agent, "disconnect", true, |child, id| async move {
            child.runtime.disconnect(id).await
        })
        .await
    }

    async fn is_idle(&self, agent: AgentId) -> Result<bool, Error> {
        self.on_agent(agent, "is_idle", true, |child, id| async move {
            child.runtime.is_idle(id).await
        })
        .await
    }

    fn try_shutdown_agent(&self, agent: AgentId) {
        if let Ok(placement) = self.placement(agent) {
            placement.child.runtime.try_shutdown_agent(placement.remote);
        }
        self.forget(agent);
    }

    async fn conversation_id(&self, agent: AgentId) -> Result<Option<String>, Error> {
        self.on_agent(agent, "conversation_id", true, |child, id| async move {
            child.runtime.conversation_id(id).await
        })
        .await
    }
}
