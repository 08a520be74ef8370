//! `Error` on the wire: a code plus the fields any variant needs. An unknown code (from
//! a newer peer) becomes `Error::BackendError` with the message it carries.

use std::time::Duration;

use abi_stable::std_types::{ROption, RResult, RString};
use abi_stable::StableAbi;

use super::FfiDuration;
use crate::types::Error;

/// Error codes on the wire. New codes may be added; unknown ones become `BackendError`.
mod code {
    pub const AGENT_NOT_STARTED: u32 = 1;
    pub const BACKEND: u32 = 2;
    pub const CONNECTION: u32 = 3;
    pub const QUOTA_EXCEEDED: u32 = 4;
    pub const CHANNEL_CLOSED: u32 = 5;
    pub const CONNECTION_CLOSED: u32 = 6;
    pub const TIMEOUT: u32 = 7;
    pub const STREAM: u32 = 8;
    pub const INVALID_CONFIG: u32 = 9;
    pub const IO: u32 = 10;
    pub const CANCELLED: u32 = 11;
}

/// [`Error`] on the wire: a code plus the fields any variant needs.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiError {
    pub code: u32,
    /// The variant's text (for `Timeout`, the operation).
    pub message: RString,
    pub agent_id: u64,
    pub retry_after: ROption<FfiDuration>,
    pub duration: ROption<FfiDuration>,
}

pub type FfiResult<T> = RResult<T, FfiError>;

impl FfiError {
    fn new(code: u32, message: impl Into<RString>) -> Self {
        FfiError {
            code,
            message: message.into(),
            agent_id: 0,
            retry_after: ROption::RNone,
            duration: ROption::RNone,
        }
    }
}

impl From<Error> for FfiError {
    fn from(error: Error) -> Self {
        match error {
            Error::AgentNotStarted(agent_id) => FfiError {
                agent_id,
                ..FfiError::new(code::AGENT_NOT_STARTED, "")
            },
            Error::BackendError(message) => FfiError::new(code::BACKEND, message),
            Error::ConnectionError(message) => FfiError::new(code::CONNECTION, message),
            Error::QuotaExceeded {
                retry_after,
                message,
            } => FfiError {
                retry_after: retry_after.map(FfiDuration::from).into(),
                ..FfiError::new(code::QUOTA_EXCEEDED, message)
            },
            Error::ChannelClosed => FfiError::new(code::CHANNEL_CLOSED, ""),
            Error::ConnectionClosed => FfiError::new(code::CONNECTION_CLOSED, ""),
            Error::Timeout {
                duration,
                operation,
            } => FfiError {
                duration: ROption::RSome(duration.into()),
                ..FfiError::new(code::TIMEOUT, operation)
            },
            Error::Stream(message) => FfiError::new(code::STREAM, message),
            Error::InvalidConfig(message) => FfiError::new(code::INVALID_CONFIG, message),
            Error::Io(message) => FfiError::new(code::IO, message),
            Error::Cancelled => FfiError::new(code::CANCELLED, ""),
        }
    }
}

impl From<FfiError> for Error {
    fn from(error: FfiError) -> Self {
        let message = error.message.into_string();
        match error.code {
            code::AGENT_NOT_STARTED => Error::AgentNotStarted(error.agent_id),
            code::CONNECTION => Error::ConnectionError(message),
            code::QUOTA_EXCEEDED => Error::QuotaExceeded {
                retry_after: error.retry_after.into_option().map(Duration::from),
                message,
            },
            code::CHANNEL_CLOSED => Error::ChannelClosed,
            code::CONNECTION_CLOSED => Error::ConnectionClosed,
            code::TIMEOUT => Error::Timeout {
                duration: error.duration.map_or(Duration::ZERO, Duration::from),
                operation: message,
            },
            code::STREAM => Error::Stream(message),
            code::INVALID_CONFIG => Error::InvalidConfig(message),
            code::IO => Error::Io(message),
            code::CANCELLED => Error::Cancelled,
            // BACKEND, and codes from newer plugins that this host does not know.
            _ => Error::BackendError(message),
        }
    }
}

pub(crate) fn into_result<T, U: From<T>>(result: FfiResult<T>) -> Result<U, Error> {
    result.into_result().map(U::from).map_err(Error::from)
}

pub(crate) fn from_result<T, U: From<T>>(result: Result<T, Error>) -> FfiResult<U> {
    result.map(U::from).map_err(FfiError::from).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(error: Error) -> Error {
        FfiError::from(error).into()
    }

    #[test]
    fn every_error_survives_the_crossing() {
        let errors = [
            Error::AgentNotStarted(7),
            Error::BackendError("b".into()),
            Error::ConnectionError("c".into()),
            Error::QuotaExceeded {
                retry_after: Some(Duration::from_millis(1500)),
                message: "q".into(),
            },
            Error::QuotaExceeded {
                retry_after: None,
                message: "q".into(),
            },
            Error::ChannelClosed,
            Error::ConnectionClosed,
            Error::Timeout {
                duration: Duration::from_secs(3),
                operation: "chat".into(),
            },
            Error::Timeout {
                duration: Duration::MAX,
                operation: "chat".into(),
            },
            Error::QuotaExceeded {
                retry_after: Some(Duration::MAX),
                message: "q".into(),
            },
            Error::Stream("s".into()),
            Error::InvalidConfig("i".into()),
            Error::Io("io".into()),
            Error::Cancelled,
        ];
        for error in errors {
            assert_eq!(round_trip(error.clone()), error);
        }
    }

    #[test]
    fn unknown_codes_become_backend_errors() {
        let future = FfiError::new(999, "from a newer peer");
        assert_eq!(
            Error::from(future),
            Error::BackendError("from a newer peer".into())
        );
    }
}
