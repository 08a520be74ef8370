//! The runner's own behaviour, on backends that misbehave on purpose.

use std::future::pending;
use std::time::Duration;

use agent_plugin_api::plugin::async_trait;
use agent_plugin_api::types::{
    AgentConfig, AgentId, ChatResponseHandle, Content, ConversationMessage, Error, QuotaRegistry,
    UsageMetadata,
};
use agent_plugin_api::Runtime;

use super::*;

/// How the fake backend misbehaves.
#[derive(Clone, Copy)]
enum Fault {
    /// Every call waits forever.
    Hangs,
    /// Every call panics.
    Panics,
}

struct Faulty {
    fault: Fault,
    quota: QuotaRegistry,
}

impl Faulty {
    async fn misbehave<T>(&self) -> T {
        match self.fault {
            Fault::Hangs => pending().await,
            Fault::Panics => panic!("the faulty backend panicked on purpose"),
        }
    }
}

#[async_trait]
impl Runtime for Faulty {
    async fn create_agent(&self, _: AgentConfig) -> Result<AgentId, Error> {
        self.misbehave().await
    }
    async fn chat(&self, _: AgentId, _: &Content) -> Result<ChatResponseHandle, Error> {
        self.misbehave().await
    }
    async fn shutdown_agent(&self, _: AgentId) -> Result<(), Error> {
        self.misbehave().await
    }
    async fn cancel(&self, _: AgentId) -> Result<(), Error> {
        self.misbehave().await
    }
    async fn wait_for_idle(&self, _: AgentId) -> Result<(), Error> {
        self.misbehave().await
    }
    async fn send(&self, _: AgentId, _: &Content) -> Result<(), Error> {
        self.misbehave().await
    }
    async fn signal_idle(&self, _: AgentId) -> Result<(), Error> {
        self.misbehave().await
    }
    async fn wait_for_wakeup(&self, _: AgentId, _: Duration) -> Result<bool, Error> {
        self.misbehave().await
    }
    async fn wait_for_quota(&self) {
        self.misbehave().await
    }
    async fn record_quota_hit(&self, _: Duration) {
        self.misbehave().await
    }
    fn quota_registry(&self) -> &QuotaRegistry {
        &self.quota
    }
    async fn history(&self, _: AgentId) -> Result<Vec<ConversationMessage>, Error> {
        self.misbehave().await
    }
    async fn turn_count(&self, _: AgentId) -> Result<u32, Error> {
        self.misbehave().await
    }
    async fn total_usage(&self, _: AgentId) -> Result<UsageMetadata, Error> {
        self.misbehave().await
    }
    async fn last_turn_usage(&self, _: AgentId) -> Result<UsageMetadata, Error> {
        self.misbehave().await
    }
    async fn clear_history(&self, _: AgentId) -> Result<(), Error> {
        self.misbehave().await
    }
}

fn faulty(fault: Fault) -> Target {
    Target::new("faulty", move || async move {
        Ok(Faulty {
            fault,
            quota: QuotaRegistry::default(),
        })
    })
    .with_check_timeout(Duration::from_millis(300))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_backend_times_out_and_the_report_says_where() {
    let report = run_case(&faulty(Fault::Hangs), "agent.unique_ids")
        .await
        .expect("a known check");
    assert_eq!(report.status, Status::Failed, "{report}");
    assert!(
        report
            .details
            .starts_with("timed out after 300 ms while creating an agent with the target's config"),
        "{report}"
    );
    assert!(report.details.contains("--timeout"), "{report}");
    assert!(report.duration >= Duration::from_millis(300), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_backend_crashes_the_check_with_its_message() {
    let report = run_case(&faulty(Fault::Panics), "agent.delete")
        .await
        .expect("a known check");
    assert_eq!(report.status, Status::Crashed, "{report}");
    assert!(
        report
            .details
            .contains("the faulty backend panicked on purpose"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_factory_error_fails_every_check_with_the_error() {
    let target = Target::new_shared("unbuildable", || async {
        Err(Error::BackendError("no such backend".into()))
    });
    let report = run_selected(&target, |name| name.starts_with("quota.")).await;
    assert_eq!(report.cases.len(), 3, "{report}");
    for case in &report.cases {
        assert_eq!(case.status, Status::Failed, "{report}");
        assert!(case.details.contains("no such backend"), "{report}");
    }
    assert!(!report.is_success());
    assert_eq!(report.target, "unbuildable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_that_does_not_apply_is_skipped() {
    let target = faulty(Fault::Hangs).with_invalid_config(None);
    let report = run_case(&target, "agent.invalid_config")
        .await
        .expect("a known check");
    assert_eq!(report.status, Status::Skipped, "{report}");
    assert_eq!(report.details, "the target names no invalid config");
}

#[tokio::test(flavor = "current_thread")]
async fn works_on_a_current_thread_runtime_too() {
    let report = run_case(&faulty(Fault::Hangs), "quota.backoff_grows")
        .await
        .expect("a known check");
    assert_eq!(report.status, Status::Failed, "{report}");
    assert!(report.details.starts_with("timed out"), "{report}");
}

#[tokio::test]
async fn unknown_names_give_none() {
    assert!(run_case(&faulty(Fault::Hangs), "chat.nonexistent")
        .await
        .is_none());
}

#[test]
fn runs_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let target = faulty(Fault::Hangs);
    assert_send(&run_all(&target));
    assert_send(&run_case(&target, "agent.delete"));
}
