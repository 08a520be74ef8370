//! The messages, one JSON object per line. Flat structs rather than tagged enums: serde
//! reads them without buffering, as a lean peer would.

use serde::{Deserialize, Serialize};

/// How text chunks travel from the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One message per chunk.
    PerChunk,
    /// Every chunk that is ready, up to 1,024, in one message.
    Batched,
}

impl Framing {
    pub fn flag(self) -> &'static str {
        match self {
            Framing::PerChunk => "per-chunk",
            Framing::Batched => "batched",
        }
    }

    pub fn from_flag(flag: &str) -> Option<Framing> {
        match flag {
            "per-chunk" => Some(Framing::PerChunk),
            "batched" => Some(Framing::Batched),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    CreateAgent,
    TurnCount,
    Chat,
    ClearHistory,
    Delete,
}

/// `{"id":7,"op":"chat","agent":1,"text":"hello"}`
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An answer: `value` (an agent id, a turn count) or nothing.
    Value,
    /// Text chunks of a chat; more follow.
    Chunks,
    /// The chat ended well.
    Done,
    Error,
}

/// `{"id":7,"kind":"chunks","chunks":["ec","ho"]}`, `{"id":7,"kind":"done"}`,
/// `{"id":3,"kind":"value","value":2}`, `{"id":4,"kind":"error","message":"..."}`
#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    pub id: u64,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Response {
    pub fn value(id: u64, value: Option<u64>) -> Response {
        Response {
            id,
            kind: Kind::Value,
            value,
            chunks: Vec::new(),
            message: None,
        }
    }

    pub fn chunks(id: u64, chunks: Vec<String>) -> Response {
        Response {
            kind: Kind::Chunks,
            chunks,
            ..Response::value(id, None)
        }
    }

    pub fn done(id: u64) -> Response {
        Response {
            kind: Kind::Done,
            ..Response::value(id, None)
        }
    }

    pub fn error(id: u64, message: impl Into<String>) -> Response {
        Response {
            kind: Kind::Error,
            message: Some(message.into()),
            ..Response::value(id, None)
        }
    }

    /// One line of the wire.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a response serializes");
        line.push(b'\n');
        line
    }
}

impl Request {
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a request serializes");
        line.push(b'\n');
        line
    }
}
