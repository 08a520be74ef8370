//! [`Destination`]: where a client connects and how it proves itself.

use std::fmt;

use agent_plugin_api::types::Error;

use crate::security::{ClientTls, Token, AUTHORIZATION};
use crate::Address;

/// A server to connect to: a local address in the clear, or TLS to a host; with a client
/// token or without.
#[derive(Debug, Clone)]
pub struct Destination {
    pub(crate) way: Way,
    pub(crate) token: Option<Token>,
}

#[derive(Debug, Clone)]
pub(crate) enum Way {
    /// A Unix socket or TCP, in the clear.
    Plain(Address),
    /// TLS over TCP to `host:port` (a DNS name or an IP address, also the name the
    /// server's certificate must carry).
    Tls {
        host: String,
        port: u16,
        tls: ClientTls,
    },
}

impl Destination {
    /// `address` in the clear (a Unix socket, or loopback TCP).
    pub fn plain(address: Address) -> Self {
        Destination {
            way: Way::Plain(address),
            token: None,
        }
    }

    /// TLS to `host:port`, the server's certificate checked as `tls` says.
    pub fn tls(host: impl Into<String>, port: u16, tls: ClientTls) -> Self {
        Destination {
            way: Way::Tls {
                host: host.into(),
                port,
                tls,
            },
            token: None,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.way, Way::Tls { .. })
    }

    /// Puts the client token, if any, on a request.
    pub(crate) fn authorize<T>(&self, request: &mut tonic::Request<T>) -> Result<(), Error> {
        if let Some(token) = &self.token {
            let value = token.bearer().parse().map_err(|_| {
                Error::InvalidConfig("the client token cannot be sent as metadata".into())
            })?;
            request.metadata_mut().insert(AUTHORIZATION, value);
        }
        Ok(())
    }

    /// Presents `token` on every call.
    pub fn with_token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }
}

impl From<Address> for Destination {
    fn from(address: Address) -> Self {
        Destination::plain(address)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.way {
            Way::Plain(address) => write!(f, "{address}"),
            Way::Tls { host, port, .. } if host.contains(':') => {
                write!(f, "https://[{host}]:{port}")
            }
            Way::Tls { host, port, .. } => write!(f, "https://{host}:{port}"),
        }
    }
}
