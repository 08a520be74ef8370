//! `[plugins.<name>] url`: where a backend served by `agent-host serve` is reached.
//!
//! `https://HOST:PORT` anywhere, with the client proving itself (a token, or a
//! certificate of its own); plain `http://` only to a loopback address, and `unix:PATH`
//! (a local socket). Plain `http://` to another machine is refused, never spoken in the
//! clear.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use agent_remote::{Address, ClientTls, Destination, Token};

use crate::config::PluginPin;
use crate::secret_file::{read_public, read_secret};

/// A `url` value, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendUrl {
    /// A Unix socket or loopback TCP, in the clear.
    Plain(Address),
    /// TLS to `host` (a DNS name or an IP address) on `port`.
    Tls { host: String, port: u16 },
}

/// Reads a `url` value; the error says what is accepted and why.
pub fn parse_backend_url(url: &str) -> Result<BackendUrl, String> {
    if url.starts_with("unix:") {
        return url.parse().map(BackendUrl::Plain);
    }
    if let Some(rest) = url.strip_prefix("https://") {
        let (host, port) = host_and_port(rest).ok_or_else(|| {
            format!(
                "{url:?}: expected https://HOST:PORT with a port, as in \
                 https://agents.example.com:7443 or https://[2001:db8::1]:7443 (no path)"
            )
        })?;
        return Ok(BackendUrl::Tls { host, port });
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "{url:?} is not a backend url: use https://HOST:PORT, http://127.0.0.1:PORT \
             (loopback) or unix:PATH, where `agent-host serve` listens"
        ));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let socket = match authority.rsplit_once(':') {
        Some(("localhost", port)) => port
            .parse()
            .ok()
            .map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)),
        _ => authority.parse::<SocketAddr>().ok(),
    };
    let Some(socket) = socket.filter(|socket| socket.port() != 0) else {
        return Err(format!(
            "{url:?}: expected http://IP:PORT with a port, as in http://127.0.0.1:7070 \
             or http://[::1]:7070 (no path)"
        ));
    };
    if !socket.ip().is_loopback() {
        return Err(format!(
            "{url:?}: plain http:// goes only to this machine (a loopback address); \
             beyond it use https:// with tls_ca and a client token (token_file or \
             token_env) or certificate (tls_cert, tls_key), served by `agent-host serve \
             --tls-cert ... --tls-key ...` (docs/remote.md)"
        ));
    }
    Ok(BackendUrl::Plain(Address::Tcp(socket)))
}

/// Where and how to reach the backend at `url`, with the TLS files and the client token
/// of its `[plugins.<name>]` read now. The error starts with the field it is about.
pub(crate) fn destination(url: &str, pin: &PluginPin) -> Result<Destination, String> {
    let destination = match parse_backend_url(url).map_err(|why| format!("url: {why}"))? {
        BackendUrl::Plain(address) => Destination::plain(address),
        BackendUrl::Tls { host, port } => {
            let ca_pem = match &pin.tls_ca {
                Some(path) => Some(read_public(path, "tls_ca:")?),
                None => None,
            };
            let identity = match (&pin.tls_cert, &pin.tls_key) {
                (Some(cert), Some(key)) => Some((
                    read_public(cert, "tls_cert:")?,
                    read_secret(key, "tls_key:")?,
                )),
                _ => None,
            };
            Destination::tls(host, port, ClientTls { ca_pem, identity })
        }
    };
    let token = if let Some(path) = &pin.token_file {
        let bytes = read_secret(path, "token_file:")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("token_file: {} is not text", path.display()))?;
        Some(Token::new(&text).map_err(|why| format!("token_file: {}: {why}", path.display()))?)
    } else if let Some(var) = &pin.token_env {
        let text = std::env::var(var)
            .map_err(|_| format!("token_env: ${var} is not set (or not UTF-8)"))?;
        Some(Token::new(&text).map_err(|why| format!("token_env: ${var}: {why}"))?)
    } else {
        None
    };
    Ok(match token {
        Some(token) => destination.with_token(token),
        None => destination,
    })
}

/// `HOST:PORT` or `[IPv6]:PORT`, with an optional trailing `/`, port not 0.
fn host_and_port(authority: &str) -> Option<(String, u16)> {
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|port| *port != 0)?;
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().ok()?.to_string(),
        None => host.to_owned(),
    };
    let plain_name = |host: &str| {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    (host.contains(':') || plain_name(&host)).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_http_and_unix_sockets_are_accepted() {
        for (url, address) in [
            ("http://127.0.0.1:7070", "tcp:127.0.0.1:7070"),
            ("http://127.0.0.1:7070/", "tcp:127.0.0.1:7070"),
            ("http://localhost:7070", "tcp:127.0.0.1:7070"),
            ("http://[::1]:7070", "tcp:[::1]:7070"),
            ("unix:/run/agent.sock", "unix:/run/agent.sock"),
        ] {
            let BackendUrl::Plain(read) = parse_backend_url(url).unwrap() else {
                panic!("{url} is not plain");
            };
            assert_eq!(read.to_string(), address, "{url}");
        }
    }

    #[test]
    fn https_goes_anywhere_by_name_or_address() {
        for (url, host, port) in [
            (
                "https://agents.example.com:7443",
                "agents.example.com",
                7443,
            ),
            (
                "https://agents.example.com:7443/",
                "agents.example.com",
                7443,
            ),
            ("https://10.0.0.5:443", "10.0.0.5", 443),
            ("https://[2001:db8::1]:7443", "2001:db8::1", 7443),
        ] {
            assert_eq!(
                parse_backend_url(url).unwrap(),
                BackendUrl::Tls {
                    host: host.into(),
                    port
                },
                "{url}"
            );
        }
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        for (url, says) in [
            ("http://10.0.0.5:7070", "loopback"),
            ("http://agents.example.com:7070", "expected http://IP:PORT"),
            ("http://127.0.0.1", "with a port"),
            ("http://127.0.0.1:0", "with a port"),
            ("http://127.0.0.1:7070/v1", "no path"),
            ("https://agents.example.com", "with a port"),
            ("https://agents.example.com:7443/v1", "no path"),
            (
                "https://user@agents.example.com:7443",
                "expected https://HOST:PORT",
            ),
            ("https://[nonsense]:7443", "expected https://HOST:PORT"),
            ("ftp://127.0.0.1:7070", "not a backend url"),
        ] {
            let error = parse_backend_url(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
