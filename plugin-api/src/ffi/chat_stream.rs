//! A chat turn's event stream across the boundary, both sides: the plugin side
//! ([`ExportedStream`]) serves batches from its turn log; the host side
//! ([`ImportedStream`]) pulls them into its own handle.
//!
//! Growth: `next_batch` is the last prefix method; a later one goes after it, with a
//! default body for plugins built before it.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, ROption, RVec};
use abi_stable::StableAbi;
use async_ffi::FfiFuture;

use super::data::{FfiBatch, FfiChatEvent, FfiChatResult, FfiResult};
use super::guard::PluginContext;
use crate::stream::{
    ChatResponseHandle, Ended, Entry, EventSource, Outcome, SourceBatch, Turn, COALESCE_BYTES,
};
use crate::types::Error;

/// How many log entries one crossing carries at most (an entry is an event, or a batch of
/// any number of text chunks).
pub(crate) const MAX_BATCH: u32 = 1024;

#[sabi_trait]
pub trait FfiChatStream: Send {
    /// The next events, at least one unless the turn is over; the outcome comes with the
    /// last batch. Dropping the stream cancels the turn.
    #[sabi(last_prefix_field)]
    fn next_batch(&self, max_events: u32) -> FfiFuture<FfiResult<FfiBatch>>;
}

pub type FfiChatStreamBox = FfiChatStream_TO<'static, RBox<()>>;

/// A turn as an immediate `chat` returns it (since 0.2.2): what it has written so far,
/// and its stream only if it goes on. A turn that ended while `chat` ran (it started on
/// the caller's thread and never waited) crosses whole, in this one answer.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiChatStart {
    pub first: FfiBatch,
    pub rest: ROption<FfiChatStreamBox>,
}

/// Plugin side: owns the backend's handle, so dropping this cancels the turn.
pub(crate) struct ExportedStream {
    handle: ChatResponseHandle,
    context: PluginContext,
}

impl ExportedStream {
    pub(crate) fn new(handle: ChatResponseHandle, context: PluginContext) -> Self {
        ExportedStream { handle, context }
    }

    pub(crate) fn into_ffi(self) -> FfiChatStreamBox {
        FfiChatStream_TO::from_value(self, abi_stable::sabi_trait::TD_Opaque)
    }

    /// The turn as it crosses from an immediate `chat`: whole if it has ended already,
    /// else nothing yet and its stream.
    pub(crate) fn into_start(self) -> FfiChatStart {
        let turn = self.handle.turn();
        // `is_finished` first pulls what a turn with a source of its own already has.
        if let Some((events, outcome)) = turn.is_finished().then(|| turn.take_ended()).flatten() {
            return FfiChatStart {
                first: batch_of(events, Some(outcome)),
                rest: ROption::RNone,
            };
        }
        FfiChatStart {
            first: batch_of(Vec::new(), None),
            rest: ROption::RSome(self.into_ffi()),
        }
    }
}

/// Entries and, at the end, the outcome, as they cross.
fn batch_of(events: Vec<Entry>, outcome: Option<Outcome>) -> FfiBatch {
    FfiBatch {
        events: events
            .into_iter()
            .map(FfiChatEvent::from)
            .collect::<RVec<_>>(),
        outcome: outcome
            .map(|outcome| outcome.map(FfiChatResult::from).map_err(Into::into).into())
            .into(),
    }
}

/// How long a growing text batch may wait to fill before it crosses anyway: short
/// enough that streaming looks immediate, long enough that chunks read as fast as they
/// are written cross in batches rather than a few at a time.
const FLUSH_WINDOW: Duration = Duration::from_millis(1);

impl FfiChatStream for ExportedStream {
    fn next_batch(&self, max_events: u32) -> FfiFuture<FfiResult<FfiBatch>> {
        let turn = Arc::clone(self.handle.turn());
        self.context.future(async move {
            // Armed when a small batch is left to fill; once it fires, take what there is.
            let mut flush: Option<Pin<Box<tokio::time::Sleep>>> = None;
            let (events, outcome) = poll_fn(|cx| {
                let due = flush
                    .as_mut()
                    .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
                let min_text = if due { 0 } else { COALESCE_BYTES };
                let mut small = false;
                let taken = turn.poll_take_batch(max_events as usize, min_text, &mut small, cx);
                if taken.is_pending() && small && flush.is_none() {
                    let mut timer = Box::pin(tokio::time::sleep(FLUSH_WINDOW));
                    if timer.as_mut().poll(cx).is_ready() {
                        cx.waker().wake_by_ref();
                    }
                    flush = Some(timer);
                }
                taken
            })
            .await;
            FfiResult::ROk(batch_of(events, outcome))
        })
    }
}

/// What an immediate `chat` gives the host: see [`ImportedStream::from_start`].
pub(crate) enum ImportedStart {
    Ended(ChatResponseHandle),
    Going(ImportedStream),
}

/// Host side: a plugin stream as the event source of a host-side handle.
pub(crate) struct ImportedStream {
    /// What an immediate `chat` brought along, read before the stream.
    first: Option<SourceBatch>,
    /// `None` once a first batch brought the outcome.
    stream: Option<FfiChatStreamBox>,
    pending: Option<FfiFuture<FfiResult<FfiBatch>>>,
}

impl ImportedStream {
    pub(crate) fn from_stream(stream: FfiChatStreamBox) -> Self {
        ImportedStream {
            first: None,
            stream: Some(stream),
            pending: None,
        }
    }

    /// A turn as an immediate `chat` returned it: one that ended there is a handle on its
    /// whole log at once (no stream, nothing to pull), one that goes on is a stream.
    pub(crate) fn from_start(start: FfiChatStart) -> ImportedStart {
        let mut first = source_batch(FfiResult::ROk(start.first));
        let stream = start.rest.into_option();
        if let Some(outcome) = first.outcome.take() {
            // The plugin drops the stream of a turn that ended; a foreign one that sent
            // it anyway has nothing more to say.
            drop(stream);
            return ImportedStart::Ended(ChatResponseHandle::new(Turn::ended(
                first.entries,
                outcome,
            )));
        }
        // A turn that goes on brings nothing yet: its reader goes straight to the stream.
        let brought = !first.entries.is_empty();
        ImportedStart::Going(ImportedStream {
            first: brought.then_some(first),
            stream,
            pending: None,
        })
    }

    pub(crate) fn into_handle(self) -> ChatResponseHandle {
        ChatResponseHandle::from_source(Box::new(self))
    }

    /// A handle whose turn fails with `timeout` if it has not ended by `deadline`; the
    /// plugin's stream is dropped then, which cancels the turn there.
    pub(crate) fn into_handle_with_deadline(
        self,
        deadline: tokio::time::Instant,
        timeout: Error,
    ) -> ChatResponseHandle {
        ChatResponseHandle::from_source(Box::new(Deadline {
            inner: Some(self),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            timeout,
        }))
    }
}

/// A source that ends its turn with a timeout error at a deadline.
struct Deadline {
    inner: Option<ImportedStream>,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    timeout: Error,
}

impl EventSource for Deadline {
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<SourceBatch> {
        if let Some(inner) = &mut self.inner {
            if let Poll::Ready(batch) = inner.poll_batch(cx) {
                return Poll::Ready(batch);
            }
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.inner = None;
                Poll::Ready(SourceBatch {
                    entries: Vec::new(),
                    outcome: Some(Err(self.timeout.clone())),
                })
            }
        }
    }
}

impl EventSource for ImportedStream {
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<SourceBatch> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(first);
        }
        let Some(stream) = &self.stream else {
            // Not reached: the turn drops its source once a batch brings the outcome.
            return Poll::Pending;
        };
        let pending = self
            .pending
            .get_or_insert_with(|| stream.next_batch(MAX_BATCH));
        let batch = match Pin::new(pending).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(batch) => batch,
        };
        self.pending = None;
        Poll::Ready(source_batch(batch))
    }
}

/// A batch as the host-side log takes it.
fn source_batch(batch: FfiResult<FfiBatch>) -> SourceBatch {
    match batch.into_result() {
        Ok(FfiBatch { events, outcome }) => {
            // Sized once: a filtering `collect` would guess low and grow.
            let mut entries = Vec::with_capacity(events.len());
            entries.extend(events.into_iter().filter_map(FfiChatEvent::into_entry));
            SourceBatch {
                entries,
                outcome: outcome
                    .into_option()
                    .map(|outcome| outcome.into_result().map(Ended::from).map_err(Error::from)),
            }
        }
        Err(error) => SourceBatch {
            entries: Vec::new(),
            outcome: Some(Err(error.into())),
        },
    }
}

#[cfg(test)]
mod tests {
    //! Text crossing through `PluginRuntime::in_process`: packed, coalesced, in order.

    use futures::StreamExt;

    use crate::host::PluginRuntime;
    use crate::kit::{AgentBackend, AgentRuntime, NoOptions, Turn};
    use crate::plugin::async_trait;
    use crate::runtime::Runtime;
    use crate::types::{AgentConfig, Content, Error};

    /// Writes `content` as that many 8-byte chunks, yielding after each like the mock.
    struct Tiny;

    #[async_trait]
    impl AgentBackend for Tiny {
        const NAME: &'static str = "tiny";
        const VERSION: &'static str = "0.0.0";
        type Options = NoOptions;
        type Agent = ();

        fn new(_: NoOptions) -> Result<Self, Error> {
            Ok(Tiny)
        }

        fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> {
            Ok(())
        }

        async fn chat(&self, _: &(), content: &Content, turn: &mut Turn) -> Result<(), Error> {
            let count: usize = content.to_text().parse().unwrap();
            for index in 0..count {
                turn.text(format!("{index:08}"))?;
                tokio::task::yield_now().await;
            }
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn tiny_chunks_read_as_they_come_cross_in_few_batches_and_in_order() {
        let runtime = PluginRuntime::in_process("tiny", AgentRuntime::new(Tiny)).unwrap();
        let agent = runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .unwrap();
        let count = 100_000;
        let handle = runtime
            .chat(agent, &Content::text(count.to_string()))
            .await
            .unwrap();
        let chunks: Vec<String> = handle.text_stream().collect().await;
        assert_eq!(chunks.len(), count);
        assert!(chunks
            .iter()
            .enumerate()
            .all(|(index, chunk)| *chunk == format!("{index:08}")));
        let entries = handle.turn().entries();
        // 800 KB in batches of 4 KB or 1 ms each; a crossing per few chunks made tens of
        // thousands.
        assert!(entries < 2_000, "{entries} entries for {count} chunks");
        let text = handle.text().await.unwrap().text;
        assert_eq!(text, chunks.concat());
        let history = runtime.history(agent).await.unwrap();
        assert_eq!(history[1].content, Content::Text(text.clone()));
        assert_eq!(runtime.last_response(agent).await.unwrap(), Some(text));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn readers_of_shared_chunks_read_the_plugins_bytes_in_place() {
        let runtime = PluginRuntime::in_process("tiny", AgentRuntime::new(Tiny)).unwrap();
        let agent = runtime
            .create_agent(AgentConfig::builder("m").build())
            .await
            .unwrap();
        let handle = runtime.chat(agent, &Content::text("1000")).await.unwrap();
        let (first, second, copies) = tokio::join!(
            handle.chunks().collect::<Vec<_>>(),
            handle.chunks().collect::<Vec<_>>(),
            handle.text_stream().collect::<Vec<_>>(),
        );
        assert_eq!(first.len(), 1000);
        assert!(first
            .iter()
            .zip(&copies)
            .all(|(chunk, copy)| chunk == copy.as_str()));
        // Two readers, one copy of each chunk: the plugin's own buffer.
        assert!(first
            .iter()
            .zip(&second)
            .all(|(a, b)| a.as_ptr() == b.as_ptr()));
        assert!(first
            .iter()
            .zip(&copies)
            .all(|(a, copy)| a.as_ptr() != copy.as_ptr()));
        let kept: String = first.into_iter().map(String::from).collect();
        assert_eq!(kept, copies.concat());
    }
}
