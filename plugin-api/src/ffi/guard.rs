//! Panic containment and the plugin's own tokio context, applied to every crossing.
//!
//! A panic must never unwind across the boundary (abi_stable aborts the process), and a
//! plugin's tokio is a separate copy that has no reactor on the host's threads. So every
//! exported body runs under `catch_unwind`, and every exported future is polled inside
//! the plugin runtime's context and under `catch_unwind`.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use async_ffi::{FfiFuture, FutureExt};

use super::data::{FfiError, FfiResult};
use crate::types::Error;

/// Turns a panic payload into readable text.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned())
}

pub(crate) fn panic_error(plugin: &str, payload: &(dyn Any + Send)) -> Error {
    Error::BackendError(format!(
        "plugin {plugin} panicked: {}",
        panic_message(payload)
    ))
}

/// What an exported call returns when the plugin panicked.
pub(crate) trait FromPanic {
    fn from_panic(error: Error) -> Self;
}

impl<T> FromPanic for FfiResult<T> {
    fn from_panic(error: Error) -> Self {
        FfiResult::RErr(FfiError::from(error))
    }
}

impl FromPanic for () {
    fn from_panic(_: Error) -> Self {}
}

impl FromPanic for bool {
    fn from_panic(_: Error) -> Self {
        false
    }
}

/// The executor a plugin owns: one per loaded library (each `cdylib` has its own copy of
/// this static), started on first use.
fn plugin_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("agent-plugin-worker")
            .enable_all()
            .build()
            .expect("cannot start the plugin's tokio runtime")
    })
}

/// Where plugin code runs: which plugin (for error messages) and its tokio runtime.
/// Both are static, so copying a context (once per call) costs no reference count.
#[derive(Clone, Copy)]
pub(crate) struct PluginContext {
    pub(crate) plugin: &'static str,
    runtime: &'static tokio::runtime::Runtime,
}

impl PluginContext {
    pub(crate) fn new(plugin: &'static str) -> Result<Self, Error> {
        let runtime = catch_unwind(plugin_runtime)
            .map_err(|payload| panic_error(plugin, payload.as_ref()))?;
        Ok(PluginContext { plugin, runtime })
    }

    /// Runs a synchronous body inside the plugin: in its runtime context, panics contained.
    pub(crate) fn call<T>(&self, body: impl FnOnce() -> T) -> Result<T, Error> {
        let _entered = self.runtime.enter();
        catch_unwind(AssertUnwindSafe(body))
            .map_err(|payload| panic_error(self.plugin, payload.as_ref()))
    }

    /// Wraps a plugin future for export: polled (and dropped) inside the plugin's runtime
    /// context, a panic becomes an error value, and dropping it cancels the work. The
    /// future lives inside the one box `FfiFuture` makes: one allocation per call.
    pub(crate) fn future<F>(&self, future: F) -> FfiFuture<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: FromPanic + Send + 'static,
    {
        ContainedFuture {
            context: *self,
            inner: Some(future),
        }
        .into_ffi()
    }
}

/// `inner` is `None` once it finished or panicked: it was dropped in place then, inside
/// the runtime context the poll had entered, so dropping the wrapper enters no context.
struct ContainedFuture<F> {
    context: PluginContext,
    inner: Option<F>,
}

impl<F> Future for ContainedFuture<F>
where
    F: Future,
    F::Output: FromPanic,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self` (it is
        // only polled through this projection, and dropped in place by assigning `None`
        // to it, here or in `drop`), and `ContainedFuture` is not `Unpin` when `F` is not.
        let this = unsafe { self.get_unchecked_mut() };
        let plugin = this.context.plugin;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(F::Output::from_panic(Error::BackendError(format!(
                "plugin {plugin}: future polled after it ended"
            ))));
        };
        let _entered = this.context.runtime.enter();
        // SAFETY: see above; `inner` stays where it is until it is dropped in place.
        let inner = unsafe { Pin::new_unchecked(inner) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                let _ = catch_unwind(AssertUnwindSafe(|| this.inner = None));
                Poll::Ready(output)
            }
            Err(payload) => {
                let error = panic_error(plugin, payload.as_ref());
                // Whatever the future held is dropped here, in place, still inside the guard.
                let _ = catch_unwind(AssertUnwindSafe(|| this.inner = None));
                Poll::Ready(F::Output::from_panic(error))
            }
        }
    }
}

impl<F> Drop for ContainedFuture<F> {
    fn drop(&mut self) {
        if self.inner.is_none() {
            return;
        }
        let _entered = self.context.runtime.enter();
        // Assigning drops the future in place, as a pinned value must be.
        let _ = catch_unwind(AssertUnwindSafe(|| self.inner = None));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ffi::data::FfiResult;

    #[test]
    fn a_finished_future_is_dropped_at_once_and_a_later_poll_is_an_error() {
        let context = PluginContext::new("guarded").unwrap();
        let held = Arc::new(());
        let kept = held.clone();
        let mut future = context.future(async move {
            let _kept = kept;
            FfiResult::<u32>::ROk(7)
        });
        futures::executor::block_on(async {
            assert!(matches!((&mut future).await, FfiResult::ROk(7)));
            assert_eq!(Arc::strong_count(&held), 1, "what it held is gone");
            let again = futures::poll!(&mut future);
            assert!(
                matches!(again, Poll::Ready(FfiResult::RErr(_))),
                "{again:?}"
            );
        });
    }

    #[test]
    fn a_panic_in_a_poll_becomes_an_error_and_drops_the_future() {
        let context = PluginContext::new("guarded").unwrap();
        let held = Arc::new(());
        let kept = held.clone();
        let future = context.future(async move {
            // Always true; it keeps the compiler from calling the end unreachable.
            if Arc::strong_count(&kept) > 0 {
                panic!("inside the plugin");
            }
            FfiResult::<u32>::ROk(0)
        });
        let answer = futures::executor::block_on(future);
        let FfiResult::RErr(error) = answer else {
            panic!("a panic must become an error");
        };
        assert!(Error::from(error).to_string().contains("inside the plugin"));
        assert_eq!(Arc::strong_count(&held), 1);
    }
}
