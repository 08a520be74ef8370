//! A backend inside a plugin, used through `Runtime`, with the host's call timeout.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;

use crate::ffi::{self, ImportedRuntime};
use crate::quota::QuotaRegistry;
use crate::runtime::Runtime;
use crate::stream::ChatResponseHandle;
use crate::types::{
    AgentConfig, AgentId, Content, ConversationMessage, Error, Tools, UsageMetadata,
};

/// A backend inside a plugin, used through `Runtime`. Each call crosses the ABI once.
pub struct PluginRuntime {
    plugin: String,
    /// The `agent-plugin-api` version the plugin was built with.
    api_version: String,
    inner: ImportedRuntime,
    call_timeout: Option<Duration>,
    /// Offered to every agent that declares them (see [`PluginRuntime::with_tools`]).
    tools: Tools,
}

impl std::fmt::Debug for PluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRuntime")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl PluginRuntime {
    pub(crate) fn new(plugin: String, api_version: String, inner: ImportedRuntime) -> Self {
        PluginRuntime {
            plugin,
            api_version,
            inner,
            call_timeout: None,
            tools: Tools::new(),
        }
    }

    /// Tools for every agent of this runtime: each agent is offered those its
    /// `AgentConfig.tools` declares, beside (and overridden by) its own from
    /// [`Runtime::create_agent_with_tools`].
    pub fn with_tools(mut self, tools: Tools) -> Self {
        self.tools = tools;
        self
    }

    /// Bounds the backend's own work: a call that does not answer within `limit`, or a
    /// turn that does not end within it (counted from `chat`), fails with
    /// [`Error::Timeout`], and the call or turn is dropped, which cancels it in the
    /// plugin. The caller's own waits (`wait_for_idle`, `wait_for_wakeup`,
    /// `wait_for_quota`) are never cut short. Needs a tokio runtime with time enabled.
    pub fn with_call_timeout(mut self, limit: Option<Duration>) -> Self {
        self.call_timeout = limit;
        self
    }

    /// The limit set by [`PluginRuntime::with_call_timeout`].
    pub fn call_timeout(&self) -> Option<Duration> {
        self.call_timeout
    }

    /// Plugin `P` built as a host builds it from `P`'s file: `options` (the backend's
    /// option table) checked against the schema and deserialized by the export layer,
    /// the constructor run in the plugin's executor, and every call through the FFI
    /// layer. Without building the file: for a plugin's own tests (the conformance
    /// kit's `Target::plugin`).
    pub fn of_plugin<P: crate::plugin::Plugin>(options: &serde_json::Value) -> Result<Self, Error> {
        Ok(PluginRuntime::new(
            P::NAME.to_owned(),
            crate::version::API_VERSION.to_owned(),
            ffi::build_in_process::<P>(&options.to_string())?,
        ))
    }

    /// Wraps an in-process runtime in the FFI layer and unwraps it again, forcing every
    /// call down the foreign path without building a library. For tests and benches.
    pub fn in_process<R: Runtime + 'static>(
        plugin: &'static str,
        runtime: R,
    ) -> Result<Self, Error> {
        Ok(PluginRuntime::new(
            plugin.to_owned(),
            crate::version::API_VERSION.to_owned(),
            ffi::round_trip(plugin, runtime)?,
        ))
    }

    /// The name of the plugin this runtime comes from.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Runs one call of the backend under the call timeout.
    async fn bounded<T>(
        &self,
        operation: &str,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match self.call_timeout {
            None => call.await,
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .unwrap_or_else(|_| Err(self.timeout_error(limit, operation))),
        }
    }

    fn timeout_error(&self, limit: Duration, operation: &str) -> Error {
        Error::Timeout {
            duration: limit,
            operation: format!("plugin {} {operation}", self.plugin),
        }
    }
}

#[async_trait]
impl Runtime for PluginRuntime {
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        self.create_agent_with_tools(config, Tools::new()).await
    }

    async fn create_agent_with_tools(
        &self,
        config: AgentConfig,
        tools: Tools,
    ) -> Result<AgentId, Error> {
        let tools = tools.for_agent(&self.tools, &config)?;
        let created = self.inner.create_agent_with_tools(config, tools);
        self.bounded("create_agent", created).await
    }

    fn host_tools_unavailable(&self) -> Option<String> {
        let reason = self.inner.host_tools_unavailable()?;
        let before_tools = semver::Version::parse(&self.api_version)
            .is_ok_and(|version| version < semver::Version::new(0, 2, 1));
        Some(if before_tools {
            format!("plugin api {} has no host tools", self.api_version)
        } else {
            reason
        })
    }

    async fn chat(
        &self,
        agent_id: AgentId,
        content: &Content,
    ) -> Result<ChatResponseHandle, Error> {
        // The turn's deadline counts from the call, so the clock is read before it.
        let deadline = self.call_timeout.map(|limit| {
            let timeout = self.timeout_error(limit, &format!("chat turn of agent {agent_id}"));
            (tokio::time::Instant::now() + limit, timeout)
        });
        self.bounded("chat", self.inner.chat_until(agent_id, content, deadline))
            .await
    }

    async fn shutdown_agent(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("shutdown_agent", self.inner.shutdown_agent(agent_id))
            .await
    }

    async fn cancel(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("cancel", self.inner.cancel(agent_id)).await
    }

    async fn wait_for_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.inner.wait_for_idle(agent_id).await
    }

    async fn send(&self, agent_id: AgentId, content: &Content) -> Result<(), Error> {
        self.bounded("send", self.inner.send(agent_id, content))
            .await
    }

    async fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("signal_idle", self.inner.signal_idle(agent_id))
            .await
    }

    async fn wait_for_wakeup(&self, agent_id: AgentId, timeout: Duration) -> Result<bool, Error> {
        self.inner.wait_for_wakeup(agent_id, timeout).await
    }

    async fn wait_for_quota(&self) {
        self.inner.wait_for_quota().await
    }

    async fn record_quota_hit(&self, retry_after: Duration) {
        let recorded = self.bounded("record_quota_hit", async {
            self.inner.record_quota_hit(retry_after).await;
            Ok(())
        });
        if let Err(error) = recorded.await {
            tracing::warn!(plugin = %self.plugin, "{error}");
        }
    }

    fn quota_registry(&self) -> &QuotaRegistry {
        self.inner.quota_registry()
    }

    async fn history(&self, agent_id: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        self.bounded("history", self.inner.history(agent_id)).await
    }

    async fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error> {
        self.bounded("turn_count", self.inner.turn_count(agent_id))
            .await
    }

    async fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.bounded("total_usage", self.inner.total_usage(agent_id))
            .await
    }

    async fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.bounded("last_turn_usage", self.inner.last_turn_usage(agent_id))
            .await
    }

    async fn clear_history(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("clear_history", self.inner.clear_history(agent_id))
            .await
    }

    async fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        self.bounded("last_response", self.inner.last_response(agent_id))
            .await
    }

    async fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error> {
        self.bounded(
            "compaction_indices",
            self.inner.compaction_indices(agent_id),
        )
        .await
    }

    async fn delete(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("delete", self.inner.delete(agent_id)).await
    }

    async fn conversation_id(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        self.bounded("conversation_id", self.inner.conversation_id(agent_id))
            .await
    }

    async fn disconnect(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("disconnect", self.inner.disconnect(agent_id))
            .await
    }

    async fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error> {
        self.bounded("is_idle", self.inner.is_idle(agent_id)).await
    }

    fn try_shutdown_agent(&self, agent_id: AgentId) {
        self.inner.try_shutdown_agent(agent_id)
    }
}

#[cfg(test)]
mod tests {
    //! Round trips through the FFI layer without a library: an in-process backend is
    //! exported and imported again, so every call takes the foreign path.

    use futures::StreamExt;

    use super::*;
    use crate::kit::{AgentBackend, AgentRuntime, NoOptions, Turn};
    use crate::plugin::async_trait;

    struct Words;

    #[async_trait]
    impl AgentBackend for Words {
        const NAME: &'static str = "words";
        const VERSION: &'static str = "0.0.0";
        type Options = NoOptions;
        type Agent = ();

        fn new(_: NoOptions) -> Result<Self, Error> {
            Ok(Words)
        }

        fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> {
            Ok(())
        }

        async fn chat(&self, _: &(), content: &Content, turn: &mut Turn) -> Result<(), Error> {
            let text = content.to_text();
            if text == "panic" {
                panic!("asked to panic");
            }
            for word in text.split(' ') {
                turn.thought(format!("about {word}"))?;
                turn.text(word)?;
            }
            Ok(())
        }
    }

    fn imported() -> PluginRuntime {
        PluginRuntime::in_process("words", AgentRuntime::new(Words)).unwrap()
    }

    async fn imported_with_agent() -> (PluginRuntime, AgentId) {
        let runtime = imported();
        let agent = runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .unwrap();
        (runtime, agent)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_turn_crosses_in_batches_with_every_stream_intact() {
        let (runtime, agent) = imported_with_agent().await;
        let words: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
        let handle = runtime
            .chat(agent, &Content::text(words.join(" ")))
            .await
            .unwrap();
        let thoughts: Vec<String> = handle.thoughts().collect().await;
        let chunks: Vec<String> = handle.text_stream().collect().await;
        assert_eq!(chunks, words);
        assert_eq!(thoughts.len(), 3000);
        assert_eq!(handle.text().await.unwrap().text, words.concat());
        assert_eq!(runtime.turn_count(agent).await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_turn_that_ends_inside_chat_arrives_whole_for_every_reader() {
        let (runtime, agent) = imported_with_agent().await;
        // "a b c" never waits: the plugin plays it to its end before `chat` returns.
        let handle = runtime.chat(agent, &"a b c".into()).await.unwrap();
        assert!(handle.is_finished());
        let (thoughts, chunks, text) = tokio::join!(
            handle.thoughts().collect::<Vec<String>>(),
            handle.text_stream().collect::<Vec<String>>(),
            handle.text(),
        );
        assert_eq!(thoughts, ["about a", "about b", "about c"]);
        assert_eq!(chunks, ["a", "b", "c"]);
        assert_eq!(text.unwrap().text, "abc");
        assert_eq!(handle.text().await.unwrap().text, "abc", "read again");
        assert_eq!(
            runtime.last_response(agent).await.unwrap().as_deref(),
            Some("abc")
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unread_handle_learns_that_its_turn_ended() {
        let (runtime, agent) = imported_with_agent().await;
        let handle = runtime.chat(agent, &"a b c".into()).await.unwrap();
        runtime.wait_for_idle(agent).await.unwrap();
        assert!(handle.is_finished());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_panicking_turn_becomes_an_error_and_the_agent_goes_on() {
        let (runtime, agent) = imported_with_agent().await;
        let handle = runtime.chat(agent, &"panic".into()).await.unwrap();
        let error = handle.text().await.unwrap_err();
        assert!(error.to_string().contains("panicked"), "{error}");
        let handle = runtime.chat(agent, &"still here".into()).await.unwrap();
        assert_eq!(handle.text().await.unwrap().text, "stillhere");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn errors_and_quota_cross_both_ways() {
        let runtime = imported();
        assert_eq!(
            runtime.turn_count(42).await.unwrap_err(),
            Error::AgentNotStarted(42)
        );
        let invalid = runtime
            .create_agent(AgentConfig::default())
            .await
            .unwrap_err();
        assert!(matches!(invalid, Error::InvalidConfig(_)), "{invalid}");
        runtime.record_quota_hit(Duration::from_millis(30)).await;
        assert!(runtime.quota_registry().remaining("words").is_some());
        assert_eq!(runtime.quota_registry().consecutive_hits("words"), 1);
        runtime.wait_for_quota().await;
        assert!(runtime.quota_registry().remaining("words").is_none());
    }
}

#[cfg(test)]
mod tool_tests {
    //! Host tools through the FFI layer: where handlers run, and what cannot deadlock.

    use std::sync::{Arc, OnceLock};

    use futures::StreamExt;
    use serde_json::{json, Value};

    use super::*;
    use crate::kit::{AgentBackend, AgentRuntime, NoOptions, Turn};
    use crate::plugin::async_trait;
    use crate::types::{ChatEvent, Role, ToolDefinition, ToolError};

    /// Calls the tool named by the message with `{}` and answers with what came back.
    struct Caller;

    #[async_trait]
    impl AgentBackend for Caller {
        const NAME: &'static str = "caller";
        const VERSION: &'static str = "0.0.0";
        type Options = NoOptions;
        type Agent = ();

        fn new(_: NoOptions) -> Result<Self, Error> {
            Ok(Caller)
        }

        fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> {
            Ok(())
        }

        async fn chat(&self, _: &(), content: &Content, turn: &mut Turn) -> Result<(), Error> {
            let output = turn.call_tool(&content.to_text(), json!({})).await;
            turn.text(match output {
                Ok(value) => value.to_string(),
                Err(error) => format!("error: {error}"),
            })
        }
    }

    fn config(tools: &[&str]) -> AgentConfig {
        let mut config = AgentConfig::builder("m").build();
        for name in tools {
            config.tools.push(ToolDefinition::new(*name, "", json!({})));
        }
        config
    }

    /// A current-thread host: the thread that awaits the turn is the only one that can
    /// run the handler, and the handler calls the same runtime back.
    #[tokio::test(flavor = "current_thread")]
    async fn a_handler_on_a_single_threaded_host_that_calls_back_does_not_deadlock() {
        let runtime =
            Arc::new(PluginRuntime::in_process("caller", AgentRuntime::new(Caller)).unwrap());
        let slot: Arc<OnceLock<(Arc<PluginRuntime>, AgentId)>> = Arc::new(OnceLock::new());
        let seen = slot.clone();
        let tools = Tools::new().with("count", move |_: Value| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let (runtime, agent) = seen.get().cloned().expect("the agent exists");
                let turns = runtime
                    .turn_count(agent)
                    .await
                    .map_err(|error| ToolError::new(error.to_string()))?;
                Ok(json!({ "turns_before": turns }))
            }
        });
        let agent = runtime
            .create_agent_with_tools(config(&["count"]), tools)
            .await
            .unwrap();
        slot.set((runtime.clone(), agent)).ok().unwrap();
        let handle = runtime.chat(agent, &"count".into()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), handle.text())
            .await
            .expect("no deadlock")
            .unwrap();
        assert_eq!(answer.text, r#"{"turns_before":0}"#);
        let events: Vec<ChatEvent> = handle.events().collect().await;
        assert!(matches!(&events[0], ChatEvent::ToolCall(call) if call.name == "count"));
        assert!(matches!(&events[1], ChatEvent::ToolResult(result) if result.output.is_ok()));
        runtime.wait_for_idle(agent).await.unwrap();
        let history = runtime.history(agent).await.unwrap();
        let roles: Vec<&Role> = history.iter().map(|message| &message.role).collect();
        assert_eq!(
            roles,
            [&Role::User, &Role::Model, &Role::Tool, &Role::Model]
        );
        assert_eq!(history[1].tool_calls[0].name, "count");
        assert!(history[2].tool_result.is_some());
    }

    /// A handler that answers at once is done where the plugin calls it (here the turn's
    /// start, on the caller's thread), with no task; one that waits goes on as a task on
    /// the host's runtime.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handler_runs_where_it_is_called_until_it_waits() {
        let threads: Arc<std::sync::Mutex<Vec<std::thread::ThreadId>>> = Arc::default();
        let (at_once, after_wait) = (threads.clone(), threads.clone());
        let tools = Tools::new()
            .with("now", move |_: Value| {
                at_once.lock().unwrap().push(std::thread::current().id());
                async { Ok(json!("now")) }
            })
            .with("later", move |_: Value| {
                let after_wait = after_wait.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    after_wait.lock().unwrap().push(std::thread::current().id());
                    Ok(json!("later"))
                }
            });
        let runtime = PluginRuntime::in_process("caller", AgentRuntime::new(Caller)).unwrap();
        let agent = runtime
            .create_agent_with_tools(config(&["now", "later"]), tools)
            .await
            .unwrap();
        let caller = std::thread::current().id();
        let now = runtime.chat(agent, &"now".into()).await.unwrap();
        assert!(
            now.is_finished(),
            "a handler that answers at once needs no hand-off"
        );
        assert_eq!(now.text().await.unwrap().text, r#""now""#);
        let later = runtime.chat(agent, &"later".into()).await.unwrap();
        assert_eq!(later.text().await.unwrap().text, r#""later""#);
        let threads = threads.lock().unwrap();
        assert_eq!(threads[0], caller);
        assert_ne!(
            threads[1], caller,
            "after its wait it runs on the host's runtime"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn runtime_tools_reach_the_agents_that_declare_them() {
        let shared = Tools::new().with("clock", |_| async { Ok(json!("noon")) });
        let runtime = PluginRuntime::in_process("caller", AgentRuntime::new(Caller))
            .unwrap()
            .with_tools(shared);
        let declares = runtime.create_agent(config(&["clock"])).await.unwrap();
        let answer = runtime.chat(declares, &"clock".into()).await.unwrap();
        assert_eq!(answer.text().await.unwrap().text, r#""noon""#);
        let silent = runtime.create_agent(config(&[])).await.unwrap();
        let answer = runtime.chat(silent, &"clock".into()).await.unwrap();
        let text = answer.text().await.unwrap().text;
        assert!(text.starts_with("error: no tool named `clock`"), "{text}");
        let stray = Tools::new().with("undeclared", |_| async { Ok(json!(0)) });
        let error = runtime
            .create_agent_with_tools(config(&[]), stray)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidConfig(_)), "{error}");
    }
}
