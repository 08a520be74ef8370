//! A turn's events with their text kept as it was written, for whoever forwards a turn.

use super::{ChatEvent, TextBatch};

/// One item of [`ChatResponseHandle::packed_events`](super::ChatResponseHandle::packed_events):
/// an event other than text, or text chunks that came together, in one batch. More kinds
/// may come in a minor version: match with a `_` arm.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PackedEvent {
    Event(ChatEvent),
    Texts(TextBatch),
}
