//! The messages, one JSON object per line, shared by both sides.
//!
//! Flat structs rather than tagged enums: serde reads them in one pass without
//! buffering, as a lean peer would. Each message kind has a borrowing form for writing
//! (`RequestOut`, `ResponseOut`), so a line is serialized straight from the caller's data
//! into the one buffer it travels in, and an owning form for reading.
//!
//! ```text
//! → {"id":1,"op":"create_agent"}
//! → {"id":2,"op":"chat","agent":1,"text":"hello"}
//! → {"id":3,"op":"turn_count","agent":1}
//! ← {"id":1,"kind":"value","value":1}
//! ← {"id":2,"kind":"chunks","chunks":["echo",": he","llo"]}
//! ← {"id":2,"kind":"done"}
//! ← {"id":3,"kind":"value","value":1}
//! ← {"id":4,"kind":"error","message":"unknown agent 999"}
//! ```

use serde::{Deserialize, Serialize};

/// How text chunks travel from the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// One message per chunk.
    PerChunk,
    /// Every chunk that is ready, up to [`MAX_BATCH`], in one message.
    Batched,
}

/// The most chunks one batched message carries: what the host takes per ABI crossing.
pub const MAX_BATCH: usize = 1024;

impl Framing {
    /// The child's `--framing` value.
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

    /// The most chunks one message carries.
    pub fn max_chunks(self) -> usize {
        match self {
            Framing::PerChunk => 1,
            Framing::Batched => MAX_BATCH,
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Answers `value`: the new agent's id.
    CreateAgent,
    /// Answers `value`: the agent's turn count.
    TurnCount,
    /// Answers `chunks` lines, then `done` or `error`.
    Chat,
    ClearHistory,
    Delete,
}

/// A request as the child reads it: `{"id":2,"op":"chat","agent":1,"text":"hello"}`.
#[derive(Debug, Deserialize)]
pub struct Request {
    pub id: u64,
    pub op: Op,
    #[serde(default)]
    pub agent: Option<u64>,
    #[serde(default)]
    pub text: Option<String>,
}

/// A request as the client writes it, borrowing the message text.
#[derive(Debug, Serialize)]
pub struct RequestOut<'a> {
    pub id: u64,
    pub op: Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
}

/// What a response line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The answer to a request other than `chat`: `value` (an agent id, a turn count) or
    /// nothing.
    Value,
    /// Text chunks of a chat; more lines follow.
    Chunks,
    /// The chat ended well: its last line.
    Done,
    /// The request failed: `message` says why. The last line of a chat, too.
    Error,
}

/// A response as the client reads it.
#[derive(Debug, Deserialize)]
pub struct Response {
    pub id: u64,
    pub kind: Kind,
    #[serde(default)]
    pub value: Option<u64>,
    #[serde(default)]
    pub chunks: Vec<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// A response as the child writes it, borrowing the chunks and the message.
#[derive(Debug, Serialize)]
pub struct ResponseOut<'a> {
    pub id: u64,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub chunks: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
}

impl<'a> ResponseOut<'a> {
    pub fn value(id: u64, value: Option<u64>) -> Self {
        ResponseOut {
            id,
            kind: Kind::Value,
            value,
            chunks: &[],
            message: None,
        }
    }

    pub fn chunks(id: u64, chunks: &'a [String]) -> Self {
        ResponseOut {
            kind: Kind::Chunks,
            chunks,
            ..ResponseOut::value(id, None)
        }
    }

    pub fn done(id: u64) -> Self {
        ResponseOut {
            kind: Kind::Done,
            ..ResponseOut::value(id, None)
        }
    }

    pub fn error(id: u64, message: &'a str) -> Self {
        ResponseOut {
            kind: Kind::Error,
            message: Some(message),
            ..ResponseOut::value(id, None)
        }
    }

    /// One line of the wire, newline included, sized for its chunks so it is allocated
    /// once.
    pub fn to_line(&self) -> Vec<u8> {
        let text: usize = self.chunks.iter().map(|chunk| chunk.len() + 3).sum();
        to_line(self, 48 + text)
    }
}

impl RequestOut<'_> {
    /// One line of the wire, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        to_line(self, 64 + self.text.map_or(0, str::len))
    }
}

/// `message` as JSON and a newline. These types hold only strings and integers, which
/// always serialize.
fn to_line(message: &impl Serialize, capacity: usize) -> Vec<u8> {
    let mut line = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut line, message).expect("strings and integers serialize");
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back() {
        let chunks = ["ec".to_owned(), "ho \"\n".to_owned()];
        let line = ResponseOut::chunks(7, &chunks).to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&byte| byte == b'\n').count(), 1);
        let read: Response = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            (read.id, read.kind, read.chunks),
            (7, Kind::Chunks, chunks.to_vec())
        );

        let line = RequestOut {
            id: 2,
            op: Op::Chat,
            agent: Some(1),
            text: Some("hello"),
        }
        .to_line();
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "{\"id\":2,\"op\":\"chat\",\"agent\":1,\"text\":\"hello\"}\n"
        );
        let read: Request = serde_json::from_slice(&line).unwrap();
        assert_eq!((read.op, read.agent), (Op::Chat, Some(1)));
    }

    #[test]
    fn framings_round_trip_their_flags() {
        for framing in [Framing::PerChunk, Framing::Batched] {
            assert_eq!(Framing::from_flag(framing.flag()), Some(framing));
        }
        assert_eq!(Framing::from_flag("lines"), None);
    }
}
