//! Python `str` chunks into a [`TextBatch`] (one UTF-8 buffer), and the error for a
//! chunk that UTF-8 cannot carry. Both the sink (`TurnSink.texts`, `complete`) and the
//! pump pack text this way.

use agent_plugin_api::plugin::TextBatch;
use pyo3::exceptions::PyUnicodeEncodeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PySlice, PyString};

/// Copies a list of `str` into `batch`, borrowing each string's UTF-8. At a chunk that
/// UTF-8 cannot carry, the valid text before it is copied too and the error names it.
pub(crate) fn pack_into(batch: &mut TextBatch, chunks: &Bound<'_, PyList>) -> PyResult<()> {
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
