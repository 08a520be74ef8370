//! Serving sessions on the framed transport ([`crate::framed`]): per connection, a
//! handshake frame each way, then the session's messages, read by one task and written
//! by another.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use prost::Message;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;
use tonic::Status;

use super::service::Service;
use crate::check_protocol;
use crate::framed::{self, MessageWriter};
use crate::proto::{ClientMessage, HandshakeRequest};

/// Accepts connections until `shutdown` resolves, then waits for their sessions, which
/// the same shutdown ends.
pub(crate) async fn serve(
    listener: UnixListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    connections.spawn(serve_connection(socket, service.clone()));
                }
                Err(error) => {
                    // Out of file descriptors, most likely: others may close theirs.
                    tracing::warn!("cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(socket: UnixStream, service: Arc<Service>) {
    let (read, write) = socket.into_split();
    let mut writer = MessageWriter::new(write);
    let mut frames = framed::read_frames(read);
    let request = match frames.next().await {
        Some(Ok(frame)) => HandshakeRequest::decode(frame),
        _ => return,
    };
    let Ok(request) = request else {
        tracing::debug!("a framed client's first frame is not a handshake");
        return;
    };
    // Another major version is the client's to refuse, with ours in the reply.
    if let Err(why) = check_protocol(&request.protocol_version) {
        tracing::warn!("a framed client: {why}");
    }
    if writer.send(&service.handshake_reply()).await.is_err() {
        return;
    }
    let incoming = frames.map(|frame| {
        let frame = frame.map_err(|error| Status::unavailable(error.to_string()))?;
        ClientMessage::decode(frame).map_err(|error| Status::invalid_argument(error.to_string()))
    });
    let mut outgoing = std::pin::pin!(service.session_on(incoming, true));
    while let Some(Ok(message)) = outgoing.next().await {
        if writer.send(&message).await.is_err() {
            break;
        }
    }
}
