//! The kit's own proof that its checks can fail: the mock backend with one rule of
//! semantics.md broken on purpose must fail the check for that rule, with details that
//! say what was expected.

use std::sync::Arc;
use std::time::Duration;

use agent_conformance::{run_case, Status, Target};
use agent_plugin_api::plugin::{async_trait, Plugin};
use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatResponseHandle, Content, ConversationMessage, Error, QuotaRegistry,
    UsageMetadata,
};
use agent_plugin_api::Runtime;
use agent_plugin_mock::{MockOptions, MockRuntime};

/// One rule the wrapped backend breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// `chat` waits for the whole answer before returning the handle.
    ChatWaitsForAnswer,
    /// `cancel` does nothing.
    CancelIgnored,
    /// `shutdown_agent` says Ok but the agent lives on.
    ShutdownIgnored,
    /// Calls on unknown ids answer as if the agent existed.
    UnknownIdsAnswered,
    /// `history` is newest first.
    HistoryReversed,
    /// `clear_history` does nothing.
    ClearIgnored,
    /// `is_idle` is always true.
    AlwaysIdle,
    /// `wait_for_wakeup` gives up at once.
    WakeupNeverWaits,
    /// `record_quota_hit` does nothing.
    QuotaHitsIgnored,
    /// `try_shutdown_agent` panics.
    TryShutdownPanics,
}

/// The mock with one fault: every other call goes straight through.
struct Broken {
    inner: Box<dyn Runtime>,
    fault: Fault,
}

impl Broken {
    fn has(&self, fault: Fault) -> bool {
        self.fault == fault
    }
}

#[async_trait]
impl Runtime for Broken {
    async fn create_agent(&self, config: AgentConfig) -> Result<AgentId, Error> {
        self.inner.create_agent(config).await
    }
    async fn chat(&self, agent: AgentId, content: &Content) -> Result<ChatResponseHandle, Error> {
        let handle = self.inner.chat(agent, content).await?;
        if self.has(Fault::ChatWaitsForAnswer) {
            handle.text().await?;
            self.inner.wait_for_idle(agent).await?;
        }
        Ok(handle)
    }
    async fn shutdown_agent(&self, agent: AgentId) -> Result<(), Error> {
        if self.has(Fault::ShutdownIgnored) {
            return Ok(());
        }
        self.inner.shutdown_agent(agent).await
    }
    async fn cancel(&self, agent: AgentId) -> Result<(), Error> {
        if self.has(Fault::CancelIgnored) {
            return Ok(());
        }
        self.inner.cancel(agent).await
    }
    async fn wait_for_idle(&self, agent: AgentId) -> Result<(), Error> {
        self.inner.wait_for_idle(agent).await
    }
    async fn send(&self, agent: AgentId, content: &Content) -> Result<(), Error> {
        self.inner.send(agent, content).await
    }
    async fn signal_idle(&self, agent: AgentId) -> Result<(), Error> {
        self.inner.signal_idle(agent).await
    }
    async fn wait_for_wakeup(&self, agent: AgentId, timeout: Duration) -> Result<bool, Error> {
        if self.has(Fault::WakeupNeverWaits) {
            return Ok(false);
        }
        self.inner.wait_for_wakeup(agent, timeout).await
    }
    async fn wait_for_quota(&self) {
        self.inner.wait_for_quota().await
    }
    async fn record_quota_hit(&self, retry_after: Duration) {
        if !self.has(Fault::QuotaHitsIgnored) {
            self.inner.record_quota_hit(retry_after).await
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
            other => other,
        }
    }
    async fn total_usage(&self, agent: AgentId) -> Result<UsageMetadata, Error> {
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
        self.inner.last_response(agent).await
    }
    async fn compaction_indices(&self, agent: AgentId) -> Result<Vec<u32>, Error> {
        self.inner.compaction_indices(agent).await
    }
    async fn delete(&self, agent: AgentId) -> Result<(), Error> {
        self.inner.delete(agent).await
    }
    async fn disconnect(&self, agent: AgentId) -> Result<(), Error> {
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
        }) as Arc<dyn Runtime>)
    })
}

/// The check `name` must fail on the mock with `fault`, and its details mention `expected`.
async fn must_fail(fault: Fault, name: &str, expected: &str) {
    let report = run_case(&broken(fault), name).await.expect("a known check");
    println!("{report}");
    assert_eq!(report.status, Status::Failed, "{fault:?}: {report}");
    assert!(
        report.details.contains(expected),
        "{fault:?}: the details should mention {expected:?}: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chat_that_waits_for_the_answer_is_caught() {
    must_fail(
        Fault::ChatWaitsForAnswer,
        "chat.handle_before_completion",
        "turn_count was 1",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ignored_cancel_is_caught() {
    must_fail(
        Fault::CancelIgnored,
        "chat.cancel_ends_turn",
        "must end with Err(Cancelled), got Ok(",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ignored_shutdown_is_caught() {
    must_fail(
        Fault::ShutdownIgnored,
        "agent.shutdown_then_not_started",
        "history -> Ok(",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_id_answered_is_caught() {
    must_fail(
        Fault::UnknownIdsAnswered,
        "agent.unknown_id_not_started",
        "turn_count -> Ok(0)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reversed_history_is_caught() {
    must_fail(
        Fault::HistoryReversed,
        "conversation.history_order",
        "after one turn: expected history [User",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ignored_clear_is_caught() {
    must_fail(
        Fault::ClearIgnored,
        "conversation.clear_history",
        "after clear_history",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_always_idle_is_caught() {
    must_fail(
        Fault::AlwaysIdle,
        "idle.busy_during_turn",
        "is_idle must be false right after chat returned",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wakeup_that_never_waits_is_caught() {
    must_fail(
        Fault::WakeupNeverWaits,
        "idle.wakeup_times_out",
        "before its timeout passed",
    )
    .await;
    must_fail(Fault::WakeupNeverWaits, "idle.send_wakes", "returned false").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ignored_quota_hits_are_caught() {
    must_fail(
        Fault::QuotaHitsIgnored,
        "quota.backoff_at_least_retry_after",
        "returned after only",
    )
    .await;
    must_fail(
        Fault::QuotaHitsIgnored,
        "quota.registry_per_runtime",
        "returned within 300 ms",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_try_shutdown_is_caught() {
    must_fail(
        Fault::TryShutdownPanics,
        "agent.try_shutdown_non_blocking",
        "panicked: try_shutdown_agent panicked on purpose",
    )
    .await;
}
