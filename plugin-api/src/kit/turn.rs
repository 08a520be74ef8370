//! One turn as a backend sees it, and the switch that stops it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::quota::QuotaRegistry;
use crate::stream::{ChatEventSender, ToolCall};
use crate::types::{ConversationMessage, Error, UsageMetadata};

/// What a backend writes one turn into. Each write returns `Err(Error::Cancelled)` once
/// the turn has ended (its handle was dropped or cancelled), so `?` stops early.
pub struct Turn {
    sender: ChatEventSender,
    number: u64,
    completed_turns: u32,
    usage: UsageMetadata,
    structured_output: Option<Value>,
    compact: bool,
    quota: Arc<QuotaRegistry>,
    quota_key: Arc<str>,
    history: Arc<dyn Fn() -> Vec<ConversationMessage> + Send + Sync>,
}

/// What a turn leaves for the kit to record once the backend is done.
pub(crate) struct TurnRecord {
    pub sender: ChatEventSender,
    pub usage: UsageMetadata,
    pub structured_output: Option<Value>,
    pub compact: bool,
}

fn kept(written: bool) -> Result<(), Error> {
    if written {
        Ok(())
    } else {
        Err(Error::Cancelled)
    }
}

impl Turn {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        sender: ChatEventSender,
        number: u64,
        completed_turns: u32,
        quota: Arc<QuotaRegistry>,
        quota_key: Arc<str>,
        history: Arc<dyn Fn() -> Vec<ConversationMessage> + Send + Sync>,
    ) -> Self {
        Turn {
            sender,
            number,
            completed_turns,
            usage: UsageMetadata::default(),
            structured_output: None,
            compact: false,
            quota,
            quota_key,
            history,
        }
    }

    pub(crate) fn into_record(self) -> TurnRecord {
        TurnRecord {
            sender: self.sender,
            usage: self.usage,
            structured_output: self.structured_output,
            compact: self.compact,
        }
    }

    pub(crate) fn sender(&self) -> &ChatEventSender {
        &self.sender
    }

    /// A chunk of the answer; all chunks together are the model message in the history.
    pub fn text(&mut self, chunk: impl Into<String>) -> Result<(), Error> {
        kept(self.sender.text(chunk))
    }

    pub fn thought(&self, text: impl Into<String>) -> Result<(), Error> {
        kept(self.sender.thought(text))
    }

    pub fn tool_call(&self, call: ToolCall) -> Result<(), Error> {
        kept(self.sender.tool_call(call))
    }

    pub fn step(&self, index: u32, description: impl Into<String>) -> Result<(), Error> {
        kept(self.sender.step(index, description))
    }

    /// Streams a usage event and makes it this turn's usage.
    pub fn usage(&mut self, usage: UsageMetadata) -> Result<(), Error> {
        self.usage = usage;
        kept(self.sender.usage(usage))
    }

    /// The structured answer (for agents configured with a `response_schema`).
    pub fn set_structured_output(&mut self, output: Value) {
        self.structured_output = Some(output);
    }

    /// Records a compaction point at the history's length once this turn is recorded.
    pub fn compact(&mut self) {
        self.compact = true;
    }

    /// This turn's number on its agent, from 1, counting every turn started.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Turns completed before this one (since creation or the last `clear_history`).
    pub fn completed_turns(&self) -> u32 {
        self.completed_turns
    }

    pub fn text_so_far(&self) -> &str {
        self.sender.text_so_far()
    }

    /// The conversation before this turn, oldest first.
    pub fn history(&self) -> Vec<ConversationMessage> {
        (self.history)()
    }

    /// The runtime's quota registry.
    pub fn quota(&self) -> &QuotaRegistry {
        &self.quota
    }

    /// Records a quota hit under the backend's key; returns the backoff now in force.
    /// Return `Error::QuotaExceeded` from `chat` too, so the caller knows.
    pub fn record_quota_hit(&self, retry_after: Duration) -> Duration {
        self.quota.record_hit(&self.quota_key, retry_after)
    }
}

/// Lets `Runtime::cancel` and agent shutdown stop one turn, queued or running.
pub(crate) struct TurnControl {
    cancelled: watch::Sender<bool>,
}

impl TurnControl {
    pub fn new() -> Arc<Self> {
        Arc::new(TurnControl {
            cancelled: watch::Sender::new(false),
        })
    }

    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    /// Resolves once the turn is cancelled (at once if it already is).
    pub async fn cancelled(&self) {
        let mut cancelled = self.cancelled.subscribe();
        // The sender lives in `self`, so waiting can only end by cancellation.
        let _ = cancelled.wait_for(|cancelled| *cancelled).await;
    }
}
