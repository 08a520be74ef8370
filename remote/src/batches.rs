//! Batches of whatever a stream has ready, so one message carries many items.
//!
//! `futures`' `ready_chunks` reserves room for its largest batch on the first item of
//! every batch: with protocol items of a few hundred bytes and batches of hundreds, that
//! is a fresh allocation of ~100 KB per message (measured as most of a served turn's
//! allocator time). This grows each batch only as items arrive.

use std::task::Poll;

use futures::{Stream, StreamExt};

/// Yields the items `stream` has ready, at most `max` at a time, as soon as it has one.
pub(crate) fn ready_batches<S>(mut stream: S, max: usize) -> impl Stream<Item = Vec<S::Item>>
where
    S: Stream + Unpin,
{
    let mut ended = false;
    futures::stream::poll_fn(move |cx| {
        let mut batch = Vec::new();
        while !ended && batch.len() < max {
            match stream.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => batch.push(item),
                Poll::Ready(None) => ended = true,
                Poll::Pending => break,
            }
        }
        match (batch.is_empty(), ended) {
            (false, _) => Poll::Ready(Some(batch)),
            (true, true) => Poll::Ready(None),
            (true, false) => Poll::Pending,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_hold_what_is_ready_up_to_the_bound() {
        let batches: Vec<Vec<u32>> = ready_batches(futures::stream::iter(0..5), 2)
            .collect()
            .await;
        assert_eq!(batches, vec![vec![0, 1], vec![2, 3], vec![4]]);
    }

    #[tokio::test]
    async fn a_batch_goes_out_when_the_stream_waits() {
        let (send, receive) = tokio::sync::mpsc::unbounded_channel();
        let mut batches = ready_batches(
            tokio_stream::wrappers::UnboundedReceiverStream::new(receive),
            10,
        );
        send.send(1).unwrap();
        send.send(2).unwrap();
        assert_eq!(batches.next().await, Some(vec![1, 2]));
        send.send(3).unwrap();
        drop(send);
        assert_eq!(batches.next().await, Some(vec![3]));
        assert_eq!(batches.next().await, None);
    }
}
