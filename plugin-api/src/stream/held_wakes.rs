//! Readers woken once per await of the backend, not once per event.
//!
//! A backend writes its events in bursts between awaits (a short turn writes all of them
//! in one poll). Waking the reader at every write woke a parked thread, often on the
//! other side of the boundary, several times per turn, and each wake-up is a context
//! switch that costs more than the whole turn's work. While the backend's future is
//! polled, writes only note that readers are owed a wake-up; it happens when the poll
//! returns, so readers see a burst at once and as early as before (a backend sees
//! nothing of it between two awaits anyway). The end of a turn wakes at once, as always.
//!
//! The caller must end the turn once the future completes (the kit always does), since
//! the wake-up owed by its last poll is left to that end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::turn::Turn;
use super::Cancellation;

/// `inner`, whose writes to the turn `watcher` watches wake readers when each poll ends.
pub(crate) fn wake_readers_per_poll<F: Future + Unpin>(
    watcher: &Cancellation,
    inner: F,
) -> HeldWakes<F> {
    HeldWakes {
        turn: watcher.turn().clone(),
        inner,
    }
}

pub(crate) struct HeldWakes<F> {
    turn: Arc<Turn>,
    inner: F,
}

/// Releases the held wake-ups unless disarmed; so also when the poll panics.
struct Release<'a>(Option<&'a Turn>);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if let Some(turn) = self.0 {
            turn.release_wakes();
        }
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
        let mut release = Release(Some(&this.turn));
        let poll = Pin::new(&mut this.inner).poll(cx);
        if poll.is_ready() {
            release.0 = None;
        }
        poll
    }
}
