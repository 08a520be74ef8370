//! Coalesced wake-ups for the ends of turns, for a backend thread that ends many turns
//! in one go.
//!
//! Why: waking a reader whose thread is parked costs the writing thread a system call,
//! and the reader's thread a park and an unpark, per wake-up. A backend that ends a
//! hundred turns in one pass of its event loop would pay that a hundred times, while the
//! reader, once awake, finds several turns done. So a thread may [`hold`] the wake-ups
//! that the turns it ends cause and [`release`] them together: when enough are held, and
//! whenever the thread is about to wait (an event loop: before every wait for I/O).
//!
//! - The first turn to end after a release wakes its readers at once: a lone turn is
//!   never delayed, and the reader starts on a burst while the rest of it is held.
//! - Only the end of a turn is held: text and events written while a turn goes on wake
//!   its readers as they come (for a backend on the kit, once per poll of its future,
//!   see `held_wakes`), as they are spread over the turn and wanted as they come.
//! - Threads that do not hold wake readers at once, as usual.
//!
//! Separately, [`after`] defers the wake-ups of the turns a synchronous block ends to
//! the end of that block: the kit ends a turn while it holds its agent's lock, and a
//! reader woken then would run straight into that lock (a blocked thread, and a second
//! wake-up to unblock it) as it starts its next turn.

use std::cell::{Cell, RefCell};
use std::task::Waker;

thread_local! {
    /// How many wake-ups this thread holds at most; 0: it does not hold them.
    static MAX_HELD: Cell<usize> = const { Cell::new(0) };
    static HELD: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
    /// Nothing was woken since the last release: the next wake-up goes out at once.
    static QUIET: Cell<bool> = const { Cell::new(true) };
    /// Inside [`after`]: wake-ups wait in `DEFERRED` until it returns.
    static DEFERRING: Cell<bool> = const { Cell::new(false) };
    static DEFERRED: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Runs `body`; the readers of the turns it ends are woken when it returns (or unwinds).
pub(crate) fn after<T>(body: impl FnOnce() -> T) -> T {
    struct WakeDeferred;
    impl Drop for WakeDeferred {
        fn drop(&mut self) {
            DEFERRING.with(|deferring| deferring.set(false));
            let deferred = DEFERRED.with(|deferred| std::mem::take(&mut *deferred.borrow_mut()));
            wake_all(deferred);
        }
    }
    if DEFERRING.with(|deferring| deferring.replace(true)) {
        // Already inside one: the outer block wakes them all.
        return body();
    }
    let _wake = WakeDeferred;
    body()
}

/// From now on, the wake-ups of turns ended on this thread, but the first after each
/// release, are held until [`release`], or until `max_held` are held (then all go out).
pub fn hold(max_held: usize) {
    MAX_HELD.with(|max| max.set(max_held));
}

/// Wakes every reader held on this thread.
pub fn release() {
    QUIET.with(|quiet| quiet.set(true));
    let held = HELD.with(|held| std::mem::take(&mut *held.borrow_mut()));
    held.into_iter().for_each(Waker::wake);
}

/// Wakes `wakers`, now or with the next release if this thread [`hold`]s its wake-ups.
pub(crate) fn wake_all(wakers: impl IntoIterator<Item = Waker>) {
    let mut wakers = wakers.into_iter().peekable();
    if wakers.peek().is_none() {
        return;
    }
    if DEFERRING.with(Cell::get) {
        DEFERRED.with(|deferred| deferred.borrow_mut().extend(wakers));
        return;
    }
    let max_held = MAX_HELD.with(Cell::get);
    if max_held == 0 || QUIET.with(|quiet| quiet.replace(false)) {
        wakers.for_each(Waker::wake);
        return;
    }
    let full = HELD.with(|held| {
        let mut held = held.borrow_mut();
        held.extend(wakers);
        held.len() >= max_held
    });
    if full {
        release();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn held_wakeups_go_out_together_on_the_holding_thread_only() {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let woken = || counter.0.load(Ordering::SeqCst);

        wake_all(vec![waker.clone()]);
        assert_eq!(woken(), 1, "a thread that does not hold wakes at once");

        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    hold(3);
                    wake_all(vec![waker.clone()]);
                    assert_eq!(woken(), 2, "the first after a quiet spell goes at once");
                    wake_all(vec![waker.clone()]);
                    wake_all(vec![waker.clone()]);
                    assert_eq!(woken(), 2, "the next ones are held until released");
                    release();
                    assert_eq!(woken(), 4);
                    release();
                    assert_eq!(woken(), 4, "each held wake-up goes out once");

                    wake_all(vec![waker.clone()]);
                    assert_eq!(woken(), 5);
                    wake_all(vec![waker.clone(), waker.clone()]);
                    assert_eq!(woken(), 5);
                    wake_all(vec![waker.clone()]);
                    assert_eq!(woken(), 8, "the wake-up that fills the hold releases all");
                })
                .join()
                .unwrap();
        });

        wake_all(vec![waker.clone()]);
        assert_eq!(woken(), 9, "the holding thread was the other one");
    }

    #[test]
    fn wakeups_inside_after_go_out_when_it_returns_or_unwinds() {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let woken = || counter.0.load(Ordering::SeqCst);

        let answer = after(|| {
            wake_all(vec![waker.clone()]);
            after(|| wake_all(vec![waker.clone()]));
            assert_eq!(woken(), 0, "deferred, also from a nested block");
            7
        });
        assert_eq!((answer, woken()), (7, 2));

        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            after(|| {
                wake_all(vec![waker.clone()]);
                panic!("the body fails");
            })
        }));
        assert!(unwound.is_err());
        assert_eq!(woken(), 3, "a panicking body still wakes");
        wake_all(vec![waker.clone()]);
        assert_eq!(woken(), 4, "and after it, wake-ups go out at once again");
    }

    #[test]
    fn only_the_end_of_a_turn_is_held() {
        use futures::StreamExt;
        use std::task::{Context, Poll};

        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let woken = || counter.0.load(Ordering::SeqCst);
        let (mut sender, handle) = crate::stream::channel();
        let mut texts = handle.text_stream();
        let mut wait = || {
            let mut cx = Context::from_waker(&waker);
            texts.poll_next_unpin(&mut cx)
        };
        assert!(wait().is_pending());
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    hold(16);
                    sender.text("mid-turn");
                    assert_eq!(woken(), 1, "text during the turn wakes at once");
                })
                .join()
                .unwrap();
        });
        assert_eq!(wait(), Poll::Ready(Some("mid-turn".to_owned())));
        assert!(wait().is_pending());
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    hold(16);
                    let (other_sender, other) = crate::stream::channel();
                    let mut other_texts = other.text_stream();
                    let mut cx = Context::from_waker(&waker);
                    assert!(other_texts.poll_next_unpin(&mut cx).is_pending());
                    other_sender.complete(Default::default(), None);
                    assert_eq!(
                        woken(),
                        2,
                        "the first end after a quiet spell wakes at once"
                    );
                    sender.complete(Default::default(), None);
                    assert_eq!(woken(), 2, "the next end waits for the release");
                    release();
                    assert_eq!(woken(), 3);
                })
                .join()
                .unwrap();
        });
        assert_eq!(wait(), Poll::Ready(None));
    }
}
