//! Which panics are caught: code run by [`Tools::call`](super::Tools::call) (a tool
//! handler) panics into an error result, so a process-wide panic hook should not report
//! it as a crash. [`crate::host::panic_is_contained`] tells the hook.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    static CONTAINED: Cell<u32> = const { Cell::new(0) };
}

/// True while this thread runs code whose panics are caught and turned into errors.
pub fn panic_is_contained() -> bool {
    CONTAINED.with(|depth| depth.get() > 0)
}

/// Runs `body` marked as contained.
pub(crate) fn contained<T>(body: impl FnOnce() -> T) -> T {
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            CONTAINED.with(|depth| depth.set(depth.get() - 1));
        }
    }
    CONTAINED.with(|depth| depth.set(depth.get() + 1));
    let _unmark = Unmark;
    body()
}

/// A future whose every poll is marked as contained.
pub(crate) struct Contained<F>(pub F);

impl<F: Future + Unpin> Future for Contained<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let inner = Pin::new(&mut self.0);
        contained(|| inner.poll(cx))
    }
}
