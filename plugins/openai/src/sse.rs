//! Server-sent events, as chat completions stream them: `data: <json>` lines, events
//! separated by a blank line, `data: [DONE]` at the end.

/// Splits a byte stream into the `data` of each event. Bytes arrive in arbitrary pieces;
/// an event is complete at its blank line.
#[derive(Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
}

/// What one complete event said.
#[derive(Debug, PartialEq, Eq)]
pub enum SseEvent {
    Data(String),
    Done,
}

/// The most a single event may hold: a server that never ends its line must not grow
/// memory without bound.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

impl SseDecoder {
    /// Feeds `bytes`; returns the events they complete, or an error for an event over
    /// [`MAX_EVENT_BYTES`] or not UTF-8.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = find_event_end(&self.pending) {
            let (event_len, separator_len) = end;
            let raw: Vec<u8> = self.pending.drain(..event_len + separator_len).collect();
            let text = std::str::from_utf8(&raw[..event_len])
                .map_err(|_| "a streamed event is not UTF-8".to_owned())?;
            if let Some(event) = parse_event(text) {
                events.push(event);
            }
        }
        if self.pending.len() > MAX_EVENT_BYTES {
            return Err(format!(
                "a streamed event is over {} MB",
                MAX_EVENT_BYTES / 1024 / 1024
            ));
        }
        Ok(events)
    }
}

/// Where the first event ends: its length and its separator's (`\n\n` or `\r\n\r\n`).
fn find_event_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let lf = bytes
        .windows(2)
        .position(|pair| pair == b"\n\n")
        .map(|at| (at, 2));
    let crlf = bytes
        .windows(4)
        .position(|quad| quad == b"\r\n\r\n")
        .map(|at| (at, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The event's `data` lines joined; comments (`:`) and other fields are ignored.
fn parse_event(text: &str) -> Option<SseEvent> {
    let mut data: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut data {
                Some(joined) => {
                    joined.push('\n');
                    joined.push_str(value);
                }
                None => data = Some(value.to_owned()),
            }
        }
    }
    let data = data?;
    Some(if data.trim() == "[DONE]" {
        SseEvent::Done
    } else {
        SseEvent::Data(data)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_put_back_together() {
        let stream = b"data: {\"a\":1}\n\n: keep-alive\n\ndata: {\"b\":\r\n\r\ndata: [DONE]\n\n";
        for split in 1..stream.len() {
            let mut decoder = SseDecoder::default();
            let mut events = decoder.feed(&stream[..split]).unwrap();
            events.extend(decoder.feed(&stream[split..]).unwrap());
            assert_eq!(
                events,
                [
                    SseEvent::Data("{\"a\":1}".into()),
                    SseEvent::Data("{\"b\":".into()),
                    SseEvent::Done
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn an_endless_event_is_an_error() {
        let mut decoder = SseDecoder::default();
        let line = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert!(decoder.feed(&line).is_err());
    }
}
