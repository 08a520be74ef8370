//! One chat turn's event log as the plugin writes it: the sender, plus text a pump left
//! for the turn's end. Shared by the turn's `TurnSink` (what the Python side calls) and
//! its `Pump` (which writes text without going through Python), so that neither needs
//! the other.

use std::sync::Mutex;

use agent_plugin_api::plugin::{ChatEventSender, TextBatch};
use agent_plugin_api::types::Error;

pub(crate) struct TurnLog {
    state: Mutex<LogState>,
}

struct LogState {
    /// `None` once the turn has ended.
    sender: Option<ChatEventSender>,
    /// Text a pump left when its generator stopped: it goes out with the next write or
    /// with the turn's end, so the last chunks and the result wake the reader once.
    kept: TextBatch,
}

impl TurnLog {
    pub fn new(sender: ChatEventSender) -> Self {
        TurnLog {
            state: Mutex::new(LogState {
                sender: Some(sender),
                kept: TextBatch::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes with the sender (kept text first), if the turn is still open.
    pub fn write(&self, write: impl FnOnce(&mut ChatEventSender) -> bool) -> bool {
        let mut state = self.lock();
        let LogState { sender, kept } = &mut *state;
        let Some(sender) = sender else { return false };
        if !kept.is_empty() && !sender.text_batch(std::mem::take(kept)) {
            return false;
        }
        write(sender)
    }

    /// A batch of text chunks into the log; `false` once the turn has ended.
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

    /// Ends the turn with an error, after the text kept so far.
    pub fn finish_with_error(&self, error: Error) -> bool {
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

    /// Takes what ending the turn well needs: the sender (`None` if the turn had ended)
    /// and its last text, the kept text followed by what `add_last` packs. When
    /// `add_last` fails, the text so far stays kept (the turn then fails after it).
    pub fn take_for_completion<E>(
        &self,
        add_last: impl FnOnce(&mut TextBatch) -> Result<(), E>,
    ) -> Result<Option<(ChatEventSender, TextBatch)>, E> {
        let mut state = self.lock();
        let mut last = std::mem::take(&mut state.kept);
        if let Err(error) = add_last(&mut last) {
            state.kept = last;
            return Err(error);
        }
        Ok(state.sender.take().map(|sender| (sender, last)))
    }

    /// The turn has ended, or its reader went away.
    pub fn is_over(&self) -> bool {
        self.lock()
            .sender
            .as_ref()
            .is_none_or(ChatEventSender::is_cancelled)
    }
}
