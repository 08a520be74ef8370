//! Runs of text chunks as one `TextRun` (protocol 1.1): a 10,000-chunk answer crosses as
//! one string and its chunk ends, not as 10,000 message fields, and lands in one packed
//! batch on the client, not 10,000 strings.

use agent_plugin_api::plugin::TextBatch;
use agent_plugin_api::types::{ChatEvent, Error};

use super::{broken, event_to_proto};
use crate::proto::{self, event::Kind as EventKind};

/// A turn's events for the wire; with `pack_text`, each run of text chunks is one
/// `TextRun` (for a client of protocol 1.1 or later), else one `text` event per chunk.
pub(crate) fn events_to_proto(events: Vec<ChatEvent>, pack_text: bool) -> Vec<proto::Event> {
    let mut out = Vec::new();
    let mut run: Option<proto::TextRun> = None;
    for event in events {
        match event {
            ChatEvent::Text(text) if pack_text => {
                // A run past 4 GiB cannot say where its chunks end: start another.
                let full = run
                    .as_ref()
                    .is_some_and(|run| run.text.len() + text.len() > u32::MAX as usize);
                if full {
                    out.extend(run.take().and_then(run_event));
                }
                let run = run.get_or_insert_with(proto::TextRun::default);
                run.text.push_str(&text);
                run.ends
                    .push(u32::try_from(run.text.len()).unwrap_or(u32::MAX));
            }
            event => {
                out.extend(run.take().and_then(run_event));
                out.extend(event_to_proto(event));
            }
        }
    }
    out.extend(run.and_then(run_event));
    out
}

fn run_event(run: proto::TextRun) -> Option<proto::Event> {
    (!run.ends.is_empty()).then_some(proto::Event {
        kind: Some(EventKind::TextRun(run)),
    })
}

/// The chunks of a run, kept in the string they came in. Ends that go backwards, past
/// the text or into a character are a broken peer's, and an error.
pub(crate) fn text_run_to_batch(run: proto::TextRun) -> Result<TextBatch, Error> {
    TextBatch::from_packed(run.text, run.ends).map_err(|why| broken(format!("a text run: {why}")))
}

#[cfg(test)]
mod tests {
    use agent_plugin_api::types::Step;

    use super::*;

    #[test]
    fn runs_of_text_pack_between_other_events_and_read_back() {
        let events = vec![
            ChatEvent::Text("he".into()),
            ChatEvent::Text("llo".into()),
            ChatEvent::Step(Step::new(1, "middle")),
            ChatEvent::Text("é!".into()),
        ];
        let packed = events_to_proto(events.clone(), true);
        assert_eq!(packed.len(), 3);
        let Some(EventKind::TextRun(first)) = &packed[0].kind else {
            panic!("{packed:?}")
        };
        assert_eq!(
            (first.text.as_str(), first.ends.as_slice()),
            ("hello", &[2, 5][..])
        );
        let chunks: Vec<String> = text_run_to_batch(first.clone())
            .unwrap()
            .chunks()
            .map(str::to_owned)
            .collect();
        assert_eq!(chunks, ["he", "llo"]);
        // An older client gets a text event per chunk.
        assert_eq!(events_to_proto(events, false).len(), 4);
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
