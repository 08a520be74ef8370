//! The kit's own proof that every check can fail: for each check in the registry, the
//! mock with one rule of semantics.md broken on purpose must fail it, with details that
//! say what was expected. A check added to the kit without a proof here fails
//! `every_check_has_a_proof`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent_conformance::{case_names, run_case, Status, Target};
use agent_plugin_api::plugin::{async_trait, channel, Plugin};
use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatResponseHandle, ChatResult, Content, ConversationMessage, Error,
    QuotaRegistry, Tools, UsageMetadata,
};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};
use futures::StreamExt;
use serde_json::json;

/// One rule the wrapped backend breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// From the fourth agent on, ids start again from the first.
    IdsReused,
    /// A config the mock refuses is replaced by a valid one.
    AcceptsAnyConfig,
    /// `chat` waits for the whole answer before returning the handle.
    ChatWaitsForAnswer,
    /// The result's text is not the streamed text.
    ResultTextDiffers,
    /// A dropped handle leaves its turn running to the end.
    DropDoesNotCancel,
    /// `cancel` does nothing.
    CancelIgnored,
    /// `cancel` with no running turn is an error.
    CancelErrsWhenIdle,
    /// `shutdown_agent` says Ok but the agent lives on.
    ShutdownIgnored,
    /// `shutdown_agent` lets the running turn finish first.
    ShutdownWaitsForTurns,
    /// `delete` does nothing.
    DeleteIgnored,
    /// `disconnect` shuts the agent down.
    DisconnectShutsDown,
    /// Calls on unknown ids answer as if the agent existed.
    UnknownIdsAnswered,
    /// `history` is newest first.
    HistoryReversed,
    /// `turn_count` counts one too many.
    TurnCountOffByOne,
    /// `total_usage` is the last turn's.
    TotalIsLastTurn,
    /// `clear_history` does nothing.
    ClearIgnored,
    /// `last_response` is an old answer.
    LastResponseStale,
    /// `compaction_indices` points past the history.
    CompactionBeyondHistory,
    /// A failing turn is recorded before it fails.
    FailureAfterRecording,
    /// `send` waits for the answer.
    SendWaits,
    /// `wait_for_idle` returns at once.
    WaitForIdleAtOnce,
    /// `signal_idle` does nothing.
    SignalIdleIgnored,
    /// `is_idle` is always true.
    AlwaysIdle,
    /// `wait_for_wakeup` gives up at once.
    WakeupNeverWaits,
    /// `record_quota_hit` does nothing.
    QuotaHitsIgnored,
    /// Each quota backoff is shorter than the one before.
    BackoffShrinks,
    /// `try_shutdown_agent` panics.
    TryShutdownPanics,
    /// The application's tools never reach the agent.
    ToolsIgnored,
    /// A declared tool without a handler answers anyway.
    UnknownToolAnswered,
    /// `save_dir` never reaches the backend: nothing is saved, though the id is kept.
    SavesNothing,
    /// `delete` only shuts the agent down, leaving its conversation on disk.
    DeleteKeepsSaved,
    /// `conversation_id` reports one made-up id for every agent.
    OneMadeUpConversationId,
    /// A conversation in use is opened again by leaving `save_dir` out.
    ConversationShared,
}

/// For every check: the fault it must catch, and what its details must say.
const PROOFS: &[(&str, Fault, &str)] = &[
    ("agent.unique_ids", Fault::IdsReused, "repeated: ["),
    (
        "agent.invalid_config",
        Fault::AcceptsAnyConfig,
        "must return Err(InvalidConfig(..)), got Ok(",
    ),
    (
        "agent.shutdown_then_not_started",
        Fault::ShutdownIgnored,
        "history -> Ok(",
    ),
    (
        "agent.shutdown_cancels_turns",
        Fault::ShutdownWaitsForTurns,
        "the turn running at shutdown must end with Err(Cancelled)",
    ),
    (
        "agent.unknown_id_not_started",
        Fault::UnknownIdsAnswered,
        "turn_count -> Ok(0)",
    ),
    (
        "agent.delete",
        Fault::DeleteIgnored,
        "after delete, every call",
    ),
    (
        "agent.try_shutdown_non_blocking",
        Fault::TryShutdownPanics,
        "panicked: try_shutdown_agent panicked on purpose",
    ),
    (
        "agent.disconnect",
        Fault::DisconnectShutsDown,
        "AgentNotStarted",
    ),
    (
        "chat.handle_before_completion",
        Fault::ChatWaitsForAnswer,
        "its turn was already complete, although a turn on the long prompt takes",
    ),
    (
        "chat.text_matches_chunks",
        Fault::ResultTextDiffers,
        "ChatResult.text must be the text chunks concatenated",
    ),
    (
        "chat.independent_streams",
        Fault::ResultTextDiffers,
        "ChatResult.text is",
    ),
    (
        "chat.turns_in_call_order",
        Fault::HistoryReversed,
        "three turns queued at once must run in call order",
    ),
    (
        "chat.drop_cancels",
        Fault::DropDoesNotCancel,
        "only that turn may be in the history",
    ),
    (
        "chat.cancel_ends_turn",
        Fault::CancelIgnored,
        "must end with Err(Cancelled), got Ok(",
    ),
    (
        "chat.cancel_without_turn",
        Fault::CancelErrsWhenIdle,
        "cancel on an agent that never had a turn must be Ok(())",
    ),
    (
        "conversation.history_order",
        Fault::HistoryReversed,
        "after one turn: expected history [User",
    ),
    (
        "conversation.turn_count",
        Fault::TurnCountOffByOne,
        "turn_count is 1 after 0 completed turns",
    ),
    (
        "conversation.usage_sums",
        Fault::TotalIsLastTurn,
        "total_usage is",
    ),
    (
        "conversation.clear_history",
        Fault::ClearIgnored,
        "after clear_history",
    ),
    (
        "conversation.last_response",
        Fault::LastResponseStale,
        "expected that turn's answer",
    ),
    (
        "conversation.compaction_indices",
        Fault::CompactionBeyondHistory,
        "has positions beyond it",
    ),
    (
        "conversation.cancelled_turn_changes_nothing",
        Fault::CancelIgnored,
        "",
    ),
    (
        "conversation.failed_turn_changes_nothing",
        Fault::FailureAfterRecording,
        "",
    ),
    (
        "idle.send_queues_turn",
        Fault::SendWaits,
        "send must return without waiting for the answer",
    ),
    ("idle.send_wakes", Fault::WakeupNeverWaits, "returned false"),
    (
        "idle.wakeup_times_out",
        Fault::WakeupNeverWaits,
        "before its timeout passed",
    ),
    (
        "idle.wait_for_idle",
        Fault::WaitForIdleAtOnce,
        "wait_for_idle must return only when no turn is running or queued",
    ),
    (
        "idle.signal_idle",
        Fault::SignalIdleIgnored,
        "after signal_idle, is_idle must be true",
    ),
    (
        "idle.busy_during_turn",
        Fault::AlwaysIdle,
        "is_idle must be false right after chat returned",
    ),
    (
        "quota.backoff_at_least_retry_after",
        Fault::QuotaHitsIgnored,
        "returned after only",
    ),
    (
        "quota.backoff_grows",
        Fault::BackoffShrinks,
        "must back off longer each time",
    ),
    (
        "quota.registry_per_runtime",
        Fault::QuotaHitsIgnored,
        "returned within 300 ms",
    ),
    (
        "concurrency.many_agents",
        Fault::IdsReused,
        "concurrent agents went wrong",
    ),
    (
        "tools.call_and_result",
        Fault::ToolsIgnored,
        "the handler ran 0 times",
    ),
    (
        "tools.several_in_a_turn",
        Fault::ToolsIgnored,
        "the handlers ran 0 and 0 times",
    ),
    ("tools.concurrent_calls", Fault::ToolsIgnored, ""),
    ("tools.failing_tool", Fault::ToolsIgnored, ""),
    (
        "tools.unknown_tool",
        Fault::UnknownToolAnswered,
        "a call to a tool without a handler should give an error result",
    ),
    ("tools.cancel_during_call", Fault::ToolsIgnored, "timed out"),
    (
        "saved.resumes_after_restart",
        Fault::SavesNothing,
        "in a new runtime, with the same save_dir and conversation_id",
    ),
    (
        "saved.clear_and_delete",
        Fault::DeleteKeepsSaved,
        "after delete, a new agent on the conversation must start afresh",
    ),
    (
        "saved.generated_id",
        Fault::OneMadeUpConversationId,
        "two agents created without a conversation_id got the same one",
    ),
    (
        "saved.one_agent_per_conversation",
        Fault::ConversationShared,
        "must be refused with Err(InvalidConfig(..))",
    ),
];

/// The mock with one fault: every other call goes straight through.
struct Broken {
    inner: Box<dyn Runtime>,
    fault: Fault,
    first_id: AtomicU64,
    quota_hits: AtomicU32,
}

impl Broken {
    fn has(&self, fault: Fault) -> bool {
        self.fault == fault
    }
}

/// A handle that replays `inner`'s events and ends with `end(inner's outcome)`. With
/// `outlive_reader`, it reads `inner` to its end even when its own reader is gone, so
/// dropping it cancels nothing.
fn relay(
    inner: ChatResponseHandle,
    outlive_reader: bool,
    end: impl FnOnce(Result<ChatResult, Error>) -> Result<ChatResult, Error> + Send + 'static,
) -> ChatResponseHandle {
    let (sender, handle) = channel();
    tokio::spawn(async move {
        let mut events = inner.events();
        while let Some(event) = events.next().await {
            if !sender.send(event) && !outlive_reader {
                return;
            }
        }
        let outcome = inner.text().await;
        sender.finish(end(outcome));
    });
    handle
}

#[async_trait]
impl Runtime for Broken {
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        self.create_agent_with_tools(config, Tools::new()).await
    }
    async fn create_agent_with_tools(
        &self,
        config: AgentConfig,
        tools: Tools,
    ) -> Result<AgentId, Error> {
        let tools = match self.fault {
            Fault::ToolsIgnored => Tools::new(),
            Fault::UnknownToolAnswered => {
                let mut tools = tools;
                for declared in &config.tools {
                    if !tools.contains(&declared.name) {
                        tools =
                            tools.with(declared.name.clone(), |_| async { Ok(json!("made up")) });
                    }
                }
                tools
            }
            _ => tools,
        };
        let mut config = config;
        if self.has(Fault::SavesNothing) {
            config.save_dir = None;
        }
        let created = self
            .inner
            .create_agent_with_tools(config.clone(), tools.clone())
            .await;
        let id = match created {
            Err(Error::InvalidConfig(why))
                if self.has(Fault::ConversationShared) && why.contains("in use") =>
            {
                config.save_dir = None;
                self.inner.create_agent_with_tools(config, tools).await?
            }
            Err(Error::InvalidConfig(_)) if self.has(Fault::AcceptsAnyConfig) => {
                self.inner
                    .create_agent_with_tools(AgentConfig::builder("stand-in").build(), tools)
                    .await?
            }
            other => other?,
        };
        if self.has(Fault::IdsReused) {
            let _ = self
                .first_id
                .compare_exchange(0, id, Ordering::SeqCst, Ordering::SeqCst);
            let first = self.first_id.load(Ordering::SeqCst);
            return Ok(first + (id - first) % 3);
        }
        Ok(id)
    }
    async fn chat(&self, agent: AgentId, content: &Content) -> Result<ChatResponseHandle, Error> {
        if self.has(Fault::FailureAfterRecording) && content.to_text().contains("FAIL") {
            let recorded = self
                .inner
                .chat(agent, &Content::text("recorded, then reported as failed"))
                .await?;
            return Ok(relay(recorded, true, |_| {
                Err(Error::BackendError(
                    "failed after recording the turn".into(),
                ))
            }));
        }
        let handle = self.inner.chat(agent, content).await?;
        match self.fault {
            Fault::ChatWaitsForAnswer => {
                handle.text().await?;
                self.inner.wait_for_idle(agent).await?;
                Ok(handle)
            }
            Fault::ResultTextDiffers => Ok(relay(handle, false, |outcome| {
                outcome.map(|mut result| {
                    result.text.push_str(" (and more)");
                    result
                })
            })),
            Fault::DropDoesNotCancel => Ok(relay(handle, true, |outcome| outcome)),
            _ => Ok(handle),
        }
    }
    async fn shutdown_agent(&self, agent: AgentId) -> Result<(), Error> {
        match self.fault {
            Fault::ShutdownIgnored => return Ok(()),
            Fault::ShutdownWaitsForTurns => {
                // Lets the running turn end well (its handle still being read).
                while !self.inner.is_idle(agent).await? {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            _ => {}
        }
        self.inner.shutdown_agent(agent).await
    }
    async fn cancel(&self, agent: AgentId) -> Result<(), Error> {
        match self.fault {
            Fault::CancelIgnored => Ok(()),
            Fault::CancelErrsWhenIdle if self.inner.is_idle(agent).await? => {
                Err(Error::BackendError("nothing to cancel".into()))
            }
            _ => self.inner.cancel(agent).await,
        }
    }
    async fn wait_for_idle(&self, agent: AgentId) -> Result<(), Error> {
        if self.has(Fault::WaitForIdleAtOnce) {
            return Ok(());
        }
        self.inner.wait_for_idle(agent).await
    }
    async fn send(&self, agent: AgentId, content: &Content) -> Result<(), Error> {
        self.inner.send(agent, content).await?;
        if self.has(Fault::SendWaits) {
            self.inner.wait_for_idle(agent).await?;
        }
        Ok(())
    }
    async fn signal_idle(&self, agent: AgentId) -> Result<(), Error> {
        if self.has(Fault::SignalIdleIgnored) {
            return self.inner.is_idle(agent).await.map(|_| ());
        }
        self.inner.signal_idle(agent).await
    }
    async fn wait_for_wakeup(&self, agent: AgentId, timeout: Duration) -> Result<bool, Error> {
        if self.has(Fault::WakeupNeverWaits) {
            return Ok(false);
        }
        self.inner.wait_for_wakeup(agent, timeout).await
    }
    async fn wait_for_quota(&self) {
        if self.has(Fault::BackoffShrinks) {
            // 100 ms, then 50 ms, ...: never longer than the one before.
            let hits = self.quota_hits.load(Ordering::SeqCst).max(1);
            tokio::time::sleep(Duration::from_millis(100) / hits).await;
            return;
        }
        self.inner.wait_for_quota().await
    }
    async fn record_quota_hit(&self, retry_after: Duration) {
        match self.fault {
            Fault::QuotaHitsIgnored => {}
            Fault::BackoffShrinks => {
                self.quota_hits.fetch_add(1, Ordering::SeqCst);
            }
            _ => self.inner.record_quota_hit(retry_after).await,
        }
    }
    fn quota_registry(&self) -> &QuotaRegistry {
        self.inner.quota_registry()
    }
    async fn history(&self, agent: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        let mut history = self.inner.history(agent).await?;
        if self.has(Fault::HistoryReversed) {
            history.reverse();
        }
        Ok(history)
    }
    async fn turn_count(&self, agent: AgentId) -> Result<u32, Error> {
        match self.inner.turn_count(agent).await {
            Err(Error::AgentNotStarted(_)) if self.has(Fault::UnknownIdsAnswered) => Ok(0),
            Ok(count) if self.has(Fault::TurnCountOffByOne) => Ok(count + 1),
            other => other,
        }
    }
    async fn total_usage(&self, agent: AgentId) -> Result<UsageMetadata, Error> {
        if self.has(Fault::TotalIsLastTurn) {
            return self.inner.last_turn_usage(agent).await;
        }
        self.inner.total_usage(agent).await
    }
    async fn last_turn_usage(&self, agent: AgentId) -> Result<UsageMetadata, Error> {
        self.inner.last_turn_usage(agent).await
    }
    async fn clear_history(&self, agent: AgentId) -> Result<(), Error> {
        if self.has(Fault::ClearIgnored) {
            return Ok(());
        }
        self.inner.clear_history(agent).await
    }
    async fn last_response(&self, agent: AgentId) -> Result<Option<String>, Error> {
        let last = self.inner.last_response(agent).await?;
        if self.has(Fault::LastResponseStale) && last.is_some() {
            return Ok(Some("an answer from long ago".into()));
        }
        Ok(last)
    }
    async fn compaction_indices(&self, agent: AgentId) -> Result<Vec<u32>, Error> {
        let mut indices = self.inner.compaction_indices(agent).await?;
        if self.has(Fault::CompactionBeyondHistory) {
            indices.push(9_999);
        }
        Ok(indices)
    }
    async fn delete(&self, agent: AgentId) -> Result<(), Error> {
        if self.has(Fault::DeleteIgnored) {
            return Ok(());
        }
        if self.has(Fault::DeleteKeepsSaved) {
            return self.inner.shutdown_agent(agent).await;
        }
        self.inner.delete(agent).await
    }
    async fn conversation_id(&self, agent: AgentId) -> Result<Option<String>, Error> {
        let id = self.inner.conversation_id(agent).await?;
        if self.has(Fault::OneMadeUpConversationId) {
            return Ok(id.map(|_| "made-up".to_owned()));
        }
        Ok(id)
    }
    async fn disconnect(&self, agent: AgentId) -> Result<(), Error> {
        if self.has(Fault::DisconnectShutsDown) {
            return self.inner.shutdown_agent(agent).await;
        }
        self.inner.disconnect(agent).await
    }
    async fn is_idle(&self, agent: AgentId) -> Result<bool, Error> {
        if self.has(Fault::AlwaysIdle) {
            return self.inner.is_idle(agent).await.map(|_| true);
        }
        self.inner.is_idle(agent).await
    }
    fn try_shutdown_agent(&self, agent: AgentId) {
        if self.has(Fault::TryShutdownPanics) {
            panic!("try_shutdown_agent panicked on purpose");
        }
        self.inner.try_shutdown_agent(agent)
    }
}

fn broken(fault: Fault) -> Target {
    Target::new_shared(format!("mock with {fault:?}"), move || async move {
        let mock = <MockRuntime as Plugin>::new(MockOptions::default())?;
        Ok(Arc::new(Broken {
            inner: Box::new(mock),
            fault,
            first_id: AtomicU64::new(0),
            quota_hits: AtomicU32::new(0),
        }) as Arc<dyn Runtime>)
    })
    .with_failing_prompt(Some(Content::text("conformance: please FAIL")))
    // A fault that makes a check wait for what never comes fails at this timeout.
    .with_check_timeout(Duration::from_secs(5))
}

#[test]
fn every_check_has_a_proof() {
    let proved: HashSet<&str> = PROOFS.iter().map(|(name, _, _)| *name).collect();
    let missing: Vec<&str> = case_names()
        .into_iter()
        .filter(|name| !proved.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "checks with no proof that they can fail: {missing:?}"
    );
    assert_eq!(proved.len(), PROOFS.len(), "a check is proved twice");
}

/// Every check fails (not warns, not skips) on the mock with its fault.
#[tokio::test(flavor = "multi_thread")]
async fn every_check_fails_on_its_fault() {
    let mut wrong = Vec::new();
    for &(name, fault, expected) in PROOFS {
        let report = run_case(&broken(fault), name).await.expect("a known check");
        let caught = matches!(report.status, Status::Failed | Status::Crashed)
            && report.details.contains(expected);
        if !caught {
            wrong.push(format!(
                "{fault:?} should fail {name} mentioning {expected:?}: {report}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// Without a fault, the same wrapper passes every check, so each failure above is the
/// fault's doing.
#[tokio::test(flavor = "multi_thread")]
async fn the_wrapper_itself_breaks_nothing() {
    let clean = Target::new_shared("mock through the wrapper", || async {
        let mock = <MockRuntime as Plugin>::new(MockOptions::default())?;
        Ok(Arc::new(Broken {
            inner: Box::new(mock),
            // A fault no check reaches without asking for it.
            fault: Fault::TryShutdownPanics,
            first_id: AtomicU64::new(0),
            quota_hits: AtomicU32::new(0),
        }) as Arc<dyn Runtime>)
    })
    .with_failing_prompt(Some(Content::text("conformance: please FAIL")));
    let report =
        agent_conformance::run_selected(&clean, |name| name != "agent.try_shutdown_non_blocking")
            .await;
    assert!(
        report.is_success() && report.tally().warnings == 0,
        "{report}"
    );
}

/// A backend that answers the long prompt at once breaks no rule: the checks that act on
/// a running turn say so as warnings, naming the long prompt, not as failures.
#[tokio::test(flavor = "multi_thread")]
async fn a_backend_too_fast_for_the_long_prompt_gets_warnings_not_failures() {
    let fast = Target::new("mock with no chunk delay", || async {
        <MockRuntime as Plugin>::new(MockOptions {
            chunk_delay_ms: 0,
            ..MockOptions::default()
        })
    });
    for name in [
        "chat.handle_before_completion",
        "chat.cancel_ends_turn",
        "chat.drop_cancels",
        "idle.send_queues_turn",
        "idle.busy_during_turn",
    ] {
        let report = run_case(&fast, name).await.expect("a known check");
        assert_eq!(report.status, Status::Warning, "{report}");
        assert!(report.details.contains("long prompt"), "{report}");
    }
}
