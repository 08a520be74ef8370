//! `[plugins.<name>] url`: where a backend served by `agent-host serve` is reached.
//!
//! Plain `http://` only to a loopback address (or `unix:PATH`, a local socket): beyond
//! this machine the connection needs TLS and a client token, which are not built yet,
//! so `https://` and plain `http://` to another machine are refused with the way that
//! works today (an SSH tunnel to the server's loopback port), never spoken in the clear.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use agent_remote::Address;

/// Reads a `url` value; the error says what is accepted and why.
pub fn parse_backend_url(url: &str) -> Result<Address, String> {
    const TUNNEL: &str = "reach the server through an SSH tunnel to its loopback port \
                          (ssh -N -L 7070:127.0.0.1:7070 HOST) and use url = \
                          \"http://127.0.0.1:7070\"";
    if url.starts_with("unix:") {
        return url.parse();
    }
    if url.starts_with("https://") {
        return Err(format!(
            "{url:?}: https:// (TLS with a client token) is not built yet; {TUNNEL}"
        ));
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "{url:?} is not a backend url: use http://127.0.0.1:PORT (loopback) or \
             unix:PATH, where `agent-host serve` listens"
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
             beyond it a backend needs TLS and a client token, which are not built yet; \
             {TUNNEL}"
        ));
    }
    Ok(Address::Tcp(socket))
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
            assert_eq!(
                parse_backend_url(url).unwrap().to_string(),
                address,
                "{url}"
            );
        }
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        for (url, says) in [
            ("https://agents.example.com:443", "TLS"),
            ("http://10.0.0.5:7070", "loopback"),
            ("http://agents.example.com:7070", "expected http://IP:PORT"),
            ("http://127.0.0.1", "with a port"),
            ("http://127.0.0.1:0", "with a port"),
            ("http://127.0.0.1:7070/v1", "no path"),
            ("ftp://127.0.0.1:7070", "not a backend url"),
        ] {
            let error = parse_backend_url(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
