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

/// How long a client has to send its handshake frame.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

/// How long a stopping server waits for its connections (their sessions end their
/// turns within 5 s).
const CONNECTIONS_END_WITHIN: Duration = Duration::from_secs(7);

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
    // The sessions end their turns (within their own bound) and close; a connection
    // that has not would hold the stop forever.
    let ended = tokio::time::timeout(CONNECTIONS_END_WITHIN, async {
        while connections.join_next().await.is_some() {}
    });
    if ended.await.is_err() {
        connections.shutdown().await;
    }
}

async fn serve_connection(socket: UnixStream, service: Arc<Service>) {
    let (read, write) = socket.into_split();
    let mut writer = MessageWriter::new(write);
    let mut frames = framed::read_frames(read);
    let request = match tokio::time::timeout(HANDSHAKE_WITHIN, frames.next()).await {
        Ok(Some(Ok(frame))) => HandshakeRequest::decode(frame),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use agent_plugin_api::plugin::Plugin;
    use agent_plugin_api::Runtime;
    use agent_plugin_mock::{MockOptions, MockRuntime};

    use crate::{Address, BackendInfo, Server};

    /// A client that connects and never says a word holds neither its connection nor the
    /// server's stop: the clock is paused, so the bounds pass at once.
    #[tokio::test(start_paused = true)]
    async fn a_silent_client_does_not_hold_the_stop() {
        let runtime: Arc<dyn Runtime> =
            Arc::new(<MockRuntime as Plugin>::new(MockOptions::default()).unwrap());
        let info = BackendInfo {
            name: "mock".into(),
            version: "0".into(),
            description: String::new(),
            api_version: agent_plugin_api::host::API_VERSION.into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let server = Server::bind(runtime, info, &Address::Unix(path.clone()))
            .await
            .unwrap()
            .framed()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        let _silent = tokio::net::UnixStream::connect(&path).await.unwrap();
        tokio::task::yield_now().await;
        let _ = stop.send(());
        tokio::time::timeout(std::time::Duration::from_secs(60), serving)
            .await
            .expect("the server stopped")
            .unwrap()
            .unwrap();
    }
}
