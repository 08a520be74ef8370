//! One text chunk as an application reads it, shared rather than copied.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::PackedTexts;

/// A text chunk of a turn, read with [`ChatResponseHandle::chunks`](super::ChatResponseHandle::chunks).
///
/// It shares the packed batch the chunk was written in (on the plugin's side of the
/// boundary, for a plugin's turn) instead of copying it: reading one costs no allocation,
/// and every reader of the turn shares the same bytes. It reads as a `&str`; keeping one
/// keeps its whole batch (at most a few KB) alive, so turn it into a `String` to keep a
/// chunk for long.
#[derive(Clone)]
pub struct TextChunk {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// `start..end` of a batch that no longer changes.
    Shared {
        texts: Arc<dyn PackedTexts>,
        start: usize,
        end: usize,
    },
    /// A chunk read before its batch stopped growing, or written as an event of its own.
    Owned(String),
}

impl TextChunk {
    pub(crate) fn shared(texts: Arc<dyn PackedTexts>, start: usize, end: usize) -> Self {
        TextChunk {
            repr: Repr::Shared { texts, start, end },
        }
    }

    pub(crate) fn owned(text: String) -> Self {
        TextChunk {
            repr: Repr::Owned(text),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.repr {
            // The bounds come from `TextBatch::next_chunk`, which keeps them on the buffer
            // and on character boundaries; `get` keeps a broken peer's from panicking.
            Repr::Shared { texts, start, end } => {
                texts.buffer().get(*start..*end).unwrap_or_default()
            }
            Repr::Owned(text) => text,
        }
    }
}

impl Deref for TextChunk {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for TextChunk {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<TextChunk> for String {
    fn from(chunk: TextChunk) -> String {
        match chunk.repr {
            Repr::Owned(text) => text,
            Repr::Shared { .. } => chunk.as_str().to_owned(),
        }
    }
}

impl fmt::Display for TextChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TextChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for TextChunk {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for TextChunk {}

impl PartialEq<str> for TextChunk {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for TextChunk {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
