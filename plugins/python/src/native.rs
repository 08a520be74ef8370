//! `agent_host._native`: the Rust objects the Python side answers through, and `Op`.
//!
//! They are only ever touched on the interpreter thread; a reply or an event leaves it
//! through a channel or a turn's event log, never by taking the GIL elsewhere.

use std::sync::{Arc, Mutex, OnceLock};

use agent_plugin_api::plugin::{ChatEventSender, TextBatch};
use agent_plugin_api::types::{AgentId, ChatResponseHandle, Error, QuotaRegistry, ToolCall};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use tokio::sync::oneshot;

use crate::convert::{
    error_from_kind, python_error_text, usage_from_counts, Answer, Expect, UsageCounts,
};
use crate::host_tools::{AgentTools, ToolMessages, TurnCalls};
use crate::op;
use crate::pump::Pump;
use crate::saved::{SavedFile, SavedTurnTarget};
use crate::text::pack_into;
use crate::turn_log::TurnLog;
use crate::watchdog::Tag;

/// Where one call's answer goes.
pub(crate) struct PendingReply {
    pub answer: oneshot::Sender<Result<Answer, Error>>,
    pub expect: Expect,
    pub agent_id: AgentId,
}

/// Answers one call, once: `ok(value)` or `err(kind, message, retry_after)`.
#[pyclass(module = "agent_host._native", name = "Reply", frozen)]
pub(crate) struct Reply {
    pending: Mutex<Option<PendingReply>>,
}

impl Reply {
    pub fn new(pending: PendingReply) -> Self {
        Reply {
            pending: Mutex::new(Some(pending)),
        }
    }

    fn take(&self) -> Option<PendingReply> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Answers with an error, unless already answered (Rust-side failures of a call).
    pub fn fail(&self, error: Error) {
        if let Some(pending) = self.take() {
            let _ = pending.answer.send(Err(error));
        }
    }
}

#[pymethods]
impl Reply {
    fn ok(&self, py: Python<'_>, value: &Bound<'_, PyAny>) {
        let Some(pending) = self.take() else { return };
        let answer = pending.expect.decode(value).map_err(|error| {
            Error::BackendError(format!(
                "the Python side answered with an unexpected value: {}",
                python_error_text(py, &error)
            ))
        });
        let _ = pending.answer.send(answer);
    }

    #[pyo3(signature = (kind, message, retry_after = None))]
    fn err(&self, kind: &str, message: String, retry_after: Option<f64>) {
        let Some(pending) = self.take() else { return };
        let error = error_from_kind(kind, message, retry_after, pending.agent_id);
        let _ = pending.answer.send(Err(error));
    }
}

/// Where a turn's quota errors are recorded.
#[derive(Clone)]
pub(crate) struct QuotaTarget {
    pub registry: Arc<QuotaRegistry>,
    pub key: Arc<str>,
}

/// One chat turn's events, written by the Python side into the turn's log.
#[pyclass(module = "agent_host._native", name = "TurnSink", frozen)]
pub(crate) struct TurnSink {
    /// Shared with the turn's [`Pump`], which writes text into it directly.
    log: Arc<TurnLog>,
    agent_id: AgentId,
    quota: QuotaTarget,
    /// What the watchdog names while the turn's generator runs.
    tag: Tag,
    turn_id: u64,
    /// The agent's tools, for `call_tool`.
    tools: Arc<AgentTools>,
    /// The turn's tool calls, made on the first (most turns call none).
    calls: OnceLock<TurnCalls>,
    /// Where the turn is saved as it completes (an agent with a `save_dir`); boxed, as
    /// most turns have none.
    saved: Option<Box<SavedTurnTarget>>,
    /// A `send` turn's handle, which nobody reads: kept so that the turn is not
    /// cancelled, and dropped as the turn ends, so its log goes then.
    unread: Mutex<Option<ChatResponseHandle>>,
}

impl TurnSink {
    pub fn new(
        sender: ChatEventSender,
        agent_id: AgentId,
        turn_id: u64,
        tools: Arc<AgentTools>,
        quota: QuotaTarget,
        tag: Tag,
    ) -> Self {
        TurnSink {
            log: Arc::new(TurnLog::new(sender)),
            agent_id,
            quota,
            tag,
            turn_id,
            tools,
            calls: OnceLock::new(),
            saved: None,
            unread: Mutex::new(None),
        }
    }

    /// This sink saves the turn as it completes.
    pub fn saving_to(mut self, saved: Option<SavedTurnTarget>) -> Self {
        self.saved = saved.map(Box::new);
        self
    }

    /// This sink keeps `handle`, the turn's, until the turn ends (`send`).
    pub fn reading_nobody(self, handle: ChatResponseHandle) -> Self {
        *self.unread_handle() = Some(handle);
        self
    }

    fn unread_handle(&self) -> std::sync::MutexGuard<'_, Option<ChatResponseHandle>> {
        self.unread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The turn has ended: drops an unread handle, and with it the turn's log.
    fn ended<T>(&self, outcome: T) -> T {
        drop(self.unread_handle().take());
        outcome
    }

    /// Drops the turn's pending tool calls: it has ended.
    fn end_calls(&self) {
        if let Some(calls) = self.calls.get() {
            calls.end();
        }
    }

    /// Ends the turn from the Rust side (the Python side could not take the call).
    pub fn fail_now(&self, error: Error) {
        self.end_calls();
        self.ended(self.log.finish_with_error(error));
    }
}

#[pymethods]
impl TurnSink {
    /// A batch of text chunks: one call, one lock and one wake-up for all of them, and
    /// no allocation per chunk on this thread (they are copied into one buffer).
    fn texts(&self, chunks: &Bound<'_, PyList>) -> PyResult<bool> {
        let mut batch = TextBatch::with_capacity(chunks.len() * 8, chunks.len());
        let packed = pack_into(&mut batch, chunks);
        let taken = self.log.push_texts(batch);
        packed.map(|()| taken)
    }

    /// A [`Pump`] that drives `agen` and writes its text here (see `agent_host._stream`).
    fn pump(&self, agen: Py<PyAny>) -> Pump {
        Pump::new(agen, self.log.clone(), self.tag)
    }

    fn thought(&self, text: String) -> bool {
        self.log.write(|sender| sender.thought(text))
    }

    fn tool_call(&self, id: String, name: String, args_json: &str) -> bool {
        let args = serde_json::from_str(args_json)
            .unwrap_or_else(|_| serde_json::Value::String(args_json.to_owned()));
        self.log
            .write(|sender| sender.tool_call(ToolCall::new(id, name, args)))
    }

    /// Streams a `ToolCall` and starts the host's tool `name`; its answer comes back to
    /// the bridge as `Op::ToolDone` with `(turn_id, key, ok, value)`. Returns the call's
    /// key, or `None` when the turn has ended. Never blocks: the call runs on tokio.
    fn call_tool(&self, name: String, args_json: &str) -> Option<u32> {
        let args = serde_json::from_str(args_json)
            .unwrap_or_else(|_| serde_json::Value::String(args_json.to_owned()));
        let calls = self
            .calls
            .get_or_init(|| TurnCalls::new(self.log.clone(), self.agent_id, self.turn_id));
        calls.start(&self.tools, name, args)
    }

    /// Drops a pending call whose awaiting coroutine was cancelled.
    fn abort_tool(&self, key: u32) {
        if let Some(calls) = self.calls.get() {
            calls.abort(key);
        }
    }

    /// The history entries of this turn's finished tool calls (`None`: it made none).
    fn tool_messages(&self) -> Option<ToolMessages> {
        let saved = self
            .saved
            .as_ref()
            .and_then(|saved| saved.take_tool_messages());
        saved.or_else(|| self.calls.get().map(TurnCalls::messages))
    }

    fn step(&self, index: u32, description: String) -> bool {
        self.log.write(|sender| sender.step(index, description))
    }

    /// A `Usage` event, as its counts (the same tuple `complete` takes).
    fn usage(&self, counts: UsageCounts) -> bool {
        let usage = usage_from_counts(counts);
        self.log.write(|sender| sender.usage(usage))
    }

    /// Ends the turn well and returns its whole text (for the history), or `None` if
    /// the turn had already ended. A saved turn is on disk before it ends; if saving
    /// fails, the turn ends with that error and this raises `OSError` (the Python side
    /// then records nothing). `usage` is the counts of the turn's last `Usage`
    /// event, if any; `chunks`, the last text not yet handed over, comes in the same
    /// call, so the reader is woken once, when the result is there too.
    #[pyo3(signature = (usage, structured_json = None, chunks = None))]
    fn complete<'py>(
        &self,
        py: Python<'py>,
        usage: Option<UsageCounts>,
        structured_json: Option<&str>,
        chunks: Option<&Bound<'py, PyList>>,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        let usage = usage.map(usage_from_counts).unwrap_or_default();
        let structured = structured_json.map(|json| {
            serde_json::from_str(json)
                .unwrap_or_else(|_| serde_json::Value::String(json.to_owned()))
        });
        // Text that cannot be packed fails the turn instead (`fail`), after the valid text.
        let taken = self
            .log
            .take_for_completion(|last| chunks.map_or(Ok(()), |chunks| pack_into(last, chunks)))?;
        self.end_calls();
        let Some((sender, last)) = taken else {
            return Ok(self.ended(None));
        };
        let earlier = sender.text_so_far();
        let answer = if earlier.is_empty() {
            PyString::new(py, last.as_str())
        } else {
            PyString::new(py, &[earlier, last.as_str()].concat())
        };
        let completed = match &self.saved {
            None => sender.complete_with_texts(last, usage, structured),
            Some(saved) => {
                let tools = self.calls.get().map(TurnCalls::messages);
                let messages = tools.as_ref().map_or(&[][..], |tools| &tools.messages[..]);
                let text = answer.to_str()?;
                let committed = sender.complete_with_texts_after(last, usage, structured, || {
                    saved.save(messages, text, usage)
                });
                saved.keep_tool_messages(tools);
                committed.map_err(|error| {
                    self.ended(());
                    PyOSError::new_err(error.to_string())
                })?
            }
        };
        Ok(self.ended(completed.then_some(answer)))
    }

    #[pyo3(signature = (kind, message, retry_after = None))]
    fn fail(&self, kind: &str, message: String, retry_after: Option<f64>) -> bool {
        self.end_calls();
        let error = error_from_kind(kind, message, retry_after, self.agent_id);
        if let Error::QuotaExceeded { retry_after, .. } = &error {
            self.quota
                .registry
                .record_hit(&self.quota.key, retry_after.unwrap_or_default());
        }
        self.ended(self.log.finish_with_error(error))
    }

    #[getter]
    fn cancelled(&self) -> bool {
        self.log.is_over()
    }
}

/// Creates `agent_host._native` and puts it in `sys.modules`.
pub(crate) fn register(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let module = PyModule::new(py, "agent_host._native")?;
    module.add_class::<Reply>()?;
    module.add_class::<TurnSink>()?;
    module.add_class::<Pump>()?;
    module.add_class::<ToolMessages>()?;
    module.add_class::<SavedFile>()?;
    op::register(&module)?;
    let modules = py.import("sys")?.getattr("modules")?;
    modules
        .cast::<PyDict>()?
        .set_item("agent_host._native", &module)?;
    Ok(module)
}
