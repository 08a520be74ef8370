//! What a host uses: open a plugin file ([`PluginLibrary`]) and drive the runtime it
//! builds ([`PluginRuntime`]) through the ordinary `Runtime` trait.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::{RStr, RString};
use async_trait::async_trait;

use crate::ffi::{
    self, into_result, FfiContent, FfiDuration, FfiLogger, FfiRuntimeBox, LoadError, PluginContext,
    PluginModuleRef,
};
use crate::file::PluginFile;
use crate::quota::{QuotaRegistry, RemoteQuota};
use crate::runtime::Runtime;
use crate::stream::ChatResponseHandle;
use crate::types::{AgentConfig, AgentId, Content, ConversationMessage, Error, UsageMetadata};

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PluginMetadata {
    pub name: String,
    pub version: String,
    pub description: String,
    /// The `agent-plugin-api` version the plugin was built with.
    pub api_version: String,
    pub options_help: String,
    /// Options whose values are paths (see [`Plugin::PATH_OPTIONS`](crate::Plugin::PATH_OPTIONS)).
    pub path_options: Vec<String>,
}

/// A plugin file that passed every check: handshake, api version, layout.
///
/// The library stays loaded for the life of the process (abi_stable never unloads).
#[derive(Clone)]
pub struct PluginLibrary {
    path: PathBuf,
    module: PluginModuleRef,
    metadata: PluginMetadata,
}

impl std::fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginLibrary")
            .field("path", &self.path)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl PluginLibrary {
    /// Opens, checks and loads a plugin file (see [`PluginFile`]), and routes its logs to
    /// this process's `log`/`tracing` under the target `plugin::<name>`. A host that
    /// applies rules of its own to the file opens a [`PluginFile`] and loads that.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        PluginFile::open(path)?.load()
    }

    pub(crate) fn from_module(
        path: PathBuf,
        module: PluginModuleRef,
        recorded: Option<PluginMetadata>,
    ) -> Result<Self, LoadError> {
        let raw = (module.metadata())();
        let metadata = PluginMetadata {
            name: raw.name.into_string(),
            version: raw.version.into_string(),
            description: raw.description.into_string(),
            api_version: raw.api_version.into_string(),
            options_help: raw.options_help.into_string(),
            path_options: recorded
                .as_ref()
                .map(|recorded| recorded.path_options.clone())
                .unwrap_or_default(),
        };
        if let Some(recorded) = &recorded {
            if recorded.name != metadata.name || recorded.api_version != metadata.api_version {
                return Err(LoadError::Other {
                    path,
                    reason: format!(
                        "its metadata record says plugin {:?} (api {}), its code says {:?} (api {})",
                        recorded.name, recorded.api_version, metadata.name, metadata.api_version
                    ),
                });
            }
        }
        (module.set_logger())(FfiLogger {
            log: forward_log,
            max_level: host_max_level(),
        });
        Ok(PluginLibrary {
            path,
            module,
            metadata,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self) -> &PluginMetadata {
        &self.metadata
    }

    /// Builds a runtime; `options` is the backend's option table (a JSON object).
    pub fn new_runtime(&self, options: &serde_json::Value) -> Result<PluginRuntime, Error> {
        let options = options.to_string();
        let runtime = into_result::<FfiRuntimeBox, FfiRuntimeBox>((self.module.new_runtime())(
            RStr::from_str(&options),
        ))?;
        Ok(PluginRuntime::new(self.metadata.name.clone(), runtime))
    }
}

fn host_max_level() -> u8 {
    use tracing::level_filters::LevelFilter;
    let tracing_level = LevelFilter::current();
    let log_level = log::max_level();
    let from_tracing = match tracing_level.into_level() {
        None => 0,
        Some(level) => ffi_level(level),
    };
    let from_log = log_level as u8;
    from_tracing.max(from_log)
}

fn ffi_level(level: tracing::Level) -> u8 {
    match level {
        tracing::Level::ERROR => 1,
        tracing::Level::WARN => 2,
        tracing::Level::INFO => 3,
        tracing::Level::DEBUG => 4,
        tracing::Level::TRACE => 5,
    }
}

/// Re-emits a plugin's log event through `log`, which `tracing` subscribers pick up.
extern "C" fn forward_log(plugin: RStr<'_>, level: u8, target: RStr<'_>, message: RStr<'_>) {
    let level = match level {
        1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        _ => log::Level::Trace,
    };
    let host_target = format!("plugin::{plugin}");
    log::logger().log(
        &log::Record::builder()
            .level(level)
            .target(&host_target)
            .module_path(Some(target.as_str()))
            .args(format_args!("{message}"))
            .build(),
    );
}

/// A backend inside a plugin, used through `Runtime`. Each call crosses the ABI once.
pub struct PluginRuntime {
    plugin: String,
    ffi: Arc<FfiRuntimeBox>,
    quota: QuotaRegistry,
    call_timeout: Option<Duration>,
}

impl std::fmt::Debug for PluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRuntime")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl PluginRuntime {
    fn new(plugin: String, ffi: FfiRuntimeBox) -> Self {
        let ffi = Arc::new(ffi);
        PluginRuntime {
            plugin,
            quota: QuotaRegistry::remote(Box::new(ImportedQuota(ffi.clone()))),
            ffi,
            call_timeout: None,
        }
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

    /// Runs one call of the backend under the call timeout.
    async fn bounded<T>(
        &self,
        operation: &str,
        call: impl std::future::Future<Output = Result<T, Error>>,
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

    /// Wraps an in-process runtime in the FFI layer and unwraps it again, forcing every
    /// call down the foreign path without building a library. For tests.
    pub fn in_process<R: Runtime + 'static>(
        plugin: &'static str,
        runtime: R,
    ) -> Result<Self, Error> {
        let context = PluginContext::new(plugin)?;
        Ok(PluginRuntime::new(
            plugin.to_owned(),
            ffi::export_runtime(runtime, context),
        ))
    }

    /// The name of the plugin this runtime comes from.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }
}

#[async_trait]
impl Runtime for PluginRuntime {
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        let json = serde_json::to_string(&config)
            .map_err(|error| Error::InvalidConfig(format!("agent config: {error}")))?;
        self.bounded("create_agent", async {
            into_result(self.ffi.create_agent(RString::from(json)).await)
        })
        .await
    }

    async fn chat(
        &self,
        agent_id: AgentId,
        content: &Content,
    ) -> Result<ChatResponseHandle, Error> {
        // The turn's deadline counts from the call, so the clock is read before it.
        let deadline = self
            .call_timeout
            .map(|limit| (tokio::time::Instant::now() + limit, limit));
        let content = FfiContent::from(content);
        let stream = self
            .bounded("chat", async {
                let stream = self.ffi.chat(agent_id, content).await;
                stream.into_result().map_err(Error::from)
            })
            .await?;
        Ok(match deadline {
            None => ffi::ImportedStream::into_handle(stream),
            Some((deadline, limit)) => ffi::ImportedStream::into_handle_with_deadline(
                stream,
                deadline,
                self.timeout_error(limit, &format!("chat turn of agent {agent_id}")),
            ),
        })
    }

    async fn shutdown_agent(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("shutdown_agent", async {
            into_result(self.ffi.shutdown_agent(agent_id).await)
        })
        .await
    }

    async fn cancel(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("cancel", async {
            into_result(self.ffi.cancel(agent_id).await)
        })
        .await
    }

    async fn wait_for_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        into_result(self.ffi.wait_for_idle(agent_id).await)
    }

    async fn send(&self, agent_id: AgentId, content: &Content) -> Result<(), Error> {
        let content = FfiContent::from(content);
        self.bounded("send", async {
            into_result(self.ffi.send(agent_id, content).await)
        })
        .await
    }

    async fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("signal_idle", async {
            into_result(self.ffi.signal_idle(agent_id).await)
        })
        .await
    }

    async fn wait_for_wakeup(&self, agent_id: AgentId, timeout: Duration) -> Result<bool, Error> {
        into_result(self.ffi.wait_for_wakeup(agent_id, timeout.into()).await)
    }

    async fn wait_for_quota(&self) {
        self.ffi.wait_for_quota().await
    }

    async fn record_quota_hit(&self, retry_after: Duration) {
        let recorded = self.bounded("record_quota_hit", async {
            self.ffi.record_quota_hit(retry_after.into()).await;
            Ok(())
        });
        if let Err(error) = recorded.await {
            tracing::warn!(plugin = %self.plugin, "{error}");
        }
    }

    fn quota_registry(&self) -> &QuotaRegistry {
        &self.quota
    }

    async fn history(&self, agent_id: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        self.bounded("history", async {
            let history = self.ffi.history(agent_id).await;
            let history = history.into_result().map_err(Error::from)?;
            Ok(history.into_iter().map(ConversationMessage::from).collect())
        })
        .await
    }

    async fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error> {
        self.bounded("turn_count", async {
            into_result(self.ffi.turn_count(agent_id).await)
        })
        .await
    }

    async fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.bounded("total_usage", async {
            into_result(self.ffi.total_usage(agent_id).await)
        })
        .await
    }

    async fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        self.bounded("last_turn_usage", async {
            into_result(self.ffi.last_turn_usage(agent_id).await)
        })
        .await
    }

    async fn clear_history(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("clear_history", async {
            into_result(self.ffi.clear_history(agent_id).await)
        })
        .await
    }

    async fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        self.bounded("last_response", async {
            let response = self.ffi.last_response(agent_id).await;
            let response = response.into_result().map_err(Error::from)?;
            Ok(response.into_option().map(RString::into_string))
        })
        .await
    }

    async fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error> {
        self.bounded("compaction_indices", async {
            let indices = self.ffi.compaction_indices(agent_id).await;
            Ok(indices.into_result().map_err(Error::from)?.into_vec())
        })
        .await
    }

    async fn delete(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("delete", async {
            into_result(self.ffi.delete(agent_id).await)
        })
        .await
    }

    async fn disconnect(&self, agent_id: AgentId) -> Result<(), Error> {
        self.bounded("disconnect", async {
            into_result(self.ffi.disconnect(agent_id).await)
        })
        .await
    }

    async fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error> {
        self.bounded("is_idle", async {
            into_result(self.ffi.is_idle(agent_id).await)
        })
        .await
    }

    fn try_shutdown_agent(&self, agent_id: AgentId) {
        self.ffi.try_shutdown_agent(agent_id)
    }
}

/// The plugin's quota registry, seen from the host.
struct ImportedQuota(Arc<FfiRuntimeBox>);

impl RemoteQuota for ImportedQuota {
    fn record_hit(&self, key: &str, retry_after: Duration) -> Duration {
        self.0
            .quota_record_hit(RStr::from_str(key), FfiDuration::from(retry_after))
            .into()
    }

    fn record_success(&self, key: &str) {
        self.0.quota_record_success(RStr::from_str(key))
    }

    fn remaining(&self, key: &str) -> Option<Duration> {
        self.0
            .quota_remaining(RStr::from_str(key))
            .into_option()
            .map(Duration::from)
    }

    fn consecutive_hits(&self, key: &str) -> u32 {
        self.0.quota_consecutive_hits(RStr::from_str(key))
    }
}

#[cfg(test)]
mod tests {
    //! Round trips through the FFI layer without a library: an in-process backend is
    //! exported and imported again, so every call takes the foreign path.

    use futures::StreamExt;

    use super::*;
    use crate::kit::{AgentBackend, AgentRuntime, NoOptions, Turn};

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
                turn.text(word.to_owned())?;
            }
            Ok(())
        }
    }

    fn imported() -> PluginRuntime {
        PluginRuntime::in_process("words", AgentRuntime::new(Words)).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_turn_crosses_in_batches_with_every_stream_intact() {
        let runtime = imported();
        let agent = runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .unwrap();
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
    async fn an_unread_handle_learns_that_its_turn_ended() {
        let runtime = imported();
        let agent = runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .unwrap();
        let handle = runtime.chat(agent, &"a b c".into()).await.unwrap();
        runtime.wait_for_idle(agent).await.unwrap();
        assert!(handle.is_finished());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_panicking_turn_becomes_an_error_and_the_agent_goes_on() {
        let runtime = imported();
        let agent = runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .unwrap();
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
