//! Many text chunks in one buffer: how a backend hands over a burst of chunks without
//! one allocation per chunk. A turn's log keeps text this way from the backend to the
//! application's readers: it crosses the plugin boundary whole and shared (the plugin
//! keeps the same buffer for its history), and chunks become strings only when read.

use std::sync::Arc;

use super::TextChunk;

/// Where a reader is inside a batch: a chunk, and the byte it starts at (the end of the
/// chunk before it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TextAt {
    pub chunk: usize,
    pub byte: usize,
}

/// Text chunks packed end to end, with where each one ends.
#[derive(Default)]
pub struct TextBatch {
    storage: Storage,
}

/// Where a batch's bytes live. Only an owned batch grows; the others are shared and
/// never change, so several owners (a plugin's history, the host's handle) hold one copy.
enum Storage {
    Owned(Packed),
    /// Frozen on this side of the boundary, shared with whoever took it.
    Frozen(Arc<Packed>),
    /// Lent by the other side of the boundary, released when the last holder drops it.
    Foreign(Arc<dyn PackedTexts>),
}

impl Default for Storage {
    fn default() -> Self {
        Storage::Owned(Packed::default())
    }
}

/// The bytes and chunk ends of a batch.
#[derive(Debug, Default, Clone)]
pub(crate) struct Packed {
    pub buffer: String,
    pub ends: Vec<u32>,
}

/// Packed chunks that live elsewhere (the other side of the plugin boundary).
pub(crate) trait PackedTexts: Send + Sync {
    fn buffer(&self) -> &str;
    fn ends(&self) -> &[u32];
}

impl PackedTexts for Packed {
    fn buffer(&self) -> &str {
        &self.buffer
    }

    fn ends(&self) -> &[u32] {
        &self.ends
    }
}

impl TextBatch {
    pub fn new() -> Self {
        TextBatch::default()
    }

    pub fn with_capacity(bytes: usize, chunks: usize) -> Self {
        TextBatch::owned(Packed {
            buffer: String::with_capacity(bytes),
            ends: Vec::with_capacity(chunks),
        })
    }

    /// A batch of chunks already packed elsewhere (read off a wire): `buffer` holds them
    /// end to end and chunk i ends at byte `ends[i]`. Taken as they are, no copy; ends
    /// that go backwards, past the buffer or into a character are refused.
    pub fn from_packed(buffer: String, ends: Vec<u32>) -> Result<Self, String> {
        let mut start = 0;
        for &end in &ends {
            let end = end as usize;
            if end < start || !buffer.is_char_boundary(end) {
                return Err(format!(
                    "a chunk ends at byte {end}, after {start}, of {} bytes",
                    buffer.len()
                ));
            }
            start = end;
        }
        Ok(TextBatch::owned(Packed { buffer, ends }))
    }

    /// The batch's bytes and chunk ends, as [`from_packed`](Self::from_packed) takes
    /// them (for a wire): moved out of an owned batch, copied from a shared one.
    pub fn into_packed(self) -> (String, Vec<u32>) {
        match self.storage {
            Storage::Owned(packed) => (packed.buffer, packed.ends),
            _ => (self.as_str().to_owned(), self.ends().to_vec()),
        }
    }

    fn owned(packed: Packed) -> Self {
        TextBatch {
            storage: Storage::Owned(packed),
        }
    }

    pub(crate) fn foreign(texts: Arc<dyn PackedTexts>) -> Self {
        TextBatch {
            storage: Storage::Foreign(texts),
        }
    }

    /// The batch, made owned (copied) if it is shared, so it can grow.
    fn packed_mut(&mut self) -> &mut Packed {
        if !matches!(self.storage, Storage::Owned(_)) {
            let copy = Packed {
                buffer: self.as_str().to_owned(),
                ends: self.ends().to_vec(),
            };
            self.storage = Storage::Owned(copy);
        }
        match &mut self.storage {
            Storage::Owned(packed) => packed,
            _ => unreachable!("made owned just above"),
        }
    }

    /// Appends one chunk (a copy of its bytes, no allocation of its own).
    pub fn push(&mut self, chunk: &str) {
        let packed = self.packed_mut();
        packed.buffer.push_str(chunk);
        packed
            .ends
            .push(u32::try_from(packed.buffer.len()).unwrap_or(u32::MAX));
    }

    /// Appends every chunk of `other`, in order.
    pub fn append(&mut self, other: &TextBatch) {
        let packed = self.packed_mut();
        let offset = packed.buffer.len();
        packed.buffer.push_str(other.as_str());
        packed.ends.extend(
            other
                .ends()
                .iter()
                .map(|&end| u32::try_from(offset + end as usize).unwrap_or(u32::MAX)),
        );
    }

    /// Empties an owned batch, keeping its room; a shared one becomes a new, empty batch.
    pub(crate) fn clear(&mut self) {
        match &mut self.storage {
            Storage::Owned(packed) => {
                packed.buffer.clear();
                packed.ends.clear();
            }
            _ => *self = TextBatch::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.ends().len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends().is_empty()
    }

    /// All the chunks, concatenated.
    pub fn as_str(&self) -> &str {
        match &self.storage {
            Storage::Owned(packed) => &packed.buffer,
            Storage::Frozen(packed) => &packed.buffer,
            Storage::Foreign(texts) => texts.buffer(),
        }
    }

    fn ends(&self) -> &[u32] {
        match &self.storage {
            Storage::Owned(packed) => &packed.ends,
            Storage::Frozen(packed) => &packed.ends,
            Storage::Foreign(texts) => texts.ends(),
        }
    }

    pub fn chunks(&self) -> impl Iterator<Item = &str> {
        split_chunks(self.as_str(), self.ends())
    }

    /// The chunk at `at`, moving `at` past it. Offsets from a broken peer give empty
    /// chunks, never panics.
    pub(crate) fn next_chunk(&self, at: &mut TextAt) -> &str {
        let buffer = self.as_str();
        let start = at.byte.min(buffer.len());
        let end = self
            .ends()
            .get(at.chunk)
            .map_or(start, |&end| (end as usize).clamp(start, buffer.len()));
        at.chunk += 1;
        at.byte = end;
        buffer.get(start..end).unwrap_or_default()
    }

    /// Every chunk from `at` on, as a batch, moving `at` to the end: the whole batch
    /// shared when `at` is its start and it no longer grows, else a copy of the rest.
    pub(crate) fn take_rest(&self, at: &mut TextAt) -> TextBatch {
        let from = std::mem::replace(
            at,
            TextAt {
                chunk: self.len(),
                byte: self.as_str().len(),
            },
        );
        if from.chunk == 0 && !self.is_owned() {
            return self.clone();
        }
        let buffer = self.as_str();
        let start = from.byte.min(buffer.len());
        // A start inside a character comes only from a broken peer's ends: nothing then,
        // rather than ends that point past the copied bytes.
        let (Some(rest), Some(ends)) = (buffer.get(start..), self.ends().get(from.chunk..)) else {
            return TextBatch::new();
        };
        TextBatch::owned(Packed {
            buffer: rest.to_owned(),
            ends: ends
                .iter()
                .map(|&end| (end as usize).saturating_sub(start) as u32)
                .collect(),
        })
    }

    /// Whether this batch can still grow (it was not shared yet).
    pub(crate) fn is_owned(&self) -> bool {
        matches!(self.storage, Storage::Owned(_))
    }

    /// The chunk at `at` as a chunk of its own, moving `at` past it: shared with the
    /// batch once the batch no longer grows, else copied.
    pub(crate) fn share_chunk(&self, at: &mut TextAt) -> TextChunk {
        let chunk = self.next_chunk(at);
        let shared = match &self.storage {
            Storage::Owned(_) => return TextChunk::owned(chunk.to_owned()),
            Storage::Frozen(packed) => Arc::clone(packed) as Arc<dyn PackedTexts>,
            Storage::Foreign(texts) => Arc::clone(texts),
        };
        // `next_chunk` clamps to the buffer, so `at.byte - chunk.len()` is where it starts.
        TextChunk::shared(shared, at.byte - chunk.len(), at.byte)
    }

    /// Shares the batch from now on: it stops growing, and the result is the same bytes.
    /// A foreign batch is copied (it never happens on the side that freezes).
    pub(crate) fn freeze(&mut self) -> Arc<Packed> {
        let shared = match std::mem::take(&mut self.storage) {
            // Shared batches live as long as the answer: give back the room to grow.
            Storage::Owned(mut packed) => {
                packed.buffer.shrink_to_fit();
                packed.ends.shrink_to_fit();
                Arc::new(packed)
            }
            Storage::Frozen(shared) => shared,
            Storage::Foreign(texts) => Arc::new(Packed {
                buffer: texts.buffer().to_owned(),
                ends: texts.ends().to_vec(),
            }),
        };
        self.storage = Storage::Frozen(shared.clone());
        shared
    }
}

impl Clone for TextBatch {
    /// A clone shares a batch that no longer grows and copies a growing one.
    fn clone(&self) -> Self {
        match &self.storage {
            Storage::Frozen(shared) => TextBatch {
                storage: Storage::Frozen(shared.clone()),
            },
            Storage::Foreign(texts) => TextBatch::foreign(texts.clone()),
            Storage::Owned(_) => TextBatch::owned(Packed {
                buffer: self.as_str().to_owned(),
                ends: self.ends().to_vec(),
            }),
        }
    }
}

impl PartialEq for TextBatch {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() && self.ends() == other.ends()
    }
}

impl Eq for TextBatch {}

impl std::fmt::Debug for TextBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.chunks()).finish()
    }
}

/// A turn's whole answer as the batches it was written in, shared with the turn's log:
/// how the kit's history keeps an answer without a copy of its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedText {
    parts: Vec<Arc<Packed>>,
}

impl SharedText {
    pub(crate) fn new(parts: Vec<Arc<Packed>>) -> Self {
        SharedText { parts }
    }

    /// A text read back from elsewhere (a saved conversation), as one part.
    pub(crate) fn from_text(text: String) -> Self {
        let mut batch = TextBatch::new();
        batch.push(&text);
        SharedText::new(vec![batch.freeze()])
    }

    /// The text, in one string of its own.
    pub(crate) fn to_text(&self) -> String {
        let mut text = String::with_capacity(self.parts.iter().map(|p| p.buffer.len()).sum());
        self.parts
            .iter()
            .for_each(|part| text.push_str(&part.buffer));
        text
    }
}

/// The chunks of a packed buffer, also of one that crossed the boundary (read in place,
/// not rebuilt into a batch). Offsets that do not fall on character boundaries (only
/// from a broken peer) yield empty chunks rather than panics.
fn split_chunks<'a>(buffer: &'a str, ends: &'a [u32]) -> impl Iterator<Item = &'a str> {
    let mut start = 0usize;
    ends.iter().map(move |&end| {
        let end = (end as usize).clamp(start, buffer.len());
        let chunk = buffer.get(start..end).unwrap_or_default();
        start = end;
        chunk
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_batch_is_taken_whole_and_bad_ends_are_refused() {
        let batch = TextBatch::from_packed("héllo".into(), vec![1, 3, 3, 6]).unwrap();
        assert_eq!(batch.chunks().collect::<Vec<_>>(), ["h", "é", "", "llo"]);
        for ends in [vec![3, 1], vec![7], vec![2]] {
            assert!(TextBatch::from_packed("héllo".into(), ends).is_err());
        }
    }

    #[test]
    fn chunks_come_back_as_pushed() {
        let mut batch = TextBatch::new();
        for chunk in ["héllo", " ", "", "wörld"] {
            batch.push(chunk);
        }
        assert_eq!(batch.len(), 4);
        assert_eq!(batch.as_str(), "héllo wörld");
        assert_eq!(
            batch.chunks().collect::<Vec<_>>(),
            ["héllo", " ", "", "wörld"]
        );
    }

    #[test]
    fn appended_chunks_keep_their_bounds() {
        let mut first = TextBatch::new();
        first.push("ab");
        let mut second = TextBatch::new();
        second.push("ç");
        second.push("d");
        first.append(&second);
        assert_eq!(first.chunks().collect::<Vec<_>>(), ["ab", "ç", "d"]);
    }

    #[test]
    fn a_frozen_batch_is_shared_and_still_reads_the_same() {
        let mut batch = TextBatch::new();
        batch.push("ab");
        batch.push("c");
        let shared = batch.freeze();
        assert!(!batch.is_owned());
        assert_eq!(shared.buffer, "abc");
        let mut at = TextAt::default();
        assert_eq!(batch.next_chunk(&mut at), "ab");
        assert_eq!(batch.next_chunk(&mut at), "c");
        assert_eq!(at, TextAt { chunk: 2, byte: 3 });
        batch.push("d");
        assert!(batch.is_owned(), "a frozen batch grows as a copy");
        assert_eq!(batch.chunks().collect::<Vec<_>>(), ["ab", "c", "d"]);
        assert_eq!(shared.buffer, "abc");
        assert_eq!(
            SharedText::new(vec![shared.clone(), shared]).to_text(),
            "abcabc"
        );
    }

    #[test]
    fn the_rest_of_a_batch_is_shared_whole_or_copied_from_where_a_reader_is() {
        let mut batch = TextBatch::new();
        for chunk in ["ab", "ç", "d"] {
            batch.push(chunk);
        }
        let mut at = TextAt::default();
        batch.next_chunk(&mut at);
        let rest = batch.take_rest(&mut at);
        assert_eq!(rest.chunks().collect::<Vec<_>>(), ["ç", "d"]);
        assert_eq!(at, TextAt { chunk: 3, byte: 5 });
        assert!(batch.take_rest(&mut at).is_empty(), "nothing is left");

        let shared = batch.freeze();
        let whole = batch.take_rest(&mut TextAt::default());
        assert!(
            !whole.is_owned(),
            "a whole frozen batch is shared, not copied"
        );
        assert!(std::ptr::eq(whole.as_str(), shared.buffer.as_str()));
    }

    #[test]
    fn broken_offsets_do_not_panic() {
        assert_eq!(split_chunks("héllo", &[2, 9, 1]).count(), 3);
    }
}
