//! A Python agent's saved conversation (`save_dir`), kept on this side: the Python side
//! keeps the state, and this side writes it down.
//!
//! Each completed turn is appended by the turn's sink as it ends, before the result is
//! out (`TurnSink::complete`); the Python side gets the state read back when the agent is
//! created, and a `SavedFile` to clear the file with (its `clear_history` does that
//! before it forgets anything). Shutting the agent down closes the file; `delete`
//! removes it (see `runtime`).

use std::sync::{Arc, Mutex, MutexGuard};

use agent_plugin_api::saved::{ConversationFile, SavedConversation, SavedTurn};
use agent_plugin_api::types::{Content, ConversationMessage, Error, UsageMetadata};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::convert::{content_to_parts, counts_from_usage};
use crate::host_tools::ToolMessages;

/// An agent's open conversation file, until the agent goes (`None` after).
#[derive(Debug, Default)]
pub(crate) struct SavedSlot(Mutex<Option<ConversationFile>>);

impl SavedSlot {
    pub fn new(file: ConversationFile) -> Arc<Self> {
        Arc::new(SavedSlot(Mutex::new(Some(file))))
    }

    fn lock(&self) -> MutexGuard<'_, Option<ConversationFile>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Closes the file (its lock goes with it): later turns are not saved.
    pub fn take(&self) -> Option<ConversationFile> {
        self.lock().take()
    }

    fn with_file(
        &self,
        write: impl FnOnce(&mut ConversationFile) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.lock().as_mut().map_or(Ok(()), write)
    }
}

/// What a turn that is saved needs at its end: the file and the user's message; and
/// after it, the tool messages it wrote down, for the Python side's history (taking
/// them from the turn's calls a second time would find none).
pub(crate) struct SavedTurnTarget {
    slot: Arc<SavedSlot>,
    user: Content,
    tool_messages: Mutex<Option<ToolMessages>>,
}

impl SavedTurnTarget {
    pub fn new(slot: Arc<SavedSlot>, user: Content) -> Self {
        SavedTurnTarget {
            slot,
            user,
            tool_messages: Mutex::new(None),
        }
    }

    pub fn keep_tool_messages(&self, messages: Option<ToolMessages>) {
        *self.kept() = messages;
    }

    pub fn take_tool_messages(&self) -> Option<ToolMessages> {
        self.kept().take()
    }

    fn kept(&self) -> MutexGuard<'_, Option<ToolMessages>> {
        self.tool_messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn save(
        &self,
        tool_messages: &[ConversationMessage],
        answer: &str,
        usage: UsageMetadata,
    ) -> Result<(), Error> {
        self.slot.with_file(|file| {
            file.append(SavedTurn {
                user: &self.user,
                tool_messages,
                answer,
                usage,
                compact: false,
            })
        })
    }
}

/// `agent_host._native.SavedFile`: the agent's conversation file as the Python side
/// clears it.
#[pyclass(module = "agent_host._native", name = "SavedFile", frozen)]
pub(crate) struct SavedFile {
    slot: Arc<SavedSlot>,
}

#[pymethods]
impl SavedFile {
    /// Forgets the history on disk (the usage totals stay); raises `OSError` if that
    /// fails, in which case nothing changed.
    fn clear(&self) -> PyResult<()> {
        self.slot
            .with_file(ConversationFile::clear)
            .map_err(|error| PyOSError::new_err(error.to_string()))
    }
}

/// The state read back, as `agent_host._agent.AgentSlot.resume` takes it:
/// `(file, turns, total_usage, last_turn_usage, compaction_indices)`, each turn
/// `(user, tool_messages, answer)` with `user` a `str` for a plain text message (else
/// its parts) and `tool_messages` a `ToolMessages` or `None`.
pub(crate) fn resumed_to_python<'py>(
    py: Python<'py>,
    slot: &Arc<SavedSlot>,
    saved: &SavedConversation,
) -> PyResult<Bound<'py, PyTuple>> {
    let turns = PyList::empty(py);
    for turn in &saved.turns {
        let user = match &turn.user {
            Content::Text(text) => text.as_str().into_pyobject(py)?.into_any(),
            content => content_to_parts(py, content)?.into_any(),
        };
        let tools = if turn.tool_messages.is_empty() {
            py.None().into_bound(py)
        } else {
            let messages = ToolMessages {
                messages: turn.tool_messages.clone(),
            };
            Bound::new(py, messages)?.into_any()
        };
        turns.append((user, tools, turn.answer.as_str()))?;
    }
    let file = Bound::new(py, SavedFile { slot: slot.clone() })?;
    (
        file,
        turns,
        counts_from_usage(&saved.total_usage),
        counts_from_usage(&saved.last_turn_usage),
        saved.compaction_indices.clone(),
    )
        .into_pyobject(py)
}
