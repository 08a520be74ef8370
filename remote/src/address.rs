//! Where a server listens and a client connects: `unix:PATH` or `tcp:HOST:PORT`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// A listening address, as `agent-host serve --listen` takes it and as the handshake
/// line reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A Unix socket (the private channel to a child process).
    Unix(PathBuf),
    /// A TCP address; port 0 picks a free one, and the handshake line says which.
    Tcp(SocketAddr),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Tcp(address) => write!(f, "tcp:{address}"),
        }
    }
}

impl FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("`unix:` needs a socket path, as in unix:/run/agent.sock".into());
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(address) = text.strip_prefix("tcp:") {
            return address.parse().map(Address::Tcp).map_err(|_| {
                format!(
                    "`{address}` is not HOST:PORT with HOST an IP address, as in \
                     tcp:127.0.0.1:7070 or tcp:[::1]:7070"
                )
            });
        }
        Err(format!(
            "`{text}` is not an address: use unix:PATH or tcp:HOST:PORT"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_and_print_the_same() {
        for text in ["unix:/tmp/a.sock", "tcp:127.0.0.1:7070", "tcp:[::1]:0"] {
            assert_eq!(text.parse::<Address>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_addresses_say_what_is_expected() {
        for text in ["unix:", "tcp:localhost", "tcp:1.2.3.4", "http://x", ""] {
            let error = text.parse::<Address>().unwrap_err();
            assert!(
                error.contains("unix:") || error.contains("HOST:PORT"),
                "{error}"
            );
        }
    }
}
