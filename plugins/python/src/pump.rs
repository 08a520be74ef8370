//! `agent_host._native.Pump`: drives a turn's async generator from the turn's own task,
//! so that text chunks never go through Python bytecode on their way to the turn's log.
//!
//! Why: a Python loop over the generator (`async for item in agen: ...`) costs a dozen
//! bytecodes per chunk on top of the generator itself, and streaming turns yield many
//! tiny chunks. The pump is awaited (`item = await pump`) and does the same work the
//! event loop's `async for` would, natively: it steps the generator, packs every `str`
//! it yields into one buffer, and hands the buffer to the turn's log when the generator
//! suspends (the loop gets control, so the reader may as well see the text), when it
//! holds [`CAP`] chunks (a generator that never awaits), or before anything else.
//!
//! The contract (the pure-Python `agent_host._stream.PythonPump` keeps the same one):
//! `await pump` returns the next item that is not text (an event for the Python side;
//! `YIELDED_NONE` for `None`), `None` once the generator is exhausted (its unsent text
//! then waits in the sink for `complete` or `fail`), or `OVER` once the turn's log
//! refuses text (the handle went away) or the generator yields text after a cancellation
//! was thrown into it. Ending with `None` is what makes the common end cheap: a task step
//! that returns nothing finishes the `await` without making a `StopIteration`. An
//! exception from the generator propagates, its unsent text likewise left in the sink.
//! A cancellation of the task reaches the generator at its `await`, through `throw`.

use std::sync::Arc;

use agent_plugin_api::plugin::TextBatch;
use pyo3::exceptions::{PyBaseException, PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::iterator::PySendResult;
use pyo3::types::{PyIterator, PyString, PyTuple};

use crate::text::unencodable;
use crate::turn_log::TurnLog;
use crate::watchdog::{self, Tag};

/// Chunks at which the pump hands text over without waiting for the generator to
/// suspend (the same figure as the Python side's `agent_host._stream.CAP`).
pub(crate) const CAP: usize = 4096;

static ANEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static YIELDED_NONE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static OVER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static CANCELLED_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

#[pyclass(module = "agent_host._native", name = "Pump")]
pub(crate) struct Pump {
    agen: Py<PyAny>,
    /// The turn, as the watchdog names it while the generator runs.
    tag: Tag,
    /// The turn's log (its `TurnSink`'s too).
    log: Arc<TurnLog>,
    /// The `__anext__` awaitable the generator is suspended in, between task steps.
    step: Option<Py<PyIterator>>,
    pending: TextBatch,
    /// A cancellation was thrown in: text after it is not wanted.
    cancelled: bool,
    /// The turn's log refused text: the turn is over on the Rust side.
    refused: bool,
}

/// What stepping the generator once gave.
enum Stepped<'py> {
    /// It suspended on this (a future, or `None` for a bare yield): pass it to the task.
    Suspended(Bound<'py, PyAny>),
    /// It yielded this item.
    Yielded(Bound<'py, PyAny>),
    /// It is exhausted.
    Exhausted,
}

impl Pump {
    pub fn new(agen: Py<PyAny>, log: Arc<TurnLog>, tag: Tag) -> Self {
        Pump {
            agen,
            tag,
            log,
            step: None,
            pending: TextBatch::new(),
            cancelled: false,
            refused: false,
        }
    }

    /// Runs the generator until it suspends (`Some(awaited)`, for the task), yields
    /// something that is not text (raised as `StopIteration(item)`), or is exhausted
    /// (`None`).
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        mut stepped: PyResult<Stepped<'py>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        loop {
            match stepped {
                Ok(Stepped::Yielded(item)) => {
                    if let Ok(text) = item.cast::<PyString>() {
                        if self.cancelled || self.refused {
                            return Err(marker(py, &OVER, "PUMP_OVER")?);
                        }
                        match text.to_str() {
                            Ok(text) => self.pending.push(text),
                            Err(error) => {
                                let agen = self.agen.bind(py);
                                let error = unencodable(Some(agen), text, &mut self.pending, error);
                                self.leave_text();
                                return Err(error);
                            }
                        }
                        if self.pending.len() >= CAP && !self.flush() {
                            return Err(marker(py, &OVER, "PUMP_OVER")?);
                        }
                    } else {
                        if !self.flush() {
                            return Err(marker(py, &OVER, "PUMP_OVER")?);
                        }
                        if item.is_none() {
                            return Err(marker(py, &YIELDED_NONE, "YIELDED_NONE")?);
                        }
                        return Err(result(item));
                    }
                }
                Ok(Stepped::Suspended(awaited)) => {
                    self.flush();
                    return Ok(Some(awaited));
                }
                Ok(Stepped::Exhausted) => {
                    self.leave_text();
                    return Ok(None);
                }
                Err(error) => {
                    self.leave_text();
                    return Err(error);
                }
            }
            stepped = self.next_step(py);
        }
    }

    /// Resumes the suspended `__anext__` with `value`, or starts the next one.
    fn step_with<'py>(
        &mut self,
        py: Python<'py>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        watchdog::started(self.tag);
        let stepped = match self.step.take() {
            Some(step) => self.resume(step.into_bound(py), |step| step.send(value)),
            None => self.next_step(py),
        };
        self.run(py, stepped)
    }

    /// Starts the next `__anext__` and steps it.
    fn next_step<'py>(&mut self, py: Python<'py>) -> PyResult<Stepped<'py>> {
        let awaitable = ANEXT
            .import(py, "builtins", "anext")?
            .call1((self.agen.bind(py),))?;
        let step = match awaitable.cast_into::<PyIterator>() {
            Ok(step) => step,
            // A Python-level `__anext__` returns a coroutine: step its `__await__`.
            Err(error) => error
                .into_inner()
                .call_method0("__await__")?
                .cast_into::<PyIterator>()?,
        };
        self.resume(step, |step| step.send(&py.None().into_bound(py)))
    }

    /// Steps `step` with `how` and sorts out what came back.
    fn resume<'py>(
        &mut self,
        step: Bound<'py, PyIterator>,
        how: impl FnOnce(&Bound<'py, PyIterator>) -> PyResult<PySendResult<'py>>,
    ) -> PyResult<Stepped<'py>> {
        let py = step.py();
        match how(&step) {
            Ok(PySendResult::Next(awaited)) => {
                self.step = Some(step.unbind());
                Ok(Stepped::Suspended(awaited))
            }
            Ok(PySendResult::Return(item)) => Ok(Stepped::Yielded(item)),
            Err(error) if error.is_instance_of::<PyStopAsyncIteration>(py) => {
                Ok(Stepped::Exhausted)
            }
            Err(error) => Err(error),
        }
    }

    /// Hands the pending text to the turn's log; `false` once the log refuses it.
    fn flush(&mut self) -> bool {
        if !self.pending.is_empty() && !self.refused {
            let batch = std::mem::take(&mut self.pending);
            self.refused = !self.log.push_texts(batch);
        }
        !self.refused
    }

    /// Leaves the unsent text in the turn's log, where the turn's end picks it up: the last
    /// chunks and the result then reach the reader together.
    fn leave_text(&mut self) {
        if !self.pending.is_empty() {
            self.log.keep_texts(std::mem::take(&mut self.pending));
        }
    }
}

#[pymethods]
impl Pump {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// A task step: resume the suspended `__anext__`, or start the next one. `None` ends
    /// the `await` with `None` (an iterator's end, no exception needed).
    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.step_with(py, &py.None().into_bound(py))
    }

    fn send<'py>(
        &mut self,
        py: Python<'py>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        as_method_result(self.step_with(py, value))
    }

    /// The task was cancelled (or something else was thrown in): the generator gets it
    /// at its `await`, like under `async for`.
    #[pyo3(signature = (*args))]
    fn throw<'py>(
        &mut self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        watchdog::started(self.tag);
        let thrown = args.get_item(0)?;
        let cancelled_error = CANCELLED_ERROR.import(py, "asyncio", "CancelledError")?;
        self.cancelled |= thrown.is(cancelled_error) || thrown.is_instance(cancelled_error)?;
        let Some(step) = self.step.take() else {
            // Not suspended in the generator (a task never does this): raise it here.
            self.leave_text();
            return Err(PyErr::from_value(exception(args)?));
        };
        let step = step.into_bound(py);
        let stepped = self.resume(step, |step| match step.call_method1("throw", args) {
            Ok(awaited) => Ok(PySendResult::Next(awaited)),
            Err(error) if error.is_instance_of::<PyStopIteration>(py) => {
                let item = error.value(py).getattr("value")?;
                Ok(PySendResult::Return(item))
            }
            Err(error) => Err(error),
        });
        as_method_result(self.run(py, stepped))
    }

    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.leave_text();
        if let Some(step) = self.step.take() {
            step.bind(py).call_method0("close")?;
        }
        Ok(())
    }
}

/// What the `send` and `throw` methods return for a step: a method cannot end the
/// `await` by returning nothing (that would hand `None` to the task), so the end is
/// `StopIteration()`, which the awaiting frame reads as `None` all the same.
fn as_method_result<'py>(step: PyResult<Option<Bound<'py, PyAny>>>) -> PyResult<Bound<'py, PyAny>> {
    step.and_then(|awaited| awaited.ok_or_else(|| PyStopIteration::new_err(())))
}

/// `StopIteration` carrying `item`: how an awaitable's step returns its result. Wrapped
/// in a 1-tuple when `item` would otherwise be taken for the exception's arguments.
fn result(item: Bound<'_, PyAny>) -> PyErr {
    if item.is_instance_of::<PyTuple>() || item.is_instance_of::<PyBaseException>() {
        PyStopIteration::new_err((item.unbind(),))
    } else {
        PyStopIteration::new_err(item.unbind())
    }
}

/// `StopIteration` carrying one of the pump's markers, which live in `agent_host._stream`
/// so that both pumps return the same objects.
fn marker(py: Python<'_>, cell: &'static PyOnceLock<Py<PyAny>>, name: &str) -> PyResult<PyErr> {
    let marker = cell.import(py, "agent_host._stream", name)?;
    Ok(PyStopIteration::new_err(marker.clone().unbind()))
}

/// The exception `throw(type[, value[, traceback]])` describes.
fn exception<'py>(args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    let first = args.get_item(0)?;
    if first.is_instance_of::<PyBaseException>() {
        return Ok(first);
    }
    match args.get_item(1) {
        Ok(value) if value.is_instance(&first)? => Ok(value),
        Ok(value) if !value.is_none() => first.call1((value,)),
        _ => first.call0(),
    }
}
