//! Runs of text chunks as one `TextRun` (protocol 1.1): a 10,000-chunk answer crosses as
//! one string and its chunk ends, not as 10,000 message fields, and lands in one packed
//! batch on the client, not 10,000 strings.

use agent_plugin_api::plugin::TextBatch;
use agent_plugin_api::types::{Error, PackedEvent};

use super::{broken, event_to_proto};
use crate::proto::{self, event::Kind as EventKind};

/// A turn's events for the wire; with `pack_text`, each run of text chunks is one
/// `TextRun` (for a client of protocol 1.1 or later), else one `text` event per chunk.
/// Text comes as the turn's own batches: a run is built from them with at most one copy
/// of the bytes, never a string per chunk.
pub(crate) fn events_to_proto(events: Vec<PackedEvent>, pack_text: bool) -> Vec<proto::Event> {
    let mut out = Vec::new();
    let mut run = TextBatch::new();
    for event in events {
        match event {
            PackedEvent::Texts(batch) if pack_text => {
                // A run past 4 GiB cannot say where its chunks end: start another.
                if run.as_str().len() + batch.as_str().len() > u32::MAX as usize {
                    out.extend(run_event(&mut run));
                }
                // A run's first batch is taken as it is: an owned one (a copy already,
                // of a batch still growing) moves onto the wire without another copy.
                if run.is_empty() {
                    run = batch;
                } else {
                    run.append(&batch);
                }
            }
            PackedEvent::Texts(batch) => out.extend(batch.chunks().map(|chunk| proto::Event {
                kind: Some(EventKind::Text(chunk.to_owned())),
            })),
            PackedEvent::Event(event) => {
                out.extend(run_event(&mut run));
                out.extend(event_to_proto(event));
            }
            // A kind this build does not know cannot be sent.
            _ => {}
        }
    }
    out.extend(run_event(&mut run));
    out
}

/// The run so far as one event, if it has chunks, leaving it empty.
fn run_event(run: &mut TextBatch) -> Option<proto::Event> {
    if run.is_empty() {
        return None;
    }
    let (text, ends) = std::mem::take(run).into_packed();
    Some(proto::Event {
        kind: Some(EventKind::TextRun(proto::TextRun { text, ends })),
    })
}

/// The chunks of a run, kept in the string they came in. Ends that go backwards, past
/// the text or into a character are a broken peer's, and an error.
pub(crate) fn text_run_to_batch(run: proto::TextRun) -> Result<TextBatch, Error> {
    TextBatch::from_packed(run.text, run.ends).map_err(|why| broken(format!("a text run: {why}")))
}

#[cfg(test)]
mod tests {
    use agent_plugin_api::types::{ChatEvent, Step};

    use super::*;

    #[test]
    fn runs_of_text_pack_between_other_events_and_read_back() {
        let texts = |chunks: &[&str]| {
            let mut batch = TextBatch::new();
            chunks.iter().for_each(|chunk| batch.push(chunk));
            PackedEvent::Texts(batch)
        };
        let events = vec![
            texts(&["he"]),
            texts(&["l", "lo"]),
            PackedEvent::Event(ChatEvent::Step(Step::new(1, "middle"))),
            texts(&["é!"]),
        ];
        let packed = events_to_proto(events.clone(), true);
        assert_eq!(packed.len(), 3);
        let Some(EventKind::TextRun(first)) = &packed[0].kind else {
            panic!("{packed:?}")
        };
        assert_eq!(
            (first.text.as_str(), first.ends.as_slice()),
            ("hello", &[2, 3, 5][..])
        );
        let chunks: Vec<String> = text_run_to_batch(first.clone())
            .unwrap()
            .chunks()
            .map(str::to_owned)
            .collect();
        assert_eq!(chunks, ["he", "l", "lo"]);
        // An older client gets a text event per chunk.
        assert_eq!(events_to_proto(events, false).len(), 5);
    }

    #[test]
    fn broken_ends_are_an_error() {
        for ends in [vec![3, 2], vec![9], vec![1]] {
            let run = proto::TextRun {
                text: "éa".into(),
                ends,
            };
            let ends = run.ends.clone();
            assert!(text_run_to_batch(run).is_err(), "{ends:?}");
        }
    }
}
