//! The application's tools across the boundary, the one crossing that goes the other
//! way: the host serves its [`Tools`] ([`ExportedToolHost`]); the plugin calls them as
//! [`Tools`] again ([`import`]). Since api 0.2.1.
//!
//! A handler runs in the host's own tokio runtime (the one `create_agent_with_tools` was
//! called on): the plugin's tokio is another copy, and a handler may sleep or do IO. Its
//! first poll happens where the plugin calls it, inside the host's runtime context; a
//! handler that answers at once (most do) is then done with no task and no thread
//! hand-off, and one that waits goes on as a task on the host's runtime. So a call never
//! needs the thread of the host that may itself be awaiting the plugin. Dropping the
//! plugin's future (a cancelled turn) aborts the handler.

use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, RStr, RString, RVec};
use async_ffi::{FfiFuture, FutureExt as _};
use futures::FutureExt as _;

use super::data::{parse_json, FfiError, FfiResult};
use crate::types::{Error, ToolError, ToolHandler, Tools};

#[sabi_trait]
pub trait FfiToolHost: Send + Sync {
    fn names(&self) -> RVec<RString>;
    /// Runs tool `name` with JSON arguments; the answer is JSON, or an error whose
    /// message the backend is told.
    #[sabi(last_prefix_field)]
    fn call(&self, name: RStr<'_>, args_json: RString) -> FfiFuture<FfiResult<RString>>;
}

pub type FfiToolHostBox = FfiToolHost_TO<'static, RBox<()>>;

// --- host side: serves the application's tools ---------------------------------------

pub(crate) struct ExportedToolHost {
    tools: Tools,
    /// Where handlers run; `None` when the caller had no tokio runtime (they then run
    /// on the thread that polls the call).
    runtime: Option<tokio::runtime::Handle>,
}

impl ExportedToolHost {
    pub(crate) fn into_ffi(tools: Tools) -> FfiToolHostBox {
        let runtime = tokio::runtime::Handle::try_current().ok();
        FfiToolHost_TO::from_value(
            ExportedToolHost { tools, runtime },
            abi_stable::sabi_trait::TD_Opaque,
        )
    }
}

/// A handler task that is aborted when the call is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<Result<serde_json::Value, ToolError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FfiToolHost for ExportedToolHost {
    fn names(&self) -> RVec<RString> {
        self.tools.names().map(RString::from).collect()
    }

    fn call(&self, name: RStr<'_>, args_json: RString) -> FfiFuture<FfiResult<RString>> {
        let tools = self.tools.clone();
        let name = name.as_str().to_owned();
        let args = parse_json(&args_json);
        let mut call = async move { tools.call(&name, args).await }.boxed();
        let answer = match &self.runtime {
            None => call,
            Some(runtime) => {
                // A waker that does nothing: a task that takes the call over polls it
                // again first. Panics are the handler's, and `Tools::call` contains them.
                let first = {
                    let _host = runtime.enter();
                    call.as_mut().poll(&mut Context::from_waker(Waker::noop()))
                };
                if let Poll::Ready(answer) = first {
                    return ready_answer(answer);
                }
                let task = AbortOnDrop(runtime.spawn(call));
                async move {
                    let mut task = task;
                    (&mut task.0).await.unwrap_or_else(|error| {
                        Err(ToolError::new(format!("the tool's task failed: {error}")))
                    })
                }
                .boxed()
            }
        };
        async move { crossing(answer.await) }.into_ffi()
    }
}

fn ready_answer(answer: Result<serde_json::Value, ToolError>) -> FfiFuture<FfiResult<RString>> {
    let answer = crossing(answer);
    async move { answer }.into_ffi()
}

/// A handler's answer as it crosses: JSON, or the message the backend is told.
fn crossing(answer: Result<serde_json::Value, ToolError>) -> FfiResult<RString> {
    match answer {
        Ok(value) => FfiResult::ROk(RString::from(value.to_string())),
        Err(error) => FfiResult::RErr(FfiError::from(Error::BackendError(error.message))),
    }
}

// --- plugin side: the host's tools as `Tools` ----------------------------------------

/// Each of the host's tools as a handler that crosses back to it.
pub(crate) fn import(host: FfiToolHostBox) -> Tools {
    let host = Arc::new(host);
    let names = host.names();
    Tools::from_handlers(names.into_iter().map(|name| {
        let name = name.into_string();
        let host = host.clone();
        let tool = name.clone();
        let handler: ToolHandler = Arc::new(move |args: serde_json::Value| {
            let call = host.call(RStr::from_str(&tool), RString::from(args.to_string()));
            async move {
                match call.await.into_result() {
                    Ok(json) => Ok(parse_json(&json)),
                    Err(error) => Err(ToolError::new(match Error::from(error) {
                        Error::BackendError(message) => message,
                        other => other.to_string(),
                    })),
                }
            }
            .boxed()
        });
        (name, handler)
    }))
}
