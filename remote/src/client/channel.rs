//! A gRPC channel to a [`Destination`]: a Unix socket through a connector, TCP, or TLS.

use agent_plugin_api::types::Error;
use hyper_util::rt::TokioIo;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

use super::destination::{Destination, Way};
use crate::Address;

pub(crate) async fn connect(destination: &Destination) -> Result<Channel, Error> {
    let unreachable = |error: &dyn std::fmt::Display| {
        Error::ConnectionError(format!("cannot reach {destination}: {error}"))
    };
    match &destination.way {
        Way::Plain(Address::Unix(path)) => {
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
        Way::Plain(Address::Tcp(socket)) => Endpoint::from_shared(format!("http://{socket}"))
            .map_err(|error| unreachable(&error))?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|error| unreachable(&source_of(&error))),
        Way::Tls { host, tls, .. } => {
            let mut config = ClientTlsConfig::new().domain_name(host.clone());
            config = match &tls.ca_pem {
                Some(ca) => config.ca_certificate(Certificate::from_pem(ca)),
                None => config.with_native_roots(),
            };
            if let Some((cert, key)) = &tls.identity {
                config = config.identity(Identity::from_pem(cert, key));
            }
            Endpoint::from_shared(destination.to_string())
                .map_err(|error| unreachable(&error))?
                .tls_config(config)
                .map_err(|error| unreachable(&source_of(&error)))?
                .tcp_nodelay(true)
                .connect()
                .await
                .map_err(|error| unreachable(&source_of(&error)))
        }
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
