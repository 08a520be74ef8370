//! Values between Rust and the Python side of the bridge (see `agent_host._bridge`).
//! Every conversion runs on the interpreter thread, where the GIL is held anyway.

use std::time::Duration;

use agent_plugin_api::types::{
    AgentId, Content, ConversationMessage, Error, Media, Role, UsageMetadata,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use serde_json::Value;

use crate::host_tools::ToolMessages;

/// What a call answers, decoded on the interpreter thread.
#[derive(Debug)]
pub(crate) enum Answer {
    Unit,
    Bool(bool),
    Count(u32),
    Usage(UsageMetadata),
    History(Vec<ConversationMessage>),
    Text(Option<String>),
    Indices(Vec<u32>),
}

/// A Rust value a call answers with: which [`Expect`] decodes it, and how to take it out.
pub(crate) trait FromAnswer: Sized {
    const EXPECT: Expect;
    /// The value, or the answer back when it has another shape.
    fn from_answer(answer: Answer) -> Result<Self, Answer>;
}

macro_rules! from_answer {
    ($type:ty, $expect:ident, $variant:ident) => {
        impl FromAnswer for $type {
            const EXPECT: Expect = Expect::$expect;
            fn from_answer(answer: Answer) -> Result<Self, Answer> {
                match answer {
                    Answer::$variant(value) => Ok(value),
                    other => Err(other),
                }
            }
        }
    };
}

impl FromAnswer for () {
    const EXPECT: Expect = Expect::Unit;
    fn from_answer(answer: Answer) -> Result<Self, Answer> {
        match answer {
            Answer::Unit => Ok(()),
            other => Err(other),
        }
    }
}

from_answer!(bool, Bool, Bool);
from_answer!(u32, Count, Count);
from_answer!(UsageMetadata, Usage, Usage);
from_answer!(Vec<ConversationMessage>, History, History);
from_answer!(Option<String>, Text, Text);
from_answer!(Vec<u32>, Indices, Indices);

/// Which shape of [`Answer`] a call expects.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    Unit,
    Bool,
    Count,
    Usage,
    History,
    Text,
    Indices,
}

impl Expect {
    pub fn decode(self, value: &Bound<'_, PyAny>) -> PyResult<Answer> {
        Ok(match self {
            Expect::Unit => Answer::Unit,
            Expect::Bool => Answer::Bool(value.extract()?),
            Expect::Count => Answer::Count(value.extract()?),
            Expect::Usage => Answer::Usage(usage_from_tuple(value)?),
            Expect::History => Answer::History(history_from_list(value)?),
            Expect::Text => Answer::Text(value.extract()?),
            Expect::Indices => Answer::Indices(value.extract()?),
        })
    }
}

/// The wire form of `Content`: a list of tuples in pre-order (see `_content.from_parts`).
pub(crate) fn content_to_parts<'py>(
    py: Python<'py>,
    content: &Content,
) -> PyResult<Bound<'py, PyList>> {
    fn push<'py>(py: Python<'py>, content: &Content, parts: &Bound<'py, PyList>) -> PyResult<()> {
        let media = |kind: &str, media: &Media| -> PyResult<Bound<'py, PyTuple>> {
            PyTuple::new(
                py,
                [
                    kind.into_pyobject(py)?.into_any(),
                    PyBytes::new(py, &media.data).into_any(),
                    media.mime_type.as_str().into_pyobject(py)?.into_any(),
                    media.description.as_deref().into_pyobject(py)?.into_any(),
                ],
            )
        };
        match content {
            Content::Text(text) => parts.append(("text", text.as_str()))?,
            Content::Image(m) => parts.append(media("image", m)?)?,
            Content::Document(m) => parts.append(media("document", m)?)?,
            Content::Audio(m) => parts.append(media("audio", m)?)?,
            Content::Video(m) => parts.append(media("video", m)?)?,
            Content::Multi(children) => {
                parts.append(("multi", children.len()))?;
                for child in children {
                    push(py, child, parts)?;
                }
            }
            // A content kind newer than this backend: its text, if any.
            other => parts.append(("text", other.to_text()))?,
        }
        Ok(())
    }
    let parts = PyList::empty(py);
    push(py, content, &parts)?;
    Ok(parts)
}

pub(crate) fn content_from_parts(parts: &Bound<'_, PyAny>) -> PyResult<Content> {
    let items: Vec<Bound<'_, PyAny>> = parts.try_iter()?.collect::<PyResult<_>>()?;
    content_at(&items, &mut 0)
}

fn content_at(items: &[Bound<'_, PyAny>], position: &mut usize) -> PyResult<Content> {
    let item = items
        .get(*position)
        .ok_or_else(|| PyValueError::new_err("content parts end too early"))?;
    *position += 1;
    let kind: String = item.get_item(0)?.extract()?;
    let media = || -> PyResult<Media> {
        Ok(Media {
            data: item.get_item(1)?.extract()?,
            mime_type: item.get_item(2)?.extract()?,
            description: item.get_item(3)?.extract()?,
        })
    };
    Ok(match kind.as_str() {
        "text" => Content::Text(item.get_item(1)?.extract()?),
        "image" => Content::Image(media()?),
        "document" => Content::Document(media()?),
        "audio" => Content::Audio(media()?),
        "video" => Content::Video(media()?),
        "multi" => {
            let count: usize = item.get_item(1)?.extract()?;
            let mut children = Vec::with_capacity(count);
            for _ in 0..count {
                children.push(content_at(items, position)?);
            }
            Content::Multi(children)
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown content part kind {other:?}"
            )))
        }
    })
}

/// `(role, parts)` per message; a turn's tool messages come as the `ToolMessages` the
/// turn's sink gave the Python side (see `host_tools`), and stand for all of them.
fn history_from_list(value: &Bound<'_, PyAny>) -> PyResult<Vec<ConversationMessage>> {
    let mut history = Vec::new();
    for entry in value.try_iter()? {
        let entry = entry?;
        if let Ok(tools) = entry.cast::<ToolMessages>() {
            history.extend(tools.get().messages.iter().cloned());
            continue;
        }
        let role: String = entry.get_item(0)?.extract()?;
        let role = match role.as_str() {
            "user" => Role::User,
            "model" => Role::Model,
            "system" => Role::System,
            "tool" => Role::Tool,
            _ => Role::Unknown(role),
        };
        let content = content_from_parts(&entry.get_item(1)?)?;
        history.push(ConversationMessage::new(role, content));
    }
    Ok(history)
}

/// `(prompt, cached, candidates, thoughts, total)`, each an int or None, as
/// `agent_host.Usage.as_tuple()` gives them.
pub(crate) type UsageCounts = (
    Option<u32>,
    Option<u32>,
    Option<u32>,
    Option<u32>,
    Option<u32>,
);

pub(crate) fn usage_from_tuple(value: &Bound<'_, PyAny>) -> PyResult<UsageMetadata> {
    Ok(usage_from_counts(value.extract()?))
}

pub(crate) fn usage_from_counts(counts: UsageCounts) -> UsageMetadata {
    let (prompt, cached, candidates, thoughts, total) = counts;
    UsageMetadata {
        prompt_token_count: prompt,
        cached_content_token_count: cached,
        candidates_token_count: candidates,
        thoughts_token_count: thoughts,
        total_token_count: total,
    }
}

pub(crate) fn counts_from_usage(usage: &UsageMetadata) -> UsageCounts {
    (
        usage.prompt_token_count,
        usage.cached_content_token_count,
        usage.candidates_token_count,
        usage.thoughts_token_count,
        usage.total_token_count,
    )
}

/// The longest backoff a Python agent's `QuotaExceeded(retry_after=...)` can ask for.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A `retry_after` in seconds, clamped to `0 ..= MAX_RETRY_AFTER` with a warning when it
/// is outside (an agent's arithmetic gone wrong must not stall a key for ever, nor
/// panic); NaN is no hint at all.
pub(crate) fn retry_after_from_seconds(seconds: f64) -> Option<Duration> {
    let max = MAX_RETRY_AFTER.as_secs_f64();
    if seconds.is_nan() {
        tracing::warn!("QuotaExceeded(retry_after=nan): ignored (no backoff hint)");
        None
    } else if seconds < 0.0 {
        tracing::warn!("QuotaExceeded(retry_after={seconds}): negative, taken as 0");
        Some(Duration::ZERO)
    } else if seconds > max {
        tracing::warn!("QuotaExceeded(retry_after={seconds}): clamped to {max} s (24 h)");
        Some(MAX_RETRY_AFTER)
    } else {
        Some(Duration::from_secs_f64(seconds))
    }
}

/// An error the Python side reported by kind (see `agent_host._bridge`).
pub(crate) fn error_from_kind(
    kind: &str,
    message: String,
    retry_after: Option<f64>,
    agent_id: AgentId,
) -> Error {
    match kind {
        "not_started" => Error::AgentNotStarted(agent_id),
        "quota" => Error::QuotaExceeded {
            retry_after: retry_after.and_then(retry_after_from_seconds),
            message,
        },
        "invalid_config" => Error::InvalidConfig(message),
        "cancelled" => Error::Cancelled,
        _ => Error::BackendError(message),
    }
}

/// A Python exception as text: type, message and traceback.
pub(crate) fn python_error_text(py: Python<'_>, error: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|traceback| traceback.call_method1("format_exception", (error.value(py),)))
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_owned(),
        Err(_) => error.to_string(),
    }
}

/// A JSON value as Python values (`dict`, `list`, `str`, `int`, `float`, `bool`, `None`).
pub(crate) fn json_to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(flag) => flag.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                int.into_pyobject(py)?.into_any()
            } else if let Some(int) = number.as_u64() {
                int.into_pyobject(py)?.into_any()
            } else {
                number
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    .into_pyobject(py)?
                    .into_any()
            }
        }
        Value::String(text) => text.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (key, field) in fields {
                dict.set_item(key, json_to_python(py, field)?)?;
            }
            dict.into_any()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_clamped_never_panics() {
        let cases = [
            (2.5, Some(Duration::from_millis(2500))),
            (0.0, Some(Duration::ZERO)),
            (-3.0, Some(Duration::ZERO)),
            (f64::NEG_INFINITY, Some(Duration::ZERO)),
            (1e30, Some(MAX_RETRY_AFTER)),
            (f64::INFINITY, Some(MAX_RETRY_AFTER)),
            (f64::MAX, Some(MAX_RETRY_AFTER)),
            (86_400.0, Some(MAX_RETRY_AFTER)),
            (f64::NAN, None),
        ];
        for (seconds, expected) in cases {
            assert_eq!(retry_after_from_seconds(seconds), expected, "{seconds}");
        }
    }
}
