//! How long a turn's start may hold the caller's thread.
//!
//! A turn on an idle agent is first polled on the thread that called `chat` (see
//! `Agent::start_turn`). A backend that writes a long answer with no real wait (the mock
//! streaming an echo) would otherwise write all of it there, before `chat` returns and
//! before any reader could take a chunk: the whole answer buffered at once, and the
//! caller's thread held. [`consume_budget`] ends the start after a few steps, so the
//! rest streams from the plugin's threads as it is read.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Steps a start may take: as many as tokio gives a task per poll.
const START_BUDGET: u32 = 128;

thread_local! {
    /// Steps left to the start running on this thread; `None` when none runs here.
    static STARTING: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Polls a turn's start once, with a waker that does nothing (the task that takes the
/// turn over polls it again first): [`consume_budget`] inside counts against the start's
/// budget, and only against it, since the caller's own tokio budget (in-process, the
/// caller's task) says nothing about this turn.
pub(crate) fn poll_start<F: Future>(start: Pin<&mut F>) -> Poll<F::Output> {
    struct Restore(Option<u32>);
    impl Drop for Restore {
        fn drop(&mut self) {
            STARTING.with(|starting| starting.set(self.0));
        }
    }
    let _restore = Restore(STARTING.with(|starting| starting.replace(Some(START_BUDGET))));
    let mut start = tokio::task::unconstrained(start);
    Pin::new(&mut start).poll(&mut Context::from_waker(Waker::noop()))
}

/// A point where a turn that writes much without waiting lets others run: as
/// `tokio::task::consume_budget` (it yields once the task's scheduler budget is spent),
/// and, while the turn is starting on the caller's thread, it ends that start after 128
/// calls, so the rest of the turn streams from the plugin's threads.
pub async fn consume_budget() {
    let start_spent = STARTING.with(|starting| match starting.get() {
        Some(0) => true,
        Some(left) => {
            starting.set(Some(left - 1));
            false
        }
        None => false,
    });
    if start_spent {
        tokio::task::yield_now().await;
    } else {
        tokio::task::consume_budget().await;
    }
}
