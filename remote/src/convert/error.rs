//! `Error` as a kind code and its fields; an unknown kind reads as a backend error.

use std::time::Duration;

use agent_plugin_api::types::Error;

use crate::proto::{self, ErrorKind};

pub(crate) fn error_to_proto(error: &Error) -> proto::Error {
    let mut out = proto::Error {
        message: error.to_string(),
        ..proto::Error::default()
    };
    let kind = match error {
        Error::AgentNotStarted(id) => {
            out.agent_id = *id;
            ErrorKind::AgentNotStarted
        }
        Error::BackendError(message) => text(&mut out, message, ErrorKind::Backend),
        Error::ConnectionError(message) => text(&mut out, message, ErrorKind::Connection),
        Error::QuotaExceeded {
            retry_after,
            message,
        } => {
            out.retry_after_ms = retry_after.map(millis);
            text(&mut out, message, ErrorKind::QuotaExceeded)
        }
        Error::ChannelClosed => ErrorKind::ChannelClosed,
        Error::ConnectionClosed => ErrorKind::ConnectionClosed,
        Error::Timeout {
            duration,
            operation,
        } => {
            out.duration_ms = millis(*duration);
            text(&mut out, operation, ErrorKind::Timeout)
        }
        Error::Stream(message) => text(&mut out, message, ErrorKind::Stream),
        Error::InvalidConfig(message) => text(&mut out, message, ErrorKind::InvalidConfig),
        Error::Io(message) => text(&mut out, message, ErrorKind::Io),
        Error::Cancelled => ErrorKind::Cancelled,
        // A kind added after this protocol version: its text as a backend error.
        _ => ErrorKind::Backend,
    };
    out.kind = kind.into();
    out
}

fn text(out: &mut proto::Error, message: &str, kind: ErrorKind) -> ErrorKind {
    message.clone_into(&mut out.message);
    kind
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn error_from_proto(error: proto::Error) -> Error {
    let message = error.message;
    match ErrorKind::try_from(error.kind).unwrap_or(ErrorKind::Unspecified) {
        ErrorKind::AgentNotStarted => Error::AgentNotStarted(error.agent_id),
        ErrorKind::Connection => Error::ConnectionError(message),
        ErrorKind::QuotaExceeded => Error::QuotaExceeded {
            retry_after: error.retry_after_ms.map(Duration::from_millis),
            message,
        },
        ErrorKind::ChannelClosed => Error::ChannelClosed,
        ErrorKind::ConnectionClosed => Error::ConnectionClosed,
        ErrorKind::Timeout => Error::Timeout {
            duration: Duration::from_millis(error.duration_ms),
            operation: message,
        },
        ErrorKind::Stream => Error::Stream(message),
        ErrorKind::InvalidConfig => Error::InvalidConfig(message),
        ErrorKind::Io => Error::Io(message),
        ErrorKind::Cancelled => Error::Cancelled,
        ErrorKind::Backend | ErrorKind::Unspecified => Error::BackendError(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_crosses_both_ways() {
        let errors = [
            Error::AgentNotStarted(7),
            Error::BackendError("model said no".into()),
            Error::ConnectionError("refused".into()),
            Error::QuotaExceeded {
                retry_after: Some(Duration::from_millis(1500)),
                message: "slow down".into(),
            },
            Error::QuotaExceeded {
                retry_after: None,
                message: "slow down".into(),
            },
            Error::ChannelClosed,
            Error::ConnectionClosed,
            Error::Timeout {
                duration: Duration::from_millis(250),
                operation: "chat".into(),
            },
            Error::Stream("cut".into()),
            Error::InvalidConfig("model is empty".into()),
            Error::Io("disk full".into()),
            Error::Cancelled,
        ];
        for error in errors {
            assert_eq!(error_from_proto(error_to_proto(&error)), error);
        }
    }

    #[test]
    fn an_unknown_kind_reads_as_a_backend_error() {
        let from_a_newer_server = proto::Error {
            kind: 99,
            message: "a kind from the future".into(),
            ..proto::Error::default()
        };
        assert_eq!(
            error_from_proto(from_a_newer_server),
            Error::BackendError("a kind from the future".into())
        );
    }
}
