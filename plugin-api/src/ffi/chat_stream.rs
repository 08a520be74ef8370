//! A chat turn's event stream as an FFI-safe object: the plugin side serves batches from
//! its turn log; the host side pulls them into its own handle.

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::{Context, Poll};

use abi_stable::sabi_trait;
use abi_stable::std_types::RBox;
use async_ffi::FfiFuture;

use super::data::{FfiBatch, FfiChatEvent, FfiChatResult, FfiResult};
use super::guard::PluginContext;
use crate::stream::{ChatResponseHandle, EventSource, SourceBatch};
use crate::types::Error;

/// How many events one crossing carries at most.
pub(crate) const MAX_BATCH: u32 = 1024;

#[sabi_trait]
pub trait FfiChatStream: Send {
    /// The next events, at least one unless the turn is over; the outcome comes with the
    /// last batch. Dropping the stream cancels the turn.
    #[sabi(last_prefix_field)]
    fn next_batch(&self, max_events: u32) -> FfiFuture<FfiResult<FfiBatch>>;
}

pub type FfiChatStreamBox = FfiChatStream_TO<'static, RBox<()>>;

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
}

impl FfiChatStream for ExportedStream {
    fn next_batch(&self, max_events: u32) -> FfiFuture<FfiResult<FfiBatch>> {
        let turn = Arc::clone(self.handle.turn());
        self.context.future(async move {
            let (events, outcome) =
                poll_fn(|cx| turn.poll_take_batch(max_events as usize, cx)).await;
            FfiResult::ROk(FfiBatch {
                events: events.into_iter().map(FfiChatEvent::from).collect(),
                outcome: outcome
                    .map(|outcome| outcome.map(FfiChatResult::from).map_err(Into::into).into())
                    .into(),
            })
        })
    }
}

/// Host side: a plugin stream as the event source of a host-side handle.
pub(crate) struct ImportedStream {
    stream: FfiChatStreamBox,
    pending: Option<FfiFuture<FfiResult<FfiBatch>>>,
}

impl ImportedStream {
    pub(crate) fn into_handle(stream: FfiChatStreamBox) -> ChatResponseHandle {
        ChatResponseHandle::from_source(Box::new(ImportedStream::new(stream)))
    }

    /// A handle whose turn fails with `timeout` if it has not ended by `deadline`; the
    /// plugin's stream is dropped then, which cancels the turn there.
    pub(crate) fn into_handle_with_deadline(
        stream: FfiChatStreamBox,
        deadline: tokio::time::Instant,
        timeout: Error,
    ) -> ChatResponseHandle {
        ChatResponseHandle::from_source(Box::new(Deadline {
            inner: Some(ImportedStream::new(stream)),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            timeout,
        }))
    }

    fn new(stream: FfiChatStreamBox) -> Self {
        ImportedStream {
            stream,
            pending: None,
        }
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
                    events: Vec::new(),
                    outcome: Some(Err(self.timeout.clone())),
                })
            }
        }
    }
}

impl EventSource for ImportedStream {
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<SourceBatch> {
        let pending = self
            .pending
            .get_or_insert_with(|| self.stream.next_batch(MAX_BATCH));
        let batch = match std::pin::Pin::new(pending).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(batch) => batch,
        };
        self.pending = None;
        Poll::Ready(match batch.into_result() {
            Ok(batch) => SourceBatch {
                events: {
                    let mut events = Vec::with_capacity(batch.events.len());
                    for event in batch.events {
                        event.unpack_into(&mut events);
                    }
                    events
                },
                outcome: batch
                    .outcome
                    .into_option()
                    .map(|outcome| outcome.into_result().map(Into::into).map_err(Error::from)),
            },
            Err(error) => SourceBatch {
                events: Vec::new(),
                outcome: Some(Err(error.into())),
            },
        })
    }
}
