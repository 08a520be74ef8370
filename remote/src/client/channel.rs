//! A gRPC channel to an [`Address`]: a Unix socket through a connector, or TCP.

use agent_plugin_api::types::Error;
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::Address;

pub(crate) async fn connect(address: &Address) -> Result<Channel, Error> {
    let unreachable = |error: &dyn std::fmt::Display| {
        Error::ConnectionError(format!("cannot reach {address}: {error}"))
    };
    match address {
        Address::Unix(path) => {
            let path = path.clone();
            // The URI is required by the API and never used: the connector picks the socket.
            Endpoint::from_static("http://localhost")
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                }))
                .await
                .map_err(|error| unreachable(&source_of(&error)))
        }
        Address::Tcp(socket) => Endpoint::from_shared(format!("http://{socket}"))
            .map_err(|error| unreachable(&error))?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|error| unreachable(&source_of(&error))),
    }
}

/// tonic's transport error says only "transport error"; the cause is in its sources.
pub(crate) fn source_of(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
