//! The floors the figures are measured against: what any design with its own executor
//! pays, with no backend at all.

use tokio::sync::{mpsc, oneshot};

use crate::subjects::{count_batched, tokio};

/// A request answered by a task on another tokio runtime, over a oneshot: the least a
/// turn handed to a backend's own threads can cost.
pub struct RoundTrip {
    requests: mpsc::UnboundedSender<oneshot::Sender<()>>,
    _server: tokio::runtime::Runtime,
}

impl RoundTrip {
    pub fn start() -> RoundTrip {
        let server = tokio();
        let (requests, mut incoming) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
        server.spawn(async move {
            while let Some(answer) = incoming.recv().await {
                let _ = answer.send(());
            }
        });
        RoundTrip {
            requests,
            _server: server,
        }
    }

    pub async fn call(&self) {
        let (answer, answered) = oneshot::channel();
        self.requests.send(answer).unwrap();
        answered.await.unwrap();
    }
}

/// Text chunks written by a task on another runtime into a bare tokio channel, read
/// batched: the least a stream of chunks can cost.
pub struct Channel {
    requests: mpsc::UnboundedSender<(usize, mpsc::UnboundedSender<String>)>,
    _writer: tokio::runtime::Runtime,
}

impl Channel {
    pub fn start() -> Channel {
        let writer = tokio();
        let (requests, mut incoming) =
            mpsc::unbounded_channel::<(usize, mpsc::UnboundedSender<String>)>();
        writer.spawn(async move {
            while let Some((chunks, stream)) = incoming.recv().await {
                tokio::spawn(async move {
                    for _ in 0..chunks {
                        let _ = stream.send("x".to_owned());
                    }
                });
            }
        });
        Channel {
            requests,
            _writer: writer,
        }
    }

    /// Streams `chunks` one-character chunks; returns how many arrived.
    pub async fn stream(&self, chunks: usize) -> usize {
        let (stream, received) = mpsc::unbounded_channel();
        self.requests.send((chunks, stream)).unwrap();
        let read = count_batched(tokio_stream_of(received)).await;
        assert_eq!(read, chunks);
        read
    }
}

fn tokio_stream_of(
    mut receiver: mpsc::UnboundedReceiver<String>,
) -> impl futures::Stream<Item = String> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
