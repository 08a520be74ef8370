//! Streaming a chat turn: the handle an application reads and the sender a backend writes.
//!
//! One turn is one shared, append-only log of [`ChatEvent`]s plus a final outcome. Every
//! reader (the text stream, the thoughts stream, the full timeline, `text()`) is its own
//! cursor into that log, so an unread stream never holds back the others or the backend.
//! Text stays packed in the log ([`TextBatch`]) and is held once: the result's text is
//! built from it when asked for, and a plugin shares its batches with the host.

mod event;
mod handle;
mod held_wakes;
mod packed_event;
mod sender;
mod text_batch;
mod text_chunk;
mod turn;
pub mod wakeups;

pub use event::{ChatEvent, ChatResult, Step, ToolCall, ToolResult};
pub use handle::{ChatResponseHandle, EventStream};
pub use packed_event::PackedEvent;
pub use sender::{Cancellation, ChatEventSender};
pub use text_batch::TextBatch;
pub use text_chunk::TextChunk;

pub(crate) use held_wakes::wake_readers_per_poll;
pub(crate) use text_batch::{Packed, PackedTexts, SharedText};

pub(crate) use turn::{Ended, Entry, EventSource, Outcome, SourceBatch, Turn, COALESCE_BYTES};

/// A connected pair: the backend keeps the sender, the application gets the handle.
pub fn channel() -> (ChatEventSender, ChatResponseHandle) {
    let turn = turn::Turn::new(None);
    (
        ChatEventSender::new(turn.clone()),
        ChatResponseHandle::new(turn),
    )
}
