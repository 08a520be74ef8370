//! Readers woken once per await of the backend, not once per event, and its text taken
//! into the log once per await, not once per chunk.
//!
//! A backend writes its events in bursts between awaits (a short turn writes all of them
//! in one poll). Waking the reader at every write woke a parked thread, often on the
//! other side of the boundary, several times per turn, and each wake-up is a context
//! switch that costs more than the whole turn's work. While the backend's future is
//! polled, writes only note that readers are owed a wake-up; it happens when the poll
//! returns, so readers see a burst at once and as early as before (a backend sees
//! nothing of it between two awaits anyway). The end of a turn wakes at once, as always.
//!
//! Text chunks written during the poll go further: they wait in a batch of this thread's
//! own, with no lock and no atomic operation per chunk, and join the turn's log when the
//! poll returns (or before any other write, so the order holds). A chunk's two atomic
//! operations on the log's lock were a quarter of a streaming backend's work.
//!
//! The caller must end the turn once the future completes (the kit always does), since
//! the wake-up owed by its last poll is left to that end.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::turn::Turn;
use super::{Cancellation, TextBatch};

/// `inner`, whose writes to the turn `watcher` watches wake readers when each poll ends.
pub(crate) fn wake_readers_per_poll<F: Future + Unpin>(
    watcher: &Cancellation,
    inner: F,
) -> HeldWakes<F> {
    HeldWakes {
        turn: watcher.turn().clone(),
        inner,
        spare: TextBatch::new(),
    }
}

pub(crate) struct HeldWakes<F> {
    turn: Arc<Turn>,
    inner: F,
    /// The held-text batch between polls, emptied, kept for its room.
    spare: TextBatch,
}

/// The turn whose writer this thread is polling, and the text written in this poll.
struct Polled {
    turn: *const Turn,
    text: TextBatch,
}

thread_local! {
    /// Set while a writer's poll runs here (polls nest: the outer one is put back after).
    static POLLED: RefCell<Option<Polled>> = const { RefCell::new(None) };
}

/// Holds `chunk` back until the poll ends if `turn`'s writer is being polled on this
/// thread; `false` if it is not (the caller writes the chunk to the log itself).
pub(crate) fn hold_text(turn: &Arc<Turn>, chunk: &str) -> bool {
    POLLED.with(|polled| match polled.try_borrow_mut().as_deref_mut() {
        Ok(Some(polled)) if std::ptr::eq(polled.turn, Arc::as_ptr(turn)) => {
            polled.text.push(chunk);
            true
        }
        _ => false,
    })
}

/// Writes the text held back so far to `turn`'s log: before any other write, so the log
/// keeps the order the backend wrote in.
pub(crate) fn flush_text(turn: &Arc<Turn>) {
    let held = POLLED.with(|polled| match polled.try_borrow_mut().as_deref_mut() {
        Ok(Some(polled)) if std::ptr::eq(polled.turn, Arc::as_ptr(turn)) => {
            (!polled.text.is_empty()).then(|| std::mem::take(&mut polled.text))
        }
        _ => None,
    });
    let Some(mut held) = held else { return };
    turn.push_text(held.chunks());
    held.clear();
    // Its room goes back for the rest of the poll.
    POLLED.with(|polled| {
        if let Ok(Some(polled)) = polled.try_borrow_mut().as_deref_mut() {
            if std::ptr::eq(polled.turn, Arc::as_ptr(turn)) {
                polled.text = held;
            }
        }
    });
}

/// Ends a poll: the held text goes to the log, and the held wake-ups are released unless
/// the inner future completed; so also when the poll panics.
struct Release<'a> {
    turn: &'a Turn,
    outer: Option<Polled>,
    spare: &'a mut TextBatch,
    completed: bool,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let ours = POLLED.with(|polled| polled.replace(self.outer.take()));
        let held = ours.map(|ours| ours.text).unwrap_or_default();
        if self.completed {
            // The wake-up is left to the end that follows; the text must be in before it.
            if !held.is_empty() {
                self.turn.push_text(held.chunks());
            }
        } else {
            self.turn.release_wakes(&held);
        }
        *self.spare = held;
        self.spare.clear();
    }
}

impl<F: Future + Unpin> Future for HeldWakes<F> {
    type Output = F::Output;

    /// When `inner` completes, the wake-up it owes is left to the end of the turn that
    /// follows (which wakes every reader): released now, it would wake the reader once
    /// for the last events and again for the end.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.turn.hold_wakes();
        let ours = Polled {
            turn: Arc::as_ptr(&this.turn),
            text: std::mem::take(&mut this.spare),
        };
        let outer = POLLED.with(|polled| polled.replace(Some(ours)));
        let mut release = Release {
            turn: &this.turn,
            outer,
            spare: &mut this.spare,
            completed: false,
        };
        let poll = Pin::new(&mut this.inner).poll(cx);
        release.completed = poll.is_ready();
        poll
    }
}

#[cfg(test)]
mod tests {
    //! Text held back per poll: through the kit, in process and across the boundary.

    use std::sync::Arc;

    use futures::StreamExt;

    use crate::host::PluginRuntime;
    use crate::kit::{AgentBackend, AgentRuntime, NoOptions, Turn};
    use crate::plugin::async_trait;
    use crate::stream::ChatEvent;
    use crate::types::{AgentConfig, Content, Error};
    use crate::Runtime;

    /// Writes text around a thought, reads its own text back, then waits and writes more;
    /// "panic" panics after its first chunk.
    struct Interleaving;

    #[async_trait]
    impl AgentBackend for Interleaving {
        const NAME: &'static str = "interleaving";
        const VERSION: &'static str = "0.0.0";
        type Options = NoOptions;
        type Agent = ();

        fn new(_: NoOptions) -> Result<Self, Error> {
            Ok(Interleaving)
        }

        fn create_agent(&self, _: &AgentConfig) -> Result<(), Error> {
            Ok(())
        }

        async fn chat(&self, _: &(), content: &Content, turn: &mut Turn) -> Result<(), Error> {
            turn.text("a")?;
            if content.to_text() == "panic" {
                panic!("after a chunk");
            }
            turn.thought("t")?;
            turn.text("b")?;
            assert_eq!(turn.text_so_far(), "ab");
            turn.text("c")?;
            tokio::task::yield_now().await;
            turn.text("d")?;
            Ok(())
        }
    }

    fn runtimes() -> Vec<(&'static str, Arc<dyn Runtime>)> {
        let crossed = PluginRuntime::in_process("interleaving", AgentRuntime::new(Interleaving));
        vec![
            ("in process", Arc::new(AgentRuntime::new(Interleaving))),
            ("through the ABI", Arc::new(crossed.unwrap())),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn held_text_keeps_its_place_among_events_and_in_the_text() {
        for (how, runtime) in runtimes() {
            let agent = runtime
                .create_agent(AgentConfig::builder("m").build())
                .await
                .unwrap();
            let handle = runtime.chat(agent, &Content::text("go")).await.unwrap();
            let events: Vec<ChatEvent> = handle.events().collect().await;
            let expected = [
                ChatEvent::Text("a".into()),
                ChatEvent::Thought("t".into()),
                ChatEvent::Text("b".into()),
                ChatEvent::Text("c".into()),
                ChatEvent::Text("d".into()),
            ];
            assert_eq!(events, expected, "{how}");
            assert_eq!(handle.text().await.unwrap().text, "abcd", "{how}");
            assert_eq!(
                runtime.last_response(agent).await.unwrap().as_deref(),
                Some("abcd"),
                "{how}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn text_held_when_the_backend_panics_is_still_read_before_the_error() {
        for (how, runtime) in runtimes() {
            let agent = runtime
                .create_agent(AgentConfig::builder("m").build())
                .await
                .unwrap();
            let handle = runtime.chat(agent, &Content::text("panic")).await.unwrap();
            let chunks: Vec<String> = handle.text_stream().collect().await;
            assert_eq!(chunks, ["a"], "{how}");
            let error = handle.text().await.unwrap_err();
            assert!(matches!(error, Error::BackendError(_)), "{how}: {error:?}");
        }
    }
}
