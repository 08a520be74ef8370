use std::future::poll_fn;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::held_wakes;
use super::text_batch::SharedText;
use super::turn::{Commit, Ended, Turn};
use super::{ChatEvent, ChatResult, Step, TextBatch, ToolCall, ToolResult};
use crate::types::{Error, UsageMetadata};

/// The backend's side of one chat turn: write events, then finish once.
///
/// Writing never waits: events are kept until the application reads them. Every write
/// returns `false` once the turn has ended (finished, cancelled, or its handle dropped), so
/// a backend can stop early. Dropping an unfinished sender ends the turn with
/// `Error::Stream`, or `Error::BackendError` when the drop comes from a panic.
///
/// Text is written once, into the turn's log, packed; the result's text is built from it
/// when asked for, and `text_so_far` only once it is called.
pub struct ChatEventSender {
    turn: Arc<Turn>,
    /// The text written, built on the first `text_so_far` and kept up to date after it.
    so_far: OnceLock<String>,
}

impl ChatEventSender {
    pub(crate) fn new(turn: Arc<Turn>) -> Self {
        ChatEventSender {
            turn,
            so_far: OnceLock::new(),
        }
    }

    pub fn send(&self, event: ChatEvent) -> bool {
        held_wakes::flush_text(&self.turn);
        self.turn.push(event)
    }

    /// Keeps `text_so_far` up to date, if it was ever asked for.
    fn note(&mut self, text: &str) {
        if let Some(so_far) = self.so_far.get_mut() {
            so_far.push_str(text);
        }
    }

    /// A text chunk; it also becomes part of `ChatResult::text`. It is copied into the
    /// turn's packed log, so a borrowed chunk costs no allocation of its own.
    pub fn text(&mut self, chunk: impl AsRef<str>) -> bool {
        let chunk = chunk.as_ref();
        self.note(chunk);
        if held_wakes::hold_text(&self.turn, chunk) {
            // Held until the poll ends; a cancel may land meanwhile, and then it is lost
            // like any write after one.
            return !self.turn.is_cancelled();
        }
        self.turn.push_text([chunk])
    }

    /// Several text chunks at once: one lock and one wake-up for the batch.
    pub fn texts(&mut self, chunks: impl IntoIterator<Item = String>) -> bool {
        let chunks: Vec<String> = chunks.into_iter().collect();
        chunks.iter().for_each(|chunk| self.note(chunk));
        held_wakes::flush_text(&self.turn);
        self.turn.push_text(chunks.iter().map(String::as_str))
    }

    pub fn thought(&self, text: impl Into<String>) -> bool {
        self.send(ChatEvent::Thought(text.into()))
    }

    pub fn tool_call(&self, call: ToolCall) -> bool {
        self.send(ChatEvent::ToolCall(call))
    }

    pub fn tool_result(&self, result: ToolResult) -> bool {
        self.send(ChatEvent::ToolResult(result))
    }

    pub fn step(&self, index: u32, description: impl Into<String>) -> bool {
        self.send(ChatEvent::Step(Step {
            index,
            description: description.into(),
        }))
    }

    pub fn usage(&self, usage: UsageMetadata) -> bool {
        self.send(ChatEvent::Usage(usage))
    }

    /// The text written so far.
    pub fn text_so_far(&self) -> &str {
        self.so_far.get_or_init(|| {
            held_wakes::flush_text(&self.turn);
            self.turn.text()
        })
    }

    /// Ends the turn well; its text is every chunk written. Returns `false` if the turn
    /// had already ended (cancelled), in which case the result is dropped.
    pub fn complete(self, usage: UsageMetadata, structured_output: Option<Value>) -> bool {
        held_wakes::flush_text(&self.turn);
        self.turn
            .finish_with(None, Ok(Self::ended(usage, structured_output)))
    }

    /// Like [`complete`](Self::complete), and hands back the text, shared with the log
    /// rather than copied; `None` if the turn had already ended, or `commit` failed (the
    /// turn then ends with its error).
    pub(crate) fn complete_sharing_text(
        self,
        usage: UsageMetadata,
        structured_output: Option<Value>,
        commit: Commit<'_>,
    ) -> Option<SharedText> {
        held_wakes::flush_text(&self.turn);
        self.turn
            .finish_sharing_text(None, Ok(Self::ended(usage, structured_output)), commit)
    }

    fn ended(usage: UsageMetadata, structured_output: Option<Value>) -> Ended {
        Ended {
            result: ChatResult {
                text: String::new(),
                usage,
                structured_output,
            },
            text_from_chunks: true,
        }
    }

    /// A batch of text chunks, kept packed: no allocation per chunk on this thread.
    pub fn text_batch(&mut self, batch: TextBatch) -> bool {
        self.note(batch.as_str());
        held_wakes::flush_text(&self.turn);
        self.turn.push_texts(batch)
    }

    /// Ends the turn well with its last text chunks, waking readers once for both.
    pub fn complete_with_texts(
        self,
        last: TextBatch,
        usage: UsageMetadata,
        structured_output: Option<Value>,
    ) -> bool {
        held_wakes::flush_text(&self.turn);
        self.turn
            .finish_with(Some(last), Ok(Self::ended(usage, structured_output)))
    }

    /// Like [`complete_with_texts`](Self::complete_with_texts), for a turn that must be
    /// saved before its result is out: `commit` runs once the turn is sure to end well
    /// and before any reader can see it end (a cancel waits for it). `Ok(false)`: the
    /// turn had already ended, and `commit` did not run; `Err`: `commit` failed, and the
    /// turn ended with its error.
    pub fn complete_with_texts_after(
        self,
        last: TextBatch,
        usage: UsageMetadata,
        structured_output: Option<Value>,
        commit: impl FnOnce() -> Result<(), Error>,
    ) -> Result<bool, Error> {
        held_wakes::flush_text(&self.turn);
        let mut commit = Some(commit);
        let mut failure = None;
        let mut run = |_: &SharedText| {
            let outcome = commit.take().map_or(Ok(()), |commit| commit());
            if let Err(error) = &outcome {
                failure = Some(error.clone());
            }
            outcome
        };
        let ended = Ok(Self::ended(usage, structured_output));
        let completed = self
            .turn
            .finish_sharing_text(Some(last), ended, &mut run)
            .is_some();
        match failure {
            Some(error) => Err(error),
            None => Ok(completed),
        }
    }

    /// Ends the turn with exactly this outcome; `false` if it had already ended.
    pub fn finish(self, outcome: Result<ChatResult, Error>) -> bool {
        held_wakes::flush_text(&self.turn);
        self.turn.finish(outcome.map(Ended::given))
    }

    /// True once the application cancelled the turn or dropped its handle.
    pub fn is_cancelled(&self) -> bool {
        self.turn.is_cancelled()
    }

    /// Resolves when the application cancels the turn or drops its handle.
    pub async fn cancelled(&self) {
        poll_fn(|cx| self.turn.poll_cancelled(cx)).await
    }

    /// Runs `hook` once if the application cancels the turn or drops its handle (at once
    /// if it already has); a backend that runs turns elsewhere uses it to stop them.
    pub fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) {
        self.turn.on_cancel(Box::new(hook));
    }

    /// A watcher of this turn's cancellation that can live apart from the sender.
    pub fn cancellation(&self) -> Cancellation {
        Cancellation {
            turn: self.turn.clone(),
        }
    }
}

/// Tells whether a turn was cancelled, without the right to write to it.
#[derive(Clone)]
pub struct Cancellation {
    turn: Arc<Turn>,
}

impl Cancellation {
    pub(crate) fn turn(&self) -> &Arc<Turn> {
        &self.turn
    }

    pub fn is_cancelled(&self) -> bool {
        self.turn.is_cancelled()
    }

    /// Resolves when the application cancels the turn or drops its handle.
    pub async fn cancelled(&self) {
        poll_fn(|cx| self.turn.poll_cancelled(cx)).await
    }

    /// Cancels the turn as its handle's `cancel` does (for `Runtime::cancel` and shutdown).
    pub(crate) fn cancel(&self) {
        self.turn.cancel();
    }
}

impl Drop for ChatEventSender {
    fn drop(&mut self) {
        // Nearly every sender is dropped by `complete` or `finish`: no error to build.
        if self.turn.has_ended() {
            return;
        }
        // What it wrote before it stopped stays readable, before the error.
        held_wakes::flush_text(&self.turn);
        let error = if std::thread::panicking() {
            Error::BackendError("the backend panicked during the turn".into())
        } else {
            Error::Stream("the backend ended the turn without a result".into())
        };
        self.turn.finish(Err(error));
    }
}
