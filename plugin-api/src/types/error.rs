use std::time::Duration;

use super::AgentId;

/// Everything a `Runtime` call can fail with.
///
/// Non-exhaustive so that later versions can add variants; an error code unknown to
/// this version arrives as [`Error::BackendError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("agent {0} is not started (never created, or shut down)")]
    AgentNotStarted(AgentId),
    #[error("backend error: {0}")]
    BackendError(String),
    #[error("connection error: {0}")]
    ConnectionError(String),
    #[error("quota exceeded{}: {message}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    QuotaExceeded {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("channel closed")]
    ChannelClosed,
    #[error("connection closed")]
    ConnectionClosed,
    #[error("{operation} timed out after {duration:?}")]
    Timeout {
        duration: Duration,
        operation: String,
    },
    #[error("stream error: {0}")]
    Stream(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("I/O error: {0}")]
    Io(String),
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// Worth retrying the same call later: transient transport trouble or a quota.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionError(_)
                | Error::ConnectionClosed
                | Error::Timeout { .. }
                | Error::QuotaExceeded { .. }
        )
    }

    pub fn is_quota_error(&self) -> bool {
        matches!(self, Error::QuotaExceeded { .. })
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Io(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let quota = Error::QuotaExceeded {
            retry_after: Some(Duration::from_secs(1)),
            message: "slow down".into(),
        };
        assert!(quota.is_quota_error() && quota.is_retryable());
        assert!(!Error::Cancelled.is_retryable());
        assert!(Error::ConnectionClosed.is_retryable());
        assert_eq!(
            quota.to_string(),
            "quota exceeded (retry after 1s): slow down"
        );
    }
}
