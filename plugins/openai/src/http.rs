//! Sending one round's request and classifying what came back: the answer's stream, a
//! quota refusal, a failure worth another try, or one that is final.

use std::time::Duration;

use agent_plugin_api::types::Error;
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Why a request brought no stream.
#[derive(Debug)]
pub enum Failure {
    /// HTTP 429: the server's retry hint, and its message.
    Quota {
        retry_after: Option<Duration>,
        message: String,
    },
    /// A 5xx, a refused or dropped connection, no first byte in time.
    Retryable(Error),
    /// Anything else (a 4xx): the server's message.
    Final(Error),
}

/// A 429's retry hint: `retry-after-ms` (OpenAI's), else `Retry-After` in seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|value| value.is_finite() && *value >= 0.0)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    number("retry-after").map(|seconds| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// The server's own words: `error.message` of a JSON body, else the body's start.
pub fn server_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|json| {
        json.pointer("/error/message")
            .or_else(|| json.get("message"))
            .or_else(|| json.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let message = from_json.unwrap_or_else(|| body.trim().to_owned());
    let mut shown: String = message.chars().take(500).collect();
    if shown.len() < message.len() {
        shown.push_str("...");
    }
    if shown.is_empty() {
        "(no message)".to_owned()
    } else {
        shown
    }
}

/// Sorts a response that is not a stream into a [`Failure`].
pub async fn classify(response: Response) -> Failure {
    let status = response.status();
    let hint = retry_after(response.headers());
    // A body read has its own bound: a server that never ends one must not hold the turn.
    let body = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let message = server_message(&body);
    if status == StatusCode::TOO_MANY_REQUESTS {
        Failure::Quota {
            retry_after: hint,
            message: format!("the server answered 429: {message}"),
        }
    } else if status.is_server_error() {
        Failure::Retryable(Error::ConnectionError(format!(
            "the server answered {status}: {message}"
        )))
    } else {
        Failure::Final(Error::BackendError(format!(
            "the server answered {status}: {message}"
        )))
    }
}

/// A transport error from reqwest as the plugin reports it.
pub fn transport(error: &reqwest::Error) -> Failure {
    // The error's own text names the URL; its causes say what went wrong
    // ("Connection refused"), so they are kept.
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_builder() {
        Failure::Final(Error::InvalidConfig(text))
    } else {
        Failure::Retryable(Error::ConnectionError(text))
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retry_hints_in_milliseconds_win_over_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after-ms", HeaderValue::from_static("-5"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn the_servers_message_is_taken_from_its_json() {
        assert_eq!(
            server_message(r#"{"error": {"message": "model not found", "type": "x"}}"#),
            "model not found"
        );
        assert_eq!(server_message("  plain words "), "plain words");
        assert!(server_message(&"x".repeat(2000)).ends_with("..."));
    }
}
