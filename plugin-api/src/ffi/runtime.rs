//! The `Runtime` trait across the boundary, both sides: the FFI-safe vtable
//! ([`FfiRuntime`]), the plugin side that serves it from a Rust `Runtime`
//! ([`ExportedRuntime`]) and the host side that is a Rust `Runtime` again
//! ([`ImportedRuntime`]).
//!
//! Growth: one vtable method per `Runtime` method; new methods go after
//! `try_shutdown_agent`, the last prefix field, each with a default body that is what the
//! host does when a plugin built before the method lacks it.
//!
//! Since 0.2.2 the calls a runtime answers at once ([`ImmediateCalls`]) have plain
//! twins (`*_now`): the host asks once, at import, whether the plugin answers them, and
//! then calls those instead of the async ones.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, ROption, RString, RVec};
use async_ffi::FfiFuture;

use super::chat_stream::{
    ExportedStream, FfiChatStart, FfiChatStreamBox, ImportedStart, ImportedStream,
};
use super::data::{
    from_result, into_result, FfiContent, FfiDuration, FfiMessage, FfiResult, FfiUsage,
};
use super::guard::PluginContext;
use super::quota::{self, ExportedQuota, FfiQuotaBox};
use super::tool_host::{self, ExportedToolHost, FfiToolHostBox};
use crate::immediate::ImmediateCalls;
use crate::quota::QuotaRegistry;
use crate::runtime::Runtime;
use crate::stream::ChatResponseHandle;
use crate::types::{
    AgentConfig, AgentId, Content, ConversationMessage, Error, Tools, UsageMetadata,
};

#[sabi_trait]
pub trait FfiRuntime: Send + Sync {
    fn create_agent(&self, config_json: RString) -> FfiFuture<FfiResult<u64>>;
    fn chat(&self, agent_id: u64, content: FfiContent) -> FfiFuture<FfiResult<FfiChatStreamBox>>;
    fn shutdown_agent(&self, agent_id: u64) -> FfiFuture<FfiResult<()>>;
    fn cancel(&self, agent_id: u64) -> FfiFuture<FfiResult<()>>;
    fn wait_for_idle(&self, agent_id: u64) -> FfiFuture<FfiResult<()>>;
    fn send(&self, agent_id: u64, content: FfiContent) -> FfiFuture<FfiResult<()>>;
    fn signal_idle(&self, agent_id: u64) -> FfiFuture<FfiResult<()>>;
    fn wait_for_wakeup(&self, agent_id: u64, timeout: FfiDuration) -> FfiFuture<FfiResult<bool>>;
    fn wait_for_quota(&self) -> FfiFuture<()>;
    fn record_quota_hit(&self, retry_after: FfiDuration) -> FfiFuture<()>;
    /// The runtime's quota registry (called once, when the host imports the runtime).
    fn quota(&self) -> FfiQuotaBox;
    fn history(&self, agent_id: u64) -> FfiFuture<FfiResult<RVec<FfiMessage>>>;
    fn turn_count(&self, agent_id: u64) -> FfiFuture<FfiResult<u32>>;
    fn total_usage(&self, agent_id: u64) -> FfiFuture<FfiResult<FfiUsage>>;
    fn last_turn_usage(&self, agent_id: u64) -> FfiFuture<FfiResult<FfiUsage>>;
    fn clear_history(&self, agent_id: u64) -> FfiFuture<FfiResult<()>>;
    fn last_response(&self, agent_id: u64) -> FfiFuture<FfiResult<ROption<RString>>>;
    fn compaction_indices(&self, agent_id: u64) -> FfiFuture<FfiResult<RVec<u32>>>;
    fn delete(&self, agent_id: u64) -> FfiFuture<FfiResult<()>>;
    fn disconnect(&self, agent_id: u64) -> FfiFuture<FfiResult<()>>;
    fn is_idle(&self, agent_id: u64) -> FfiFuture<FfiResult<bool>>;
    #[sabi(last_prefix_field)]
    fn try_shutdown_agent(&self, agent_id: u64);

    // --- since 0.2.1; each default is what the host does with a 0.2.0 plugin ----------

    /// An agent that may call the host's tools. A 0.2.0 plugin gets a plain agent: its
    /// model's calls are reported as events only.
    fn create_agent_with_tools(
        &self,
        config_json: RString,
        tools: FfiToolHostBox,
    ) -> FfiFuture<FfiResult<u64>> {
        drop(tools);
        self.create_agent(config_json)
    }

    /// Why the plugin cannot run host tools, if it cannot; a 0.2.0 plugin cannot.
    fn host_tools_unavailable(&self) -> ROption<RString> {
        ROption::RSome(RString::from("the plugin's api predates host tools"))
    }

    // --- since 0.2.2; the host calls these only if `answers_immediately` -------------

    /// Whether the runtime answers the `*_now` calls (asked once, at import); a 0.2.1
    /// plugin does not, and keeps the async calls.
    fn answers_immediately(&self) -> bool {
        false
    }
    /// `chat`, with what the turn wrote before `chat` returned (all of it, if it ended).
    fn chat_now(&self, agent_id: u64, content: FfiContent) -> FfiResult<FfiChatStart> {
        let _ = (agent_id, content);
        not_immediate()
    }
    fn send_now(&self, agent_id: u64, content: FfiContent) -> FfiResult<()> {
        let _ = (agent_id, content);
        not_immediate()
    }
    fn cancel_now(&self, agent_id: u64) -> FfiResult<()> {
        let _ = agent_id;
        not_immediate()
    }
    fn signal_idle_now(&self, agent_id: u64) -> FfiResult<()> {
        let _ = agent_id;
        not_immediate()
    }
    fn history_now(&self, agent_id: u64) -> FfiResult<RVec<FfiMessage>> {
        let _ = agent_id;
        not_immediate()
    }
    fn turn_count_now(&self, agent_id: u64) -> FfiResult<u32> {
        let _ = agent_id;
        not_immediate()
    }
    fn total_usage_now(&self, agent_id: u64) -> FfiResult<FfiUsage> {
        let _ = agent_id;
        not_immediate()
    }
    fn last_turn_usage_now(&self, agent_id: u64) -> FfiResult<FfiUsage> {
        let _ = agent_id;
        not_immediate()
    }
    fn clear_history_now(&self, agent_id: u64) -> FfiResult<()> {
        let _ = agent_id;
        not_immediate()
    }
    fn last_response_now(&self, agent_id: u64) -> FfiResult<ROption<RString>> {
        let _ = agent_id;
        not_immediate()
    }
    fn compaction_indices_now(&self, agent_id: u64) -> FfiResult<RVec<u32>> {
        let _ = agent_id;
        not_immediate()
    }
    fn is_idle_now(&self, agent_id: u64) -> FfiResult<bool> {
        let _ = agent_id;
        not_immediate()
    }

    // --- since 0.2.4 ---------------------------------------------------------------

    /// The id the agent's conversation is saved under; a 0.2.3 plugin saves nothing.
    fn conversation_id(&self, agent_id: u64) -> FfiFuture<FfiResult<ROption<RString>>> {
        let _ = agent_id;
        async_ffi::FutureExt::into_ffi(async { FfiResult::ROk(ROption::RNone) })
    }
}

/// What a `*_now` call answers on a runtime without immediate calls (the host never
/// makes one there; a plugin built before 0.2.2 answers with this default).
fn not_immediate<T>() -> FfiResult<T> {
    from_result::<T, T>(Err(no_immediate_calls()))
}

fn no_immediate_calls() -> Error {
    Error::BackendError("this runtime answers no immediate calls".into())
}

/// A runtime as it crosses the boundary: an owned, type-erased trait object.
pub type FfiRuntimeBox = FfiRuntime_TO<'static, RBox<()>>;

/// `AgentConfig` crosses as JSON (large, cold, and it grows).
fn config_to_json(config: &AgentConfig) -> Result<RString, Error> {
    serde_json::to_string(config)
        .map(RString::from)
        .map_err(|error| Error::InvalidConfig(format!("agent config: {error}")))
}

fn config_from_json(json: &str) -> Result<AgentConfig, Error> {
    serde_json::from_str(json)
        .map_err(|error| Error::InvalidConfig(format!("agent config: {error}")))
}

// --- plugin side ---------------------------------------------------------------------

/// Wraps a backend so that it can cross: every call is contained (see `guard`).
pub(crate) fn export_runtime<R: Runtime + 'static>(
    runtime: R,
    context: PluginContext,
) -> FfiRuntimeBox {
    FfiRuntime_TO::from_value(
        ExportedRuntime {
            runtime: Arc::new(runtime),
            context,
        },
        abi_stable::sabi_trait::TD_Opaque,
    )
}

/// A backend exported and imported again in this process, so every call takes the
/// foreign path without building a library (for tests and benches).
pub(crate) fn round_trip<R: Runtime + 'static>(
    plugin: &'static str,
    runtime: R,
) -> Result<ImportedRuntime, Error> {
    let context = PluginContext::new(plugin)?;
    Ok(ImportedRuntime::new(export_runtime(runtime, context)))
}

pub(crate) struct ExportedRuntime<R> {
    runtime: Arc<R>,
    context: PluginContext,
}

impl<R: Runtime + 'static> ExportedRuntime<R> {
    /// Answers one immediate call inside the plugin: in its runtime context, with its
    /// panics contained (one escaping a plain FFI call would end the process).
    fn now<T, U>(&self, body: impl FnOnce(&dyn ImmediateCalls) -> Result<T, Error>) -> FfiResult<U>
    where
        U: From<T>,
    {
        let answer = self.context.call(|| match self.runtime.immediate() {
            Some(calls) => body(calls),
            None => Err(no_immediate_calls()),
        });
        from_result(answer.and_then(|answer| answer))
    }

    /// Runs one async `Runtime` call on the plugin side and converts its answer.
    fn call<T, U, F, Fut>(&self, body: F) -> FfiFuture<FfiResult<U>>
    where
        F: FnOnce(Arc<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        U: From<T> + Send + 'static,
    {
        let runtime = self.runtime.clone();
        self.context
            .future(async move { from_result(body(runtime).await) })
    }
}

impl<R: Runtime + 'static> FfiRuntime for ExportedRuntime<R> {
    fn create_agent(&self, config_json: RString) -> FfiFuture<FfiResult<u64>> {
        self.call(move |rt| async move {
            let config = config_from_json(&config_json)?;
            rt.create_agent(config).await
        })
    }

    fn chat(&self, agent_id: u64, content: FfiContent) -> FfiFuture<FfiResult<FfiChatStreamBox>> {
        let context = self.context;
        self.call(move |rt| async move {
            let handle = rt.chat(agent_id, &Content::from(content)).await?;
            Ok(ExportedStream::new(handle, context).into_ffi())
        })
    }

    fn shutdown_agent(&self, agent_id: u64) -> FfiFuture<FfiResult<()>> {
        self.call(move |rt| async move { rt.shutdown_agent(agent_id).await })
    }

    fn cancel(&self, agent_id: u64) -> FfiFuture<FfiResult<()>> {
        self.call(move |rt| async move { rt.cancel(agent_id).await })
    }

    fn wait_for_idle(&self, agent_id: u64) -> FfiFuture<FfiResult<()>> {
        self.call(move |rt| async move { rt.wait_for_idle(agent_id).await })
    }

    fn send(&self, agent_id: u64, content: FfiContent) -> FfiFuture<FfiResult<()>> {
        self.call(move |rt| async move { rt.send(agent_id, &Content::from(content)).await })
    }

    fn signal_idle(&self, agent_id: u64) -> FfiFuture<FfiResult<()>> {
        self.call(move |rt| async move { rt.signal_idle(agent_id).await })
    }

    fn wait_for_wakeup(&self, agent_id: u64, timeout: FfiDuration) -> FfiFuture<FfiResult<bool>> {
        self.call(move |rt| async move { rt.wait_for_wakeup(agent_id, timeout.into()).await })
    }

    fn wait_for_quota(&self) -> FfiFuture<()> {
        let runtime = self.runtime.clone();
        self.context
            .future(async move { runtime.wait_for_quota().await })
    }

    fn record_quota_hit(&self, retry_after: FfiDuration) -> FfiFuture<()> {
        let runtime = self.runtime.clone();
        self.context
            .future(async move { runtime.record_quota_hit(retry_after.into()).await })
    }

    fn quota(&self) -> FfiQuotaBox {
        ExportedQuota::into_ffi(self.runtime.clone(), self.context)
    }

    fn history(&self, agent_id: u64) -> FfiFuture<FfiResult<RVec<FfiMessage>>> {
        self.call(move |rt| async move {
            let history = rt.history(agent_id).await?;
            Ok(history
                .into_iter()
                .map(FfiMessage::from)
                .collect::<RVec<_>>())
        })
    }

    fn turn_count(&self, agent_id: u64) -> FfiFuture<FfiResult<u32>> {
        self.call(move |rt| async move { rt.turn_count(agent_id).await })
    }

    fn total_usage(&self, agent_id: u64) -> FfiFuture<FfiResult<FfiUsage>> {
        self.call(move |rt| async move { rt.total_usage(agent_id).await })
    }

    fn last_turn_usage(&self, agent_id: u64) -> FfiFuture<FfiResult<FfiUsage>> {
        self.call(move |rt| async move { rt.last_turn_usage(agent_id).await })
    }

    fn clear_history(&self, agent_id: u64) -> FfiFuture<FfiResult<()>> {
        self.call(move |rt| async move { rt.clear_history(agent_id).await })
    }

    fn last_response(&self, agent_id: u64) -> FfiFuture<FfiResult<ROption<RString>>> {
        self.call(move |rt| async move {
            Ok(ROption::from(
                rt.last_response(agent_id).await?.map(RString::from),
            ))
        })
    }

    fn compaction_indices(&self, agent_id: u64) -> FfiFuture<FfiResult<RVec<u32>>> {
        self.call(move |rt| async move { rt.compaction_indices(agent_id).await })
    }

    fn delete(&self, agent_id: u64) -> FfiFuture<FfiResult<()>> {
        self.call(move |rt| async move { rt.delete(agent_id).await })
    }

    fn conversation_id(&self, agent_id: u64) -> FfiFuture<FfiResult<ROption<RString>>> {
        self.call(move |rt| async move {
            Ok(ROption::from(
                rt.conversation_id(agent_id).await?.map(RString::from),
            ))
        })
    }

    fn disconnect(&self, agent_id: u64) -> FfiFuture<FfiResult<()>> {
        self.call(move |rt| async move { rt.disconnect(agent_id).await })
    }

    fn is_idle(&self, agent_id: u64) -> FfiFuture<FfiResult<bool>> {
        self.call(move |rt| async move { rt.is_idle(agent_id).await })
    }

    fn try_shutdown_agent(&self, agent_id: u64) {
        let _ = self
            .context
            .call(|| self.runtime.try_shutdown_agent(agent_id));
    }

    fn create_agent_with_tools(
        &self,
        config_json: RString,
        tools: FfiToolHostBox,
    ) -> FfiFuture<FfiResult<u64>> {
        self.call(move |rt| async move {
            let config = config_from_json(&config_json)?;
            rt.create_agent_with_tools(config, tool_host::import(tools))
                .await
        })
    }

    fn host_tools_unavailable(&self) -> ROption<RString> {
        self.context
            .call(|| self.runtime.host_tools_unavailable())
            .unwrap_or_else(|error| Some(error.to_string()))
            .map(RString::from)
            .into()
    }

    fn answers_immediately(&self) -> bool {
        self.context
            .call(|| self.runtime.immediate().is_some())
            .unwrap_or(false)
    }

    fn chat_now(&self, agent_id: u64, content: FfiContent) -> FfiResult<FfiChatStart> {
        let context = self.context;
        self.now(|calls| {
            let handle = calls.chat(agent_id, Content::from(content))?;
            Ok(ExportedStream::new(handle, context).into_start())
        })
    }

    fn send_now(&self, agent_id: u64, content: FfiContent) -> FfiResult<()> {
        self.now(|calls| calls.send(agent_id, Content::from(content)))
    }

    fn cancel_now(&self, agent_id: u64) -> FfiResult<()> {
        self.now(|calls| calls.cancel(agent_id))
    }

    fn signal_idle_now(&self, agent_id: u64) -> FfiResult<()> {
        self.now(|calls| calls.signal_idle(agent_id))
    }

    fn history_now(&self, agent_id: u64) -> FfiResult<RVec<FfiMessage>> {
        self.now(|calls| {
            Ok(calls
                .history(agent_id)?
                .into_iter()
                .map(FfiMessage::from)
                .collect::<RVec<_>>())
        })
    }

    fn turn_count_now(&self, agent_id: u64) -> FfiResult<u32> {
        self.now(|calls| calls.turn_count(agent_id))
    }

    fn total_usage_now(&self, agent_id: u64) -> FfiResult<FfiUsage> {
        self.now(|calls| calls.total_usage(agent_id))
    }

    fn last_turn_usage_now(&self, agent_id: u64) -> FfiResult<FfiUsage> {
        self.now(|calls| calls.last_turn_usage(agent_id))
    }

    fn clear_history_now(&self, agent_id: u64) -> FfiResult<()> {
        self.now(|calls| calls.clear_history(agent_id))
    }

    fn last_response_now(&self, agent_id: u64) -> FfiResult<ROption<RString>> {
        self.now(|calls| {
            Ok(ROption::from(
                calls.last_response(agent_id)?.map(RString::from),
            ))
        })
    }

    fn compaction_indices_now(&self, agent_id: u64) -> FfiResult<RVec<u32>> {
        self.now(|calls| calls.compaction_indices(agent_id).map(RVec::from))
    }

    fn is_idle_now(&self, agent_id: u64) -> FfiResult<bool> {
        self.now(|calls| calls.is_idle(agent_id))
    }
}

// --- host side -----------------------------------------------------------------------

/// A plugin's runtime as Rust futures, one per call, each crossing once; `PluginRuntime`
/// makes it a `Runtime`.
pub(crate) struct ImportedRuntime {
    ffi: FfiRuntimeBox,
    quota: QuotaRegistry,
    /// Asked once: why the plugin cannot run host tools, if it cannot.
    host_tools_unavailable: Option<String>,
    /// Asked once: the plugin answers the `*_now` calls (api 0.2.2 and a runtime that
    /// offers [`ImmediateCalls`]).
    immediate: bool,
}

impl ImportedRuntime {
    pub(crate) fn new(ffi: FfiRuntimeBox) -> Self {
        let quota = quota::import(ffi.quota());
        let host_tools_unavailable = ffi
            .host_tools_unavailable()
            .into_option()
            .map(RString::into_string);
        let immediate = ffi.answers_immediately();
        ImportedRuntime {
            ffi,
            quota,
            host_tools_unavailable,
            immediate,
        }
    }

    /// A turn whose handle fails with `timeout` if the turn has not ended by `deadline`;
    /// the plugin's stream is dropped then, which cancels the turn there.
    pub(crate) async fn chat_until(
        &self,
        agent_id: AgentId,
        content: &Content,
        deadline: Option<(tokio::time::Instant, Error)>,
    ) -> Result<ChatResponseHandle, Error> {
        let content = FfiContent::from(content);
        let stream = if self.immediate {
            let start = self.ffi.chat_now(agent_id, content);
            match ImportedStream::from_start(start.into_result().map_err(Error::from)?) {
                // Over already: there is no deadline left to keep.
                ImportedStart::Ended(handle) => return Ok(handle),
                ImportedStart::Going(stream) => stream,
            }
        } else {
            let stream = self.ffi.chat(agent_id, content).await;
            ImportedStream::from_stream(stream.into_result().map_err(Error::from)?)
        };
        Ok(match deadline {
            None => stream.into_handle(),
            Some((deadline, timeout)) => stream.into_handle_with_deadline(deadline, timeout),
        })
    }

    // The calls themselves are plain futures, not a second `Runtime`, whose every call
    // would be boxed once more (`PluginRuntime` is the `Runtime`, with the call timeouts
    // on top). The ones with an immediate twin make the plain call when the plugin
    // answers them: the future is then ready at its first poll.

    pub(crate) async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        let json = config_to_json(&config)?;
        into_result(self.ffi.create_agent(json).await)
    }

    pub(crate) fn host_tools_unavailable(&self) -> Option<String> {
        self.host_tools_unavailable.clone()
    }

    pub(crate) async fn create_agent_with_tools(
        &self,
        config: AgentConfig,
        tools: Tools,
    ) -> Result<AgentId, Error> {
        if tools.is_empty() || self.host_tools_unavailable.is_some() {
            return self.create_agent(config).await;
        }
        let json = config_to_json(&config)?;
        let host = ExportedToolHost::into_ffi(tools);
        into_result(self.ffi.create_agent_with_tools(json, host).await)
    }

    pub(crate) async fn shutdown_agent(&self, agent_id: AgentId) -> Result<(), Error> {
        into_result(self.ffi.shutdown_agent(agent_id).await)
    }

    pub(crate) async fn cancel(&self, agent_id: AgentId) -> Result<(), Error> {
        if self.immediate {
            return into_result(self.ffi.cancel_now(agent_id));
        }
        into_result(self.ffi.cancel(agent_id).await)
    }

    pub(crate) async fn wait_for_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        into_result(self.ffi.wait_for_idle(agent_id).await)
    }

    pub(crate) async fn send(&self, agent_id: AgentId, content: &Content) -> Result<(), Error> {
        let content = FfiContent::from(content);
        if self.immediate {
            return into_result(self.ffi.send_now(agent_id, content));
        }
        into_result(self.ffi.send(agent_id, content).await)
    }

    pub(crate) async fn signal_idle(&self, agent_id: AgentId) -> Result<(), Error> {
        if self.immediate {
            return into_result(self.ffi.signal_idle_now(agent_id));
        }
        into_result(self.ffi.signal_idle(agent_id).await)
    }

    pub(crate) async fn wait_for_wakeup(
        &self,
        agent_id: AgentId,
        timeout: Duration,
    ) -> Result<bool, Error> {
        into_result(self.ffi.wait_for_wakeup(agent_id, timeout.into()).await)
    }

    pub(crate) async fn wait_for_quota(&self) {
        self.ffi.wait_for_quota().await
    }

    pub(crate) async fn record_quota_hit(&self, retry_after: Duration) {
        self.ffi.record_quota_hit(retry_after.into()).await
    }

    pub(crate) fn quota_registry(&self) -> &QuotaRegistry {
        &self.quota
    }

    pub(crate) async fn history(
        &self,
        agent_id: AgentId,
    ) -> Result<Vec<ConversationMessage>, Error> {
        let history = if self.immediate {
            self.ffi.history_now(agent_id)
        } else {
            self.ffi.history(agent_id).await
        };
        let history = history.into_result().map_err(Error::from)?;
        Ok(history.into_iter().map(ConversationMessage::from).collect())
    }

    pub(crate) async fn turn_count(&self, agent_id: AgentId) -> Result<u32, Error> {
        if self.immediate {
            return into_result(self.ffi.turn_count_now(agent_id));
        }
        into_result(self.ffi.turn_count(agent_id).await)
    }

    pub(crate) async fn total_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        if self.immediate {
            return into_result(self.ffi.total_usage_now(agent_id));
        }
        into_result(self.ffi.total_usage(agent_id).await)
    }

    pub(crate) async fn last_turn_usage(&self, agent_id: AgentId) -> Result<UsageMetadata, Error> {
        if self.immediate {
            return into_result(self.ffi.last_turn_usage_now(agent_id));
        }
        into_result(self.ffi.last_turn_usage(agent_id).await)
    }

    pub(crate) async fn clear_history(&self, agent_id: AgentId) -> Result<(), Error> {
        if self.immediate {
            return into_result(self.ffi.clear_history_now(agent_id));
        }
        into_result(self.ffi.clear_history(agent_id).await)
    }

    pub(crate) async fn last_response(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        let response = if self.immediate {
            self.ffi.last_response_now(agent_id)
        } else {
            self.ffi.last_response(agent_id).await
        };
        let response = response.into_result().map_err(Error::from)?;
        Ok(response.into_option().map(RString::into_string))
    }

    pub(crate) async fn conversation_id(&self, agent_id: AgentId) -> Result<Option<String>, Error> {
        let id: ROption<RString> = into_result(self.ffi.conversation_id(agent_id).await)?;
        Ok(id.into_option().map(RString::into_string))
    }

    pub(crate) async fn compaction_indices(&self, agent_id: AgentId) -> Result<Vec<u32>, Error> {
        let indices = if self.immediate {
            self.ffi.compaction_indices_now(agent_id)
        } else {
            self.ffi.compaction_indices(agent_id).await
        };
        Ok(indices.into_result().map_err(Error::from)?.into_vec())
    }

    pub(crate) async fn delete(&self, agent_id: AgentId) -> Result<(), Error> {
        into_result(self.ffi.delete(agent_id).await)
    }

    pub(crate) async fn disconnect(&self, agent_id: AgentId) -> Result<(), Error> {
        into_result(self.ffi.disconnect(agent_id).await)
    }

    pub(crate) async fn is_idle(&self, agent_id: AgentId) -> Result<bool, Error> {
        if self.immediate {
            return into_result(self.ffi.is_idle_now(agent_id));
        }
        into_result(self.ffi.is_idle(agent_id).await)
    }

    pub(crate) fn try_shutdown_agent(&self, agent_id: AgentId) {
        self.ffi.try_shutdown_agent(agent_id)
    }
}

#[cfg(test)]
mod tests {
    //! Extreme durations through the foreign path (`PluginRuntime::in_process`).

    use std::time::Duration;

    use crate::host::PluginRuntime;
    use crate::kit::{AgentBackend, AgentRuntime, NoOptions, Turn};
    use crate::plugin::async_trait;
    use crate::quota::MAX_BACKOFF;
    use crate::runtime::Runtime;
    use crate::types::{AgentConfig, Content, Error};

    struct Quiet;

    #[async_trait]
    impl AgentBackend for Quiet {
        const NAME: &'static str = "quiet";
        const VERSION: &'static str = "0.0.0";
        type Options = NoOptions;
        type Agent = ();

        fn new(_: NoOptions) -> Result<Self, Error> {
            Ok(Quiet)
        }

        fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> {
            Ok(())
        }

        async fn chat(&self, _: &(), _: &Content, _: &mut Turn) -> Result<(), Error> {
            Ok(())
        }
    }

    fn imported() -> PluginRuntime {
        PluginRuntime::in_process("quiet", AgentRuntime::new(Quiet)).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_quota_hit_of_duration_max_is_the_longest_backoff_not_zero() {
        let runtime = imported();
        runtime.record_quota_hit(Duration::MAX).await;
        let left = runtime.quota_registry().remaining("quiet").unwrap();
        assert!(left > MAX_BACKOFF - Duration::from_secs(5), "{left:?}");
        let backoff = runtime.quota_registry().record_hit("other", Duration::MAX);
        assert_eq!(backoff, MAX_BACKOFF);
        let waiting = tokio::time::timeout(Duration::from_millis(100), runtime.wait_for_quota());
        assert!(
            waiting.await.is_err(),
            "wait_for_quota must wait, not return"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn wait_for_wakeup_with_duration_max_waits_for_a_message() {
        let runtime = std::sync::Arc::new(imported());
        let agent = runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .unwrap();
        let idle = tokio::time::timeout(
            Duration::from_millis(100),
            runtime.wait_for_wakeup(agent, Duration::MAX),
        );
        assert!(idle.await.is_err(), "with no message it keeps waiting");
        let waiter = {
            let runtime = runtime.clone();
            tokio::spawn(async move { runtime.wait_for_wakeup(agent, Duration::MAX).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        runtime.send(agent, &"wake up".into()).await.unwrap();
        assert_eq!(waiter.await.unwrap(), Ok(true));
    }
}
