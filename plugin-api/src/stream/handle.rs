use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;

use super::turn::{Cursor, EventSource, Read, Select, Turn};
use super::{ChatEvent, ChatResult, PackedEvent, Step, TextBatch, TextChunk, ToolCall, ToolResult};
use crate::types::Error;

/// The application's side of one chat turn.
///
/// It is returned as soon as the turn starts. Each stream it gives out is an independent
/// cursor from the first event on; read any of them, all of them or none. Dropping the
/// handle cancels the turn; streams taken from it then end.
#[must_use = "dropping a ChatResponseHandle cancels the turn"]
pub struct ChatResponseHandle {
    turn: Arc<Turn>,
}

impl std::fmt::Debug for ChatResponseHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatResponseHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl ChatResponseHandle {
    pub(crate) fn new(turn: Arc<Turn>) -> Self {
        ChatResponseHandle { turn }
    }

    /// A handle whose events are pulled from `source` by whichever reader needs them.
    pub(crate) fn from_source(source: Box<dyn EventSource>) -> Self {
        ChatResponseHandle::new(Turn::new(Some(source)))
    }

    pub(crate) fn turn(&self) -> &Arc<Turn> {
        &self.turn
    }

    /// Text chunks as they arrive, each in a string of its own.
    pub fn text_stream(&self) -> EventStream<String> {
        self.stream(Select {
            event: |event| match event {
                ChatEvent::Text(text) => Some(text.clone()),
                _ => None,
            },
            text: Some(|batch, at| batch.next_chunk(at).to_owned()),
        })
    }

    /// Text chunks as they arrive, shared with the turn rather than copied: the fastest
    /// way to read a stream (no allocation per chunk; through the boundary, the bytes
    /// are the plugin's own, read in place). See [`TextChunk`].
    pub fn chunks(&self) -> EventStream<TextChunk> {
        self.stream(Select {
            event: |event| match event {
                ChatEvent::Text(text) => Some(TextChunk::owned(text.clone())),
                _ => None,
            },
            text: Some(TextBatch::share_chunk),
        })
    }

    pub fn thoughts(&self) -> EventStream<String> {
        self.stream(Select {
            event: |event| match event {
                ChatEvent::Thought(text) => Some(text.clone()),
                _ => None,
            },
            text: None,
        })
    }

    pub fn tool_calls(&self) -> EventStream<ToolCall> {
        self.stream(Select {
            event: |event| match event {
                ChatEvent::ToolCall(call) => Some(call.clone()),
                _ => None,
            },
            text: None,
        })
    }

    /// What each tool call of the turn gave back, in the order the results came.
    pub fn tool_results(&self) -> EventStream<ToolResult> {
        self.stream(Select {
            event: |event| match event {
                ChatEvent::ToolResult(result) => Some(result.clone()),
                _ => None,
            },
            text: None,
        })
    }

    pub fn steps(&self) -> EventStream<Step> {
        self.stream(Select {
            event: |event| match event {
                ChatEvent::Step(step) => Some(step.clone()),
                _ => None,
            },
            text: None,
        })
    }

    /// Every event in order: the full timeline of the turn.
    pub fn events(&self) -> EventStream<ChatEvent> {
        self.stream(Select {
            event: |event| Some(event.clone()),
            text: Some(|batch, at| ChatEvent::Text(batch.next_chunk(at).to_owned())),
        })
    }

    /// Every event in order, with text as it was written: each run of chunks that came
    /// together is one [`PackedEvent::Texts`], shared with the turn where it can be. The
    /// way to forward a turn elsewhere (a wire, a log) without a string per chunk.
    pub fn packed_events(&self) -> EventStream<PackedEvent> {
        self.stream(Select {
            event: |event| Some(PackedEvent::Event(event.clone())),
            text: Some(|batch, at| PackedEvent::Texts(batch.take_rest(at))),
        })
    }

    fn stream<T>(&self, select: Select<T>) -> EventStream<T> {
        EventStream {
            turn: self.turn.clone(),
            cursor: Cursor::default(),
            select,
        }
    }

    /// Waits for the end of the turn: the whole text, the usage and any structured output.
    pub async fn text(&self) -> Result<ChatResult, Error> {
        let mut cursor = Cursor::default();
        let skip_all = Select {
            event: |_| None::<()>,
            text: None,
        };
        poll_fn(|cx| loop {
            match self.turn.poll_read(&mut cursor, &skip_all, cx) {
                Poll::Ready(Read::End) => {
                    let result = self.turn.lock().result();
                    return Poll::Ready(result.unwrap_or(Err(Error::ChannelClosed)));
                }
                Poll::Ready(Read::Event(())) => continue,
                Poll::Pending => return Poll::Pending,
            }
        })
        .await
    }

    /// True once the turn has ended, well or not.
    pub fn is_finished(&self) -> bool {
        self.turn.is_finished()
    }

    /// Ends the turn now; it finishes with `Error::Cancelled`.
    pub fn cancel(&self) {
        self.turn.cancel();
    }
}

impl Drop for ChatResponseHandle {
    fn drop(&mut self) {
        self.turn.cancel();
    }
}

/// One reader of a turn: a `Stream` of the events its filter selects.
pub struct EventStream<T> {
    turn: Arc<Turn>,
    cursor: Cursor,
    select: Select<T>,
}

impl<T> Stream for EventStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        this.turn
            .poll_read(&mut this.cursor, &this.select, cx)
            .map(|read| match read {
                Read::Event(item) => Some(item),
                Read::End => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::super::channel;
    use super::*;

    #[tokio::test]
    async fn streams_are_independent_and_complete() {
        let (mut sender, handle) = channel();
        sender.text("Hello, ");
        sender.thought("greeting");
        sender.text("world");
        sender.complete(Default::default(), None);

        // Read the thoughts only, then the full text, then the timeline: each sees everything.
        let thoughts: Vec<_> = handle.thoughts().collect().await;
        assert_eq!(thoughts, vec!["greeting".to_string()]);
        let chunks: Vec<_> = handle.text_stream().collect().await;
        assert_eq!(chunks.concat(), "Hello, world");
        assert_eq!(handle.events().count().await, 3);
        assert_eq!(handle.text().await.unwrap().text, "Hello, world");
    }

    #[tokio::test]
    async fn unread_streams_do_not_stall_the_writer() {
        let (mut sender, handle) = channel();
        let writer = tokio::spawn(async move {
            for i in 0..10_000 {
                sender.text(format!("{i} "));
            }
            sender.complete(Default::default(), None);
        });
        writer.await.unwrap();
        assert!(handle.text().await.unwrap().text.starts_with("0 1 2"));
    }

    #[tokio::test]
    async fn dropping_the_handle_tells_the_writer() {
        let (mut sender, handle) = channel();
        let stream = handle.text_stream();
        drop(handle);
        sender.cancelled().await;
        assert!(sender.is_cancelled());
        assert!(!sender.text("late"));
        assert_eq!(stream.count().await, 0);
    }

    #[tokio::test]
    async fn the_last_chunks_can_come_with_the_result() {
        let (mut sender, handle) = channel();
        sender.text("a");
        let mut last = super::super::TextBatch::new();
        last.push("b");
        last.push("c");
        assert!(sender.complete_with_texts(last, Default::default(), None));
        let chunks: Vec<_> = handle.text_stream().collect().await;
        assert_eq!(chunks, ["a", "b", "c"]);
        assert_eq!(handle.text().await.unwrap().text, "abc");
    }

    #[tokio::test]
    async fn packed_events_keep_text_in_the_batches_it_came_in() {
        let (mut sender, handle) = channel();
        let mut first = super::super::TextBatch::new();
        first.push("he");
        first.push("llo");
        sender.text_batch(first);
        sender.step(1, "middle");
        sender.text(" world");
        sender.complete(Default::default(), None);

        let events: Vec<PackedEvent> = handle.packed_events().collect().await;
        let texts = |event: &PackedEvent| match event {
            PackedEvent::Texts(batch) => batch.chunks().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(texts(&events[0]), ["he", "llo"]);
        assert!(matches!(&events[1], PackedEvent::Event(ChatEvent::Step(_))));
        assert_eq!(texts(&events[2]), [" world"]);
        // A batch written whole is shared with the reader, not copied.
        let PackedEvent::Texts(shared) = &events[0] else {
            unreachable!()
        };
        let chunks: Vec<TextChunk> = handle.chunks().collect().await;
        assert_eq!(chunks[0].as_ptr(), shared.as_str().as_ptr());
    }

    #[tokio::test]
    async fn a_packed_reader_takes_a_growing_batch_as_far_as_it_is_written() {
        let (mut sender, handle) = channel();
        let mut events = handle.packed_events();
        sender.text("a");
        sender.text("b");
        let Some(PackedEvent::Texts(first)) = events.next().await else {
            panic!("text first")
        };
        sender.text("c");
        sender.complete(Default::default(), None);
        let rest: Vec<PackedEvent> = events.collect().await;
        let Some(PackedEvent::Texts(second)) = rest.first() else {
            panic!("{rest:?}")
        };
        assert_eq!(
            first.chunks().chain(second.chunks()).collect::<String>(),
            "abc"
        );
        assert_eq!(first.len() + second.len(), 3);
    }

    #[tokio::test]
    async fn a_dropped_sender_ends_the_turn_with_an_error() {
        let (mut sender, handle) = channel();
        sender.text("partial");
        drop(sender);
        assert!(matches!(handle.text().await, Err(Error::Stream(_))));
    }

    #[tokio::test]
    async fn a_waiting_reader_is_woken_by_a_later_event() {
        let (mut sender, handle) = channel();
        let mut stream = handle.text_stream();
        let reader = tokio::spawn(async move { stream.next().await });
        tokio::task::yield_now().await;
        sender.text("late chunk");
        assert_eq!(reader.await.unwrap().as_deref(), Some("late chunk"));
    }
}
