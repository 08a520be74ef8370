//! The protocol's version, and the line `agent-host serve` prints on stdout for a parent
//! process (go-plugin's way): one line, `|`-separated, read before anything else.

use std::fmt;
use std::str::FromStr;

use crate::Address;

/// The version of `proto/agent_host/runtime/v1/runtime.proto`: the major is the `v1` of
/// its package; a minor is a field or message added.
pub const PROTOCOL_VERSION: &str = "1.1.0";

/// The request metadata of a `Session` call that carries the client's protocol version.
pub const PROTOCOL_METADATA: &str = "agent-host-protocol";

/// The first field of the handshake line: what the line is.
const MAGIC: &str = "agent-host-serve";

/// What a server tells its parent on its first line of stdout:
/// `agent-host-serve|<protocol version>|<api version>|<address>|<transport>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeLine {
    pub protocol_version: String,
    pub api_version: String,
    pub address: Address,
    pub transport: Transport,
}

/// How the protocol's messages travel: gRPC, or framed on a Unix socket
/// ([`crate::framed`], for the host's own children).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    Framed,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Framed => "framed",
        }
    }
}

impl fmt::Display for HandshakeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{MAGIC}|{}|{}|{}|{}",
            self.protocol_version,
            self.api_version,
            self.address,
            self.transport.name()
        )
    }
}

impl FromStr for HandshakeLine {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, String> {
        let line = line.trim_end();
        let shown: String = line.chars().take(200).collect();
        let fields: Vec<&str> = line.split('|').collect();
        let transport = match fields.last() {
            Some(&"grpc") => Some(Transport::Grpc),
            Some(&"framed") => Some(Transport::Framed),
            _ => None,
        };
        let ([MAGIC, protocol_version, api_version, address, _], Some(transport)) =
            (&fields[..], transport)
        else {
            return Err(format!(
                "expected `{MAGIC}|<protocol>|<api>|<address>|grpc` as the first line, got `{shown}`"
            ));
        };
        check_protocol(protocol_version)?;
        let address: Address = address.parse()?;
        if transport == Transport::Framed && !matches!(address, Address::Unix(_)) {
            return Err(format!(
                "`{shown}`: the framed transport is for a unix: address"
            ));
        }
        Ok(HandshakeLine {
            protocol_version: (*protocol_version).to_owned(),
            api_version: (*api_version).to_owned(),
            address,
            transport,
        })
    }
}

/// Refuses a peer whose protocol has another major version than ours.
pub fn check_protocol(theirs: &str) -> Result<(), String> {
    let ours = semver::Version::parse(PROTOCOL_VERSION).expect("PROTOCOL_VERSION is semver");
    let theirs_parsed = semver::Version::parse(theirs)
        .map_err(|_| format!("protocol version `{theirs}` is not a version"))?;
    if theirs_parsed.major != ours.major {
        return Err(format!(
            "the other side speaks protocol {theirs}, this one {PROTOCOL_VERSION}: their \
             major versions differ"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_back() {
        let line = HandshakeLine {
            protocol_version: PROTOCOL_VERSION.into(),
            api_version: "0.2.4".into(),
            address: "unix:/tmp/x.sock".parse().unwrap(),
            transport: Transport::Grpc,
        };
        assert_eq!(line.to_string().parse::<HandshakeLine>().unwrap(), line);
        let framed = HandshakeLine {
            transport: Transport::Framed,
            ..line
        };
        assert_eq!(framed.to_string().parse::<HandshakeLine>().unwrap(), framed);
    }

    #[test]
    fn other_lines_and_majors_are_refused() {
        for line in [
            "hello",
            "agent-host-serve|1.0.0|0.2.4|unix:/x|http",
            "agent-host-serve|2.0.0|0.2.4|unix:/x|grpc",
            "agent-host-serve|one|0.2.4|unix:/x|grpc",
            "agent-host-serve|1.1.0|0.2.4|tcp:127.0.0.1:1|framed",
        ] {
            assert!(line.parse::<HandshakeLine>().is_err(), "{line}");
        }
    }
}
