//! Many text chunks in one buffer: how a backend hands over a burst of chunks without
//! one allocation per chunk on its own thread. The batch crosses the plugin boundary
//! whole; chunks become separate events only where they are read.

/// Text chunks packed end to end, with where each one ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextBatch {
    buffer: String,
    ends: Vec<u32>,
}

impl TextBatch {
    pub fn new() -> Self {
        TextBatch::default()
    }

    pub fn with_capacity(bytes: usize, chunks: usize) -> Self {
        TextBatch {
            buffer: String::with_capacity(bytes),
            ends: Vec::with_capacity(chunks),
        }
    }

    /// Appends one chunk (a copy of its bytes, no allocation of its own).
    pub fn push(&mut self, chunk: &str) {
        self.buffer.push_str(chunk);
        self.ends
            .push(u32::try_from(self.buffer.len()).unwrap_or(u32::MAX));
    }

    /// Appends every chunk of `other`, in order.
    pub fn append(&mut self, other: &TextBatch) {
        let offset = self.buffer.len();
        self.buffer.push_str(&other.buffer);
        self.ends.extend(
            other
                .ends
                .iter()
                .map(|&end| u32::try_from(offset + end as usize).unwrap_or(u32::MAX)),
        );
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// All the chunks, concatenated.
    pub fn as_str(&self) -> &str {
        &self.buffer
    }

    pub fn chunks(&self) -> impl Iterator<Item = &str> {
        split_chunks(&self.buffer, &self.ends)
    }

    pub(crate) fn into_parts(self) -> (String, Vec<u32>) {
        (self.buffer, self.ends)
    }
}

/// The chunks of a packed buffer, also of one that crossed the boundary (read in place,
/// not rebuilt into a batch). Offsets that do not fall on character boundaries (only
/// from a broken peer) yield empty chunks rather than panics.
pub(crate) fn split_chunks<'a>(buffer: &'a str, ends: &'a [u32]) -> impl Iterator<Item = &'a str> {
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
    fn broken_offsets_do_not_panic() {
        assert_eq!(split_chunks("héllo", &[2, 9, 1]).count(), 3);
    }
}
