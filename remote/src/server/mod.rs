//! Serving any `Runtime` over the protocol: a Unix socket or TCP, a handshake, the
//! multiplexed session, gRPC health, and a shutdown that ends turns `Cancelled`.

mod framed_listener;
mod host_tools;
mod service;
mod session;
mod turn_pump;

use std::future::Future;
use std::sync::Arc;

use agent_plugin_api::Runtime;
use tokio::sync::watch;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::server::{ServerTlsConfig, TcpIncoming};
use tonic::transport::{Certificate, Identity};

use crate::proto::runtime_server::RuntimeServer;
use crate::{Address, HandshakeLine, ServerSecurity, ServerTls, Transport, PROTOCOL_VERSION};

/// Who is served, as the handshake tells clients.
#[derive(Debug, Clone)]
pub struct BackendInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    /// The agent-plugin-api version the backend is built against.
    pub api_version: String,
}

/// Why serving stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: Address,
        source: std::io::Error,
    },
    #[error("the TLS certificate or key for {address}: {reason}")]
    Tls { address: Address, reason: String },
    #[error("{address}: the framed transport is for Unix sockets (TCP speaks gRPC)")]
    Framed { address: Address },
    #[error("serving on {address} failed: {source}")]
    Serve {
        address: Address,
        source: tonic::transport::Error,
    },
}

/// A bound server: its address is known (a TCP port 0 is resolved) before it serves.
pub struct Server {
    runtime: Arc<dyn Runtime>,
    info: BackendInfo,
    listener: Listener,
    address: Address,
    security: ServerSecurity,
    /// Serve the framed transport instead of gRPC (a Unix socket only).
    framed: bool,
}

enum Listener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

impl Server {
    /// Binds `address`. A Unix socket path must not exist yet (a stale socket is the
    /// caller's to remove: this never deletes a file it did not make).
    pub async fn bind(
        runtime: Arc<dyn Runtime>,
        info: BackendInfo,
        address: &Address,
    ) -> Result<Server, ServeError> {
        let listen_error = |source| ServeError::Listen {
            address: address.clone(),
            source,
        };
        let (listener, address) = match address {
            Address::Unix(path) => {
                let listener = tokio::net::UnixListener::bind(path).map_err(listen_error)?;
                (Listener::Unix(listener), address.clone())
            }
            Address::Tcp(socket) => {
                let listener = tokio::net::TcpListener::bind(socket)
                    .await
                    .map_err(listen_error)?;
                let bound = listener.local_addr().map_err(listen_error)?;
                (Listener::Tcp(listener), Address::Tcp(bound))
            }
        };
        Ok(Server {
            runtime,
            info,
            listener,
            address,
            security: ServerSecurity::default(),
            framed: false,
        })
    }

    /// Serves the framed transport ([`crate::framed`]) instead of gRPC, for a parent
    /// `agent-host` on a Unix socket; the handshake line says `framed`. On TCP it is
    /// refused: gRPC is what other machines and languages speak.
    pub fn framed(mut self) -> Result<Self, ServeError> {
        if !matches!(self.listener, Listener::Unix(_)) {
            return Err(ServeError::Framed {
                address: self.address.clone(),
            });
        }
        self.framed = true;
        Ok(self)
    }

    /// Serves with TLS and asks clients for a token or a certificate, as `security`
    /// says (the default: in the clear, anyone who reaches the address).
    pub fn secured(mut self, security: ServerSecurity) -> Self {
        self.security = security;
        self
    }

    /// Where it listens (with the port a TCP port 0 became).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The line for a parent process's stdout.
    pub fn handshake_line(&self) -> HandshakeLine {
        HandshakeLine {
            protocol_version: PROTOCOL_VERSION.to_owned(),
            api_version: self.info.api_version.clone(),
            address: self.address.clone(),
            transport: if self.framed {
                Transport::Framed
            } else {
                Transport::Grpc
            },
        }
    }

    /// Serves until `shutdown` resolves; then every running turn ends `Cancelled` (and
    /// its clients are told), every session closes, and this returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let (stop, stopping) = watch::channel(false);
        let service = service::Service::new(self.runtime, self.info, stopping, self.security.token);
        if self.framed {
            let Listener::Unix(listener) = self.listener else {
                unreachable!("Server::framed takes only a Unix listener");
            };
            let signal = async move {
                shutdown.await;
                let _ = stop.send(true);
            };
            framed_listener::serve(listener, Arc::new(service), signal).await;
            return Ok(());
        }
        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<RuntimeServer<service::Service>>()
            .await;
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &self.security.tls {
            builder = builder
                .tls_config(tls_config(tls))
                .map_err(|error| ServeError::Tls {
                    address: self.address.clone(),
                    reason: crate::client::source_of(&error),
                })?;
        }
        let router = builder
            .add_service(health)
            // No bound of its own on a message (a turn's content with media): the ABI
            // has none either, and a message over a bound would end the whole session.
            .add_service(
                RuntimeServer::new(service)
                    .max_decoding_message_size(usize::MAX)
                    .max_encoding_message_size(usize::MAX),
            );
        let signal = async move {
            shutdown.await;
            // Sessions end their turns and close their streams, so the graceful
            // shutdown below has nothing long-lived left to wait for.
            let _ = stop.send(true);
        };
        let address = self.address.clone();
        let served = match self.listener {
            Listener::Unix(listener) => {
                router
                    .serve_with_incoming_shutdown(UnixListenerStream::new(listener), signal)
                    .await
            }
            Listener::Tcp(listener) => {
                // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold small
                // messages back for up to 40 ms each.
                let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
                router.serve_with_incoming_shutdown(incoming, signal).await
            }
        };
        served.map_err(|source| ServeError::Serve { address, source })
    }
}

/// How long a client may take over its TLS handshake before its connection is dropped.
const TLS_HANDSHAKE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

fn tls_config(tls: &ServerTls) -> ServerTlsConfig {
    let mut config = ServerTlsConfig::new()
        .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
        .timeout(TLS_HANDSHAKE_WITHIN);
    if let Some(ca) = &tls.client_ca_pem {
        config = config.client_ca_root(Certificate::from_pem(ca));
    }
    config
}
