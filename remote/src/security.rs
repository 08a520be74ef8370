//! Off this machine a session needs TLS and a client that proves itself: a shared token
//! (`authorization: Bearer <token>` on every call) or a certificate of its own (mutual
//! TLS). These are the pieces both sides are configured with.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// The request metadata that carries the client token.
pub(crate) const AUTHORIZATION: &str = "authorization";

/// A client token: a shared secret. Never printed (its `Debug` says `Token(..)`).
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    /// A token read from a file or the environment; surrounding whitespace (a file's
    /// last newline) is not part of it.
    pub fn new(text: &str) -> Result<Token, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the token is empty".into());
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the token holds a space, a control or a non-ASCII character; use \
                 printable ASCII (e.g. `openssl rand -hex 32`)"
                    .into(),
            );
        }
        Ok(Token(text.into()))
    }

    /// The metadata value a client sends.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Whether a request's `authorization` value presents this token, in constant time
    /// (no early exit that a timing attacker could measure).
    pub(crate) fn is_presented_by(&self, authorization: &[u8]) -> bool {
        let expected = self.bearer();
        expected.as_bytes().ct_eq(authorization).into()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// What a server asks of its clients.
#[derive(Debug, Clone, Default)]
pub struct ServerSecurity {
    /// TLS on TCP; `None`: in the clear (loopback and Unix sockets only).
    pub tls: Option<ServerTls>,
    /// Clients must present this token.
    pub token: Option<Token>,
}

/// The server's certificate chain and key, and the CA its clients' certificates must
/// chain to (mutual TLS), each as PEM.
#[derive(Clone)]
pub struct ServerTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub client_ca_pem: Option<Vec<u8>>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("mutual", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// How a client checks the server and proves itself over TLS.
#[derive(Clone)]
pub struct ClientTls {
    /// The CA the server's certificate must chain to, as PEM; `None`: the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The client's own certificate chain and key, as PEM, for mutual TLS.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("own_ca", &self.ca_pem.is_some())
            .field("mutual", &self.identity.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_trimmed_checked_and_never_shown() {
        let token = Token::new("  s3cret-token\n").unwrap();
        assert!(token.is_presented_by(b"Bearer s3cret-token"));
        assert!(!token.is_presented_by(b"Bearer s3cret-tokeN"));
        assert!(!token.is_presented_by(b"Bearer s3cret-token2"));
        assert!(!token.is_presented_by(b"s3cret-token"));
        assert_eq!(format!("{token:?}"), "Token(..)");
        assert!(Token::new("\n").is_err());
        assert!(Token::new("two words").is_err());
        assert!(Token::new("ünïcode").is_err());
    }
}
