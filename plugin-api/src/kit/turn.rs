//! One turn as a backend sees it, and the switch that stops it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::quota::QuotaRegistry;
use crate::stream::{ChatEventSender, ToolCall, ToolResult};
use crate::types::{ConversationMessage, Error, ToolError, Tools, UsageMetadata};

/// What a backend writes one turn into. Each write returns `Err(Error::Cancelled)` once
/// the turn has ended (its handle was dropped or cancelled), so `?` stops early.
///
/// Writes reach the application when the backend next awaits (or ends the turn): what
/// it writes between two awaits is delivered together, with one wake-up of the reader.
/// So a backend streams by awaiting between chunks (its model's next bytes, a pause),
/// and must not block the thread between writes.
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
    tools: Tools,
    /// Calls made so far, for their ids.
    tool_calls_made: AtomicU32,
    /// Each finished call with its result, in the order the calls were made.
    tool_exchanges: Mutex<Vec<(u32, ToolCall, ToolResult)>>,
}

/// What a turn leaves for the kit to record once the backend is done.
pub(crate) struct TurnRecord {
    pub sender: ChatEventSender,
    pub usage: UsageMetadata,
    pub structured_output: Option<Value>,
    pub compact: bool,
    /// The history entries of the turn's tool calls: each request, then its answer.
    pub tool_messages: Vec<ConversationMessage>,
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
        tools: Tools,
    ) -> Self {
        Turn {
            tools,
            tool_calls_made: AtomicU32::new(0),
            tool_exchanges: Mutex::new(Vec::new()),
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
        let exchanges = self
            .tool_exchanges
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tool_messages = ConversationMessage::tool_exchanges(exchanges);
        TurnRecord {
            sender: self.sender,
            usage: self.usage,
            structured_output: self.structured_output,
            compact: self.compact,
            tool_messages,
        }
    }

    pub(crate) fn sender(&self) -> &ChatEventSender {
        &self.sender
    }

    /// A chunk of the answer; all chunks together are the model message in the history.
    pub fn text(&mut self, chunk: impl AsRef<str>) -> Result<(), Error> {
        kept(self.sender.text(chunk))
    }

    pub fn thought(&self, text: impl Into<String>) -> Result<(), Error> {
        kept(self.sender.thought(text))
    }

    /// Reports a call the model asked for without running it (for a tool the host does
    /// not offer); [`Turn::call_tool`] reports and runs one.
    pub fn tool_call(&self, call: ToolCall) -> Result<(), Error> {
        kept(self.sender.tool_call(call))
    }

    /// Calls the application's tool `name` and waits for its answer. The call and its
    /// result go on the turn's handle (`ToolCall`, then `ToolResult`, same id) and, once
    /// the turn completes, into the history. Several calls may run at once (`&self`).
    /// A tool that is not offered, fails or panics gives an error to handle like any
    /// tool answer; a cancelled turn drops this future, which cancels the call.
    pub async fn call_tool(&self, name: &str, args: Value) -> Result<Value, ToolError> {
        let order = self.tool_calls_made.fetch_add(1, Ordering::Relaxed);
        let id = format!("call-{}-{order}", self.number);
        let call = ToolCall::new(id.clone(), name, args.clone());
        if !self.sender.tool_call(call.clone()) {
            return Err(ToolError::new("the turn has ended"));
        }
        let output = self.tools.call(name, args).await;
        let result = ToolResult::new(id, name, output.clone());
        self.sender.tool_result(result.clone());
        self.tool_exchanges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((order, call, result));
        output
    }

    /// The tools the application offers this agent, by name.
    pub fn tools(&self) -> &Tools {
        &self.tools
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

    /// Sleeps until the quota backoff under the backend's key has passed (at once when
    /// there is none). Call it before a request, so a turn after a hit does not spend
    /// one more request on a quota the server already refused.
    pub async fn wait_for_quota(&self) {
        self.quota.wait(&self.quota_key).await;
    }

    /// Records a quota hit under the backend's key; returns the backoff now in force.
    /// Return `Error::QuotaExceeded` from `chat` too, so the caller knows.
    pub fn record_quota_hit(&self, retry_after: Duration) -> Duration {
        self.quota.record_hit(&self.quota_key, retry_after)
    }
}
