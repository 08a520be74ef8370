//! A turn, from `chat` to its end: the reply that it started, its events in batches of
//! whatever is ready, then its end. A cancel from the client cancels the handle, and the
//! end (`Cancelled`) is still sent.

use std::sync::Arc;

use agent_plugin_api::types::Error;
use futures::StreamExt;
use tokio::sync::Notify;

use super::session::{failed, Session};
use crate::batches::ready_batches;
use crate::convert::{content_from_proto, error_to_proto, events_to_proto, result_to_proto};
use crate::proto::reply::Outcome;
use crate::proto::{self, server_item, turn_end};

/// At most this many events go in one batch (a run of text chunks that came together
/// counts as one).
const MAX_EVENTS: usize = 1024;

pub(super) async fn run(session: Arc<Session>, turn_id: u64, chat: proto::Chat) {
    let content = match content_from_proto(chat.content.unwrap_or_default()) {
        Ok(content) => content,
        Err(error) => return session.reply(turn_id, failed(error)),
    };
    // Registered before the turn starts, so a cancel that overtakes the reply is kept.
    let cancel = Arc::new(Notify::new());
    if !session.register_turn(turn_id, cancel.clone()) {
        return session.reply(turn_id, failed(Error::ConnectionClosed));
    }
    let handle = match session.runtime().chat(chat.agent_id, &content).await {
        Ok(handle) => handle,
        Err(error) => {
            session.turn_ended(turn_id);
            return session.reply(turn_id, failed(error));
        }
    };
    session.reply(turn_id, Outcome::Done(proto::Nothing {}));
    let mut events = ready_batches(handle.packed_events(), MAX_EVENTS);
    let mut cancelled = false;
    loop {
        tokio::select! {
            batch = events.next() => match batch {
                Some(batch) => session.send(server_item::Item::TurnEvents(proto::TurnEvents {
                    turn_id,
                    events: events_to_proto(batch, session.packs_text()),
                })),
                None => break,
            },
            () = cancel.notified(), if !cancelled => {
                cancelled = true;
                handle.cancel();
            }
        }
    }
    let outcome = match handle.text().await {
        Ok(result) => turn_end::Outcome::Result(result_to_proto(&result)),
        Err(error) => turn_end::Outcome::Error(error_to_proto(&error)),
    };
    session.turn_ended(turn_id);
    session.send(server_item::Item::TurnEnd(proto::TurnEnd {
        turn_id,
        outcome: Some(outcome),
    }));
}
