//! `agent_host._native`: the Rust objects the Python side answers through.
//!
//! They are only ever touched on the interpreter thread; a reply or an event leaves it
//! through a channel or a turn's event log, never by taking the GIL elsewhere.

use std::sync::{Arc, Mutex};

use agent_plugin_api::plugin::{ChatEventSender, TextBatch};
use agent_plugin_api::types::{AgentId, Error, QuotaRegistry, ToolCall};
use pyo3::exceptions::PyUnicodeEncodeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySlice, PyString};
use tokio::sync::oneshot;

use crate::convert::{
    error_from_kind, python_error_text, usage_from_counts, Answer, Expect, UsageCounts,
};
use crate::pump::Pump;
use crate::watchdog::{self, Tag};

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
    state: Mutex<SinkState>,
    agent_id: AgentId,
    quota: QuotaTarget,
    /// What the watchdog names while the turn's generator runs.
    pub(crate) tag: Tag,
}

struct SinkState {
    /// `None` once the turn has ended.
    sender: Option<ChatEventSender>,
    /// Text a [`Pump`] left when its generator stopped: it goes out with the next write
    /// or with the turn's end, so the last chunks and the result wake the reader once.
    kept: TextBatch,
}

impl TurnSink {
    pub fn new(sender: ChatEventSender, agent_id: AgentId, quota: QuotaTarget, tag: Tag) -> Self {
        TurnSink {
            state: Mutex::new(SinkState {
                sender: Some(sender),
                kept: TextBatch::new(),
            }),
            agent_id,
            quota,
            tag,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes with the sender (kept text first), if the turn is still open.
    fn write(&self, write: impl FnOnce(&mut ChatEventSender) -> bool) -> bool {
        let mut state = self.lock();
        let SinkState { sender, kept } = &mut *state;
        let Some(sender) = sender else { return false };
        if !kept.is_empty() && !sender.text_batch(std::mem::take(kept)) {
            return false;
        }
        write(sender)
    }

    /// Ends the turn with an error, after the text kept so far.
    fn finish_with_error(&self, error: Error) -> bool {
        let mut state = self.lock();
        let Some(mut sender) = state.sender.take() else {
            return false;
        };
        let kept = std::mem::take(&mut state.kept);
        drop(state);
        if !kept.is_empty() {
            sender.text_batch(kept);
        }
        sender.finish(Err(error))
    }

    /// Ends the turn from the Rust side (the Python side could not take the call).
    pub fn fail_now(&self, error: Error) {
        self.finish_with_error(error);
    }

    /// A batch of text chunks into the turn's log; `false` once the turn has ended.
    pub fn push_texts(&self, batch: TextBatch) -> bool {
        self.write(|sender| sender.text_batch(batch))
    }

    /// Text to go out with the next write or the turn's end.
    pub fn keep_texts(&self, batch: TextBatch) {
        let mut state = self.lock();
        if state.kept.is_empty() {
            state.kept = batch;
        } else {
            state.kept.append(&batch);
        }
    }
}

#[pymethods]
impl TurnSink {
    /// A batch of text chunks: one call, one lock and one wake-up for all of them, and
    /// no allocation per chunk on this thread (they are copied into one buffer).
    fn texts(&self, chunks: &Bound<'_, PyList>) -> PyResult<bool> {
        let mut batch = TextBatch::with_capacity(chunks.len() * 8, chunks.len());
        let packed = pack_into(&mut batch, chunks);
        let taken = self.push_texts(batch);
        packed.map(|()| taken)
    }

    /// A [`Pump`] that drives `agen` and writes its text here (see `agent_host._stream`).
    fn pump(slf: &Bound<'_, Self>, agen: Py<PyAny>) -> Pump {
        Pump::new(agen, slf.clone().unbind())
    }

    fn thought(&self, text: String) -> bool {
        self.write(|sender| sender.thought(text))
    }

    fn tool_call(&self, id: String, name: String, args_json: &str) -> bool {
        let args = serde_json::from_str(args_json)
            .unwrap_or_else(|_| serde_json::Value::String(args_json.to_owned()));
        self.write(|sender| sender.tool_call(ToolCall::new(id, name, args)))
    }

    fn step(&self, index: u32, description: String) -> bool {
        self.write(|sender| sender.step(index, description))
    }

    /// A `Usage` event, as its counts (the same tuple `complete` takes).
    fn usage(&self, counts: UsageCounts) -> bool {
        let usage = usage_from_counts(counts);
        self.write(|sender| sender.usage(usage))
    }

    /// Ends the turn well and returns its whole text (for the history), or `None` if
    /// the turn had already ended. `usage` is the counts of the turn's last `Usage`
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
        let mut state = self.lock();
        let mut last = std::mem::take(&mut state.kept);
        if let Some(chunks) = chunks {
            if let Err(error) = pack_into(&mut last, chunks) {
                // The turn fails instead (`fail`), after the valid text.
                state.kept = last;
                return Err(error);
            }
        }
        let Some(sender) = state.sender.take() else {
            return Ok(None);
        };
        drop(state);
        let earlier = sender.text_so_far();
        let answer = if earlier.is_empty() {
            PyString::new(py, last.as_str())
        } else {
            PyString::new(py, &[earlier, last.as_str()].concat())
        };
        Ok(sender
            .complete_with_texts(last, usage, structured)
            .then_some(answer))
    }

    #[pyo3(signature = (kind, message, retry_after = None))]
    fn fail(&self, kind: &str, message: String, retry_after: Option<f64>) -> bool {
        let error = error_from_kind(kind, message, retry_after, self.agent_id);
        if let Error::QuotaExceeded { retry_after, .. } = &error {
            self.quota
                .registry
                .record_hit(&self.quota.key, retry_after.unwrap_or_default());
        }
        self.finish_with_error(error)
    }

    #[getter]
    fn cancelled(&self) -> bool {
        self.lock()
            .sender
            .as_ref()
            .is_none_or(ChatEventSender::is_cancelled)
    }
}

/// Copies a list of `str` into `batch`, borrowing each string's UTF-8. At a chunk that
/// UTF-8 cannot carry, the valid text before it is copied too and the error names it.
fn pack_into(batch: &mut TextBatch, chunks: &Bound<'_, PyList>) -> PyResult<()> {
    for chunk in chunks.iter() {
        let chunk = chunk.cast::<PyString>()?;
        match chunk.to_str() {
            Ok(text) => batch.push(text),
            Err(error) => return Err(unencodable(None, chunk, batch, error)),
        }
    }
    Ok(())
}

/// A text chunk that is no valid Unicode text (a lone surrogate, which UTF-8 cannot
/// carry): pushes the valid text before the offence onto `batch`, and returns the
/// `AgentError` that names it, and where `source` (the generator, suspended at the
/// `yield` that gave the chunk) yielded it. Any other failure is returned as it is.
pub(crate) fn unencodable(
    source: Option<&Bound<'_, PyAny>>,
    chunk: &Bound<'_, PyString>,
    batch: &mut TextBatch,
    error: PyErr,
) -> PyErr {
    let py = chunk.py();
    if !error.is_instance_of::<PyUnicodeEncodeError>(py) {
        return error;
    }
    let described = (|| -> PyResult<PyErr> {
        let start: usize = error.value(py).getattr("start")?.extract()?;
        let prefix = chunk.as_any().get_item(PySlice::new(
            py,
            0,
            start.try_into().unwrap_or(isize::MAX),
            1,
        ))?;
        let prefix = prefix.cast::<PyString>()?.to_str()?;
        if !prefix.is_empty() {
            batch.push(prefix);
        }
        let failure = py
            .import("agent_host._stream")?
            .call_method1("unencodable", (source, chunk, start))?;
        Ok(PyErr::from_value(failure))
    })();
    described.unwrap_or_else(|other| other)
}

/// Called by the event loop when the wake-up socket is readable.
#[pyfunction]
fn drain(py: Python<'_>) {
    crate::interpreter::drain(py);
}

/// Called by the event loop's selector before it waits for I/O.
#[pyfunction]
#[pyo3(signature = (timeout = None))]
fn before_wait(py: Python<'_>, timeout: Option<f64>) -> bool {
    crate::interpreter::before_wait(py, timeout)
}

/// Called by the event loop's selector when its wait for I/O is over.
#[pyfunction]
fn after_wait() {
    watchdog::woke();
}

/// The functions the interpreter thread gives the event loop.
pub(crate) struct LoopHooks<'py> {
    pub drain: Bound<'py, PyAny>,
    pub before_wait: Bound<'py, PyAny>,
    pub after_wait: Bound<'py, PyAny>,
}

/// Creates `agent_host._native` and puts it in `sys.modules`.
pub(crate) fn register(py: Python<'_>) -> PyResult<LoopHooks<'_>> {
    let module = PyModule::new(py, "agent_host._native")?;
    module.add_class::<Reply>()?;
    module.add_class::<TurnSink>()?;
    module.add_class::<Pump>()?;
    let drain = wrap_pyfunction!(drain, &module)?;
    module.add_function(drain.clone())?;
    let before_wait = wrap_pyfunction!(before_wait, &module)?;
    module.add_function(before_wait.clone())?;
    let after_wait = wrap_pyfunction!(after_wait, &module)?;
    module.add_function(after_wait.clone())?;
    let modules = py.import("sys")?.getattr("modules")?;
    modules
        .cast::<PyDict>()?
        .set_item("agent_host._native", &module)?;
    Ok(LoopHooks {
        drain: drain.into_any(),
        before_wait: before_wait.into_any(),
        after_wait: after_wait.into_any(),
    })
}
