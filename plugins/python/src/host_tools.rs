//! The application's tools as Python agents call them (`agent_host.Tools.call`).
//!
//! The Rust side owns everything about a call but its awaiting: the handlers (each
//! agent's [`AgentTools`]), the call's task, its `ToolCall` and `ToolResult` events and
//! its place in the history. A call starts from the loop ([`TurnCalls::start`], which
//! never blocks) as a task on a tokio runtime, never on the interpreter thread; its
//! answer goes back to the loop as a command ([`Deliver`]), the way every other
//! submission reaches it, and completes the asyncio future the Python side awaits. The
//! futures stay on the Python side, so no Python object ever lives on a tokio thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use agent_plugin_api::types::{
    AgentId, ConversationMessage, ToolCall, ToolError, ToolResult, Tools,
};
use pyo3::prelude::*;
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::turn_log::TurnLog;

/// A finished call, on its way back to the loop.
pub(crate) struct Done {
    pub agent_id: AgentId,
    pub turn_id: u64,
    pub key: u32,
    pub output: Result<Value, ToolError>,
}

/// Hands a [`Done`] to the loop (built by the runtime, which knows the interpreter).
pub(crate) type Deliver = Arc<dyn Fn(Done) + Send + Sync>;

/// One agent's tools: the handlers it was offered and where they run.
pub(crate) struct AgentTools {
    tools: Tools,
    /// The tokio runtime `create_agent` ran on (through the ABI: the plugin's own, whose
    /// handlers cross back to the host's). `None`: the plugin's fallback runtime.
    runtime: Option<Handle>,
    deliver: Deliver,
}

impl AgentTools {
    /// `tools` as matched for the agent; runs calls on the caller's tokio runtime.
    pub fn new(tools: Tools, deliver: Deliver) -> Self {
        AgentTools {
            tools,
            runtime: Handle::try_current().ok(),
            deliver,
        }
    }

    /// The names of the tools with a handler (what `agent_host.Tools` offers).
    pub fn names(&self) -> Vec<String> {
        self.tools.names().map(str::to_owned).collect()
    }

    fn spawn(&self, call: impl std::future::Future<Output = ()> + Send + 'static) -> AbortHandle {
        match &self.runtime {
            Some(runtime) => runtime.spawn(call).abort_handle(),
            None => fallback_runtime().spawn(call).abort_handle(),
        }
    }
}

/// Runs tool calls of agents created outside any tokio runtime.
fn fallback_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("agent-python-tools")
            .enable_all()
            .build()
            .expect("cannot start the Python plugin's tool runtime")
    })
}

/// One turn's calls, made on the first call: their events go into the turn's log.
pub(crate) struct TurnCalls {
    shared: Arc<Shared>,
}

/// What a turn's call tasks share with it.
struct Shared {
    log: Arc<TurnLog>,
    agent_id: AgentId,
    turn_id: u64,
    state: Mutex<CallState>,
}

#[derive(Default)]
struct CallState {
    /// Calls started so far: the next call's key (and the `n` of its id).
    started: u32,
    /// Calls still running, to abort when the turn ends.
    pending: HashMap<u32, AbortHandle>,
    /// Each finished call with its result (key first: the history wants call order).
    finished: Vec<(u32, ToolCall, ToolResult)>,
    /// The turn has ended: no more calls, none still running.
    ended: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, CallState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TurnCalls {
    pub fn new(log: Arc<TurnLog>, agent_id: AgentId, turn_id: u64) -> Self {
        TurnCalls {
            shared: Arc::new(Shared {
                log,
                agent_id,
                turn_id,
                state: Mutex::new(CallState::default()),
            }),
        }
    }

    /// Streams the call and starts it; its answer comes to the loop as a [`Done`] with
    /// the returned key. `None`: the turn has ended (nothing was started).
    pub fn start(&self, tools: &AgentTools, name: String, args: Value) -> Option<u32> {
        let shared = &self.shared;
        let mut state = shared.lock();
        if state.ended {
            return None;
        }
        let key = state.started;
        let call = ToolCall::new(
            format!("call-{}-{key}", shared.turn_id),
            &name,
            args.clone(),
        );
        if !shared.log.write(|sender| sender.tool_call(call.clone())) {
            return None;
        }
        state.started += 1;
        let answer = Answer {
            deliver: tools.deliver.clone(),
            done: Some(Done {
                agent_id: shared.agent_id,
                turn_id: shared.turn_id,
                key,
                output: Err(ToolError::new("the tool call was dropped: its turn ended")),
            }),
        };
        let handlers = tools.tools.clone();
        let task_shared = shared.clone();
        let task = async move {
            let mut answer = answer;
            let output = handlers.call(&name, args).await;
            let result = ToolResult::new(call.id.clone(), name, output.clone());
            task_shared
                .log
                .write(|sender| sender.tool_result(result.clone()));
            {
                let mut state = task_shared.lock();
                state.pending.remove(&key);
                state.finished.push((key, call, result));
            }
            answer.send(output);
        };
        // The lock is held across the spawn: the task's `remove` cannot come first.
        let handle = tools.spawn(task);
        state.pending.insert(key, handle);
        Some(key)
    }

    /// Drops one pending call (its awaiting coroutine was cancelled).
    pub fn abort(&self, key: u32) {
        if let Some(handle) = self.shared.lock().pending.remove(&key) {
            handle.abort();
        }
    }

    /// The turn has ended: drops every pending call (the handlers' futures with them).
    pub fn end(&self) {
        let pending = {
            let mut state = self.shared.lock();
            state.ended = true;
            std::mem::take(&mut state.pending)
        };
        for handle in pending.into_values() {
            handle.abort();
        }
    }

    /// The history entries of the finished calls, in call order: for each, the model's
    /// request, then the tool's answer (the kit's shape).
    pub fn messages(&self) -> ToolMessages {
        let finished = std::mem::take(&mut self.shared.lock().finished);
        ToolMessages {
            messages: ConversationMessage::tool_exchanges(finished),
        }
    }
}

impl Drop for TurnCalls {
    fn drop(&mut self) {
        self.end();
    }
}

/// Sends a call's answer to the loop once: its output, or (dropped first) an error, so
/// the awaiting future always ends.
struct Answer {
    deliver: Deliver,
    done: Option<Done>,
}

impl Answer {
    fn send(&mut self, output: Result<Value, ToolError>) {
        if let Some(mut done) = self.done.take() {
            done.output = output;
            (self.deliver)(done);
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            (self.deliver)(done);
        }
    }
}

/// A completed turn's tool messages, kept in the Python side's history as they are and
/// read back by the Rust side when the history is asked for (see `convert`).
#[pyclass(module = "agent_host._native", name = "ToolMessages", frozen)]
pub(crate) struct ToolMessages {
    pub messages: Vec<ConversationMessage>,
}

#[pymethods]
impl ToolMessages {
    fn __len__(&self) -> usize {
        self.messages.len()
    }
}
