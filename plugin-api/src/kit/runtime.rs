//! `AgentRuntime`: every `Runtime` method, over an [`AgentBackend`] and a map of agents.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::agent::{lock, Agent, QuotaSlot, Saved};
use super::conversation::Conversation;
use super::AgentBackend;
use crate::immediate::ImmediateCalls;
use crate::plugin::Plugin;
use crate::quota::QuotaRegistry;
use crate::runtime::Runtime;
use crate::saved::{check_conversation_id, ConversationFile};
use crate::stream::ChatResponseHandle;
use crate::types::{
    AgentConfig, AgentId, Content, ConversationMessage, Error, Tools, UsageMetadata,
};

/// A complete `Runtime` (and `Plugin`) made from a backend that plays single turns.
pub struct AgentRuntime<B: AgentBackend> {
    backend: Arc<B>,
    quota: QuotaSlot,
    agents: Mutex<HashMap<AgentId, Arc<Agent<B>>>>,
    /// Ids are never reused, not even after shutdown.
    next_id: AtomicU64,
}

impl<B: AgentBackend> std::fmt::Debug for AgentRuntime<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentRuntime")
            .field("backend", &B::NAME)
            .field("agents", &lock(&self.agents).len())
            .finish_non_exhaustive()
    }
}

impl<B: AgentBackend> AgentRuntime<B> {
    pub fn new(backend: B) -> Self {
        let quota = QuotaSlot {
            registry: Arc::new(QuotaRegistry::new(backend.backoff_policy())),
            key: Arc::from(backend.quota_key()),
        };
        AgentRuntime {
            backend: Arc::new(backend),
            quota,
            agents: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    /// Builds the backend from its options, then the runtime.
    pub fn with_options(options: B::Options) -> Result<Self, Error> {
        B::new(options).map(AgentRuntime::new)
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The key quota hits are recorded under.
    pub fn quota_key(&self) -> &str {
        &self.quota.key
    }

    fn agent(&self, agent_id: AgentId) -> Result<Arc<Agent<B>>, Error> {
        lock(&self.agents)
            .get(&agent_id)
            .cloned()
            .ok_or(Error::AgentNotStarted(agent_id))
    }

    /// Reads or changes one agent's conversation, without holding the runtime's table.
    fn conversation<T>(
        &self,
        agent_id: AgentId,
        read: impl FnOnce(&Conversation) -> T,
    ) -> Result<T, Error> {
        Ok(self.agent(agent_id)?.with_conversation(read))
    }

    fn remove(&self, agent_id: AgentId) -> Result<Arc<Agent<B>>, Error> {
        lock(&self.agents)
            .remove(&agent_id)
            .ok_or(Error::AgentNotStarted(agent_id))
    }
}

impl<B: AgentBackend> Drop for AgentRuntime<B> {
    /// Lets every agent's worker end, so no task outlives the runtime.
    fn drop(&mut self) {
        for agent in lock(&self.agents).values() {
            agent.begin_shutdown();
        }
    }
}

/// Opens the agent's saved conversation when it has a `save_dir`.
fn saved_conversation(config: &AgentConfig) -> Result<Saved, Error> {
    Ok(match ConversationFile::for_agent(config)? {
        Some((file, saved)) => Saved::In(file, saved),
        None => Saved::Nowhere(config.conversation_id.as_deref().map(Arc::from)),
    })
}

/// The checks every kit backend gets before its own `create_agent`.
fn validate(config: &AgentConfig) -> Result<(), Error> {
    if config.model.trim().is_empty() {
        return Err(Error::InvalidConfig("model must not be empty".into()));
    }
    if let Some(index) = config
        .tools
        .iter()
        .position(|tool| tool.name.trim().is_empty())
    {
        return Err(Error::InvalidConfig(format!(
            "tools[{index}]: a tool needs a name"
        )));
    }
    if let Some(schema) = &config.response_schema {
        if !schema.is_object() {
            return Err(Error::InvalidConfig(format!(
                "response_schema must be a JSON object, not {schema}"
            )));
        }
    }
    Ok(())
}

#[async_trait]
impl<B: AgentBackend> Runtime for AgentRuntime<B> {
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        self.create_agent_with_tools(config, Tools::new()).await
    }

    async fn create_agent_with_tools(
        &self,
        config: AgentConfig,
        tools: Tools,
    ) -> Result<AgentId, Error> {
        validate(&config)?;
        let tools = tools.for_agent(&Tools::new(), &config)?;
        if let Some(id) = &config.conversation_id {
            check_conversation_id(id)?;
        }
        let own = self.backend.create_agent(&config)?;
        let saved = saved_conversation(&config)?;
        let agent_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let agent = Agent::start(
            agent_id,
            self.backend.clone(),
            own,
            self.quota.clone(),
            tools,
            saved,
        );
        lock(&self.agents).insert(agent_id, agent);
        tracing::debug!(agent_id, model = %config.model, "agent created");
        Ok(agent_id)
    }

    async fn chat(
        &self,
        agent_id: AgentId,
        content: &Content,
    ) -> Result<ChatResponseHandle, Error> {
        ImmediateCalls::chat(self, agent_id, content.clone())
    }

    async fn shutdown_agent(&self, agent_id: AgentId) -> Result<(), Error> {
        let agent = self.remove(agent_id)?;
        agent.shut_down().await;
        tracing::debug!(agent_id, "agent shut down");
        Ok(())
    }

    async fn cancel(&self, agent_id: AgentId) -> Result<(), Error> {
        ImmediateCalls::cancel(self, agent_id)
    }

    async fn wait_for_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.agent(agent_id)?.wait_for_idle().await
    }

    async fn send(&self, agent_id: AgentId, content: &Content) -> Result<(), Error> {
        ImmediateCalls::send(self, agent_id, content.clone())
    }

    async fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        ImmediateCalls::signal_idle(self, agent_id)
    }

    async fn wait_for_wakeup(&self, agent_id: AgentId, timeout: Duration) -> Result<bool, Error> {
        self.agent(agent_id)?.wait_for_wakeup(timeout).await
    }

    async fn wait_for_quota(&self) {
        self.quota.registry.wait(&self.quota.key).await;
    }

    async fn record_quota_hit(&self, retry_after: Duration) {
        let backoff = self.quota.registry.record_hit(&self.quota.key, retry_after);
        tracing::debug!(?backoff, "quota hit recorded");
    }

    fn quota_registry(&self) -> &QuotaRegistry {
        &self.quota.registry
    }

    async fn history(&self, agent_id: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        ImmediateCalls::history(self, agent_id)
    }

    async fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error> {
        ImmediateCalls::turn_count(self, agent_id)
    }

    async fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        ImmediateCalls::total_usage(self, agent_id)
    }

    async fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        ImmediateCalls::last_turn_usage(self, agent_id)
    }

    async fn clear_history(&self, agent_id: AgentId) -> Result<(), Error> {
        ImmediateCalls::clear_history(self, agent_id)
    }

    async fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        ImmediateCalls::last_response(self, agent_id)
    }

    async fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error> {
        ImmediateCalls::compaction_indices(self, agent_id)
    }

    /// Shuts down and removes the saved conversation, if there is one.
    async fn delete(&self, agent_id: AgentId) -> Result<(), Error> {
        let agent = self.remove(agent_id)?;
        agent.delete().await?;
        tracing::debug!(agent_id, "agent deleted");
        Ok(())
    }

    async fn conversation_id(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        Ok(self.agent(agent_id)?.conversation_id())
    }

    /// The kit holds no connection; the agent stays usable.
    async fn disconnect(&self, agent_id: AgentId) -> Result<(), Error> {
        self.agent(agent_id).map(drop)
    }

    async fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error> {
        ImmediateCalls::is_idle(self, agent_id)
    }

    fn try_shutdown_agent(&self, agent_id: AgentId) {
        if let Ok(agent) = self.remove(agent_id) {
            agent.begin_shutdown();
        }
    }

    fn immediate(&self) -> Option<&dyn ImmediateCalls> {
        Some(self)
    }
}

/// Everything but creating, waiting and shutting down is a lock and a field away.
impl<B: AgentBackend> ImmediateCalls for AgentRuntime<B> {
    fn chat(&self, agent_id: AgentId, content: Content) -> Result<ChatResponseHandle, Error> {
        self.agent(agent_id)?.chat(content)
    }

    fn send(&self, agent_id: AgentId, content: Content) -> Result<(), Error> {
        self.agent(agent_id)?.send(content)
    }

    fn cancel(&self, agent_id: AgentId) -> Result<(), Error> {
        self.agent(agent_id)?.cancel_running_turn();
        Ok(())
    }

    fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.agent(agent_id)?.signal_idle();
        Ok(())
    }

    fn history(&self, agent_id: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        self.conversation(agent_id, |conversation| conversation.history())
    }

    fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error> {
        self.conversation(agent_id, |conversation| conversation.turn_count)
    }

    fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.conversation(agent_id, |conversation| conversation.total_usage)
    }

    fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.conversation(agent_id, |conversation| conversation.last_turn_usage)
    }

    fn clear_history(&self, agent_id: AgentId) -> Result<(), Error> {
        self.agent(agent_id)?.clear_history()
    }

    fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        self.conversation(agent_id, |conversation| conversation.last_response())
    }

    fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error> {
        self.conversation(agent_id, |conversation| {
            conversation.compaction_indices.clone()
        })
    }

    fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error> {
        Ok(self.agent(agent_id)?.is_idle())
    }
}

impl<B: AgentBackend> Plugin for AgentRuntime<B> {
    const NAME: &'static str = B::NAME;
    const VERSION: &'static str = B::VERSION;
    const DESCRIPTION: &'static str = B::DESCRIPTION;
    const OPTIONS_HELP: &'static str = B::OPTIONS_HELP;
    const PATH_OPTIONS: &'static [&'static str] = B::PATH_OPTIONS;

    type Options = B::Options;

    fn new(options: B::Options) -> Result<Self, Error> {
        AgentRuntime::with_options(options)
    }
}
