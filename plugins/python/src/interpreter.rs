//! The one thread that owns CPython and its asyncio event loop.
//!
//! Other threads never take the GIL. They push a [`Command`] onto a queue; the loop
//! hands each command to the Python bridge, which starts an asyncio task. How the loop
//! learns of a command depends on what it is doing:
//!
//! - running or about to wait (see [`before_wait`], called before every wait for I/O):
//!   it checks a flag, so the submitter only sets it;
//! - asleep in `epoll`: the submitter also writes one byte to a socket the loop watches
//!   (`loop.add_reader`).
//!
//! Before sleeping the loop watches the flag for a moment ([`SPIN`]): the next command
//! often follows the answer to the last one, and catching it awake saves both sides a
//! system call and the sleeper's wake-up latency.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use agent_plugin_api::plugin::wakeups;
use agent_plugin_api::saved::SavedConversation;
use agent_plugin_api::types::{AgentId, Content, Error};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::json_to_python;
use crate::convert::{content_to_parts, python_error_text};
use crate::host_tools::Done;
use crate::native::{PendingReply, Reply, TurnSink};
use crate::op::Op;
use crate::options::PythonOptions;
use crate::saved::{resumed_to_python, SavedSlot};
use crate::watchdog::{self, Tag};
use crate::{embedded, loader, native};

/// What a call hands to the Python side besides its agent id.
pub(crate) enum Arg {
    None,
    /// A new agent: its config's JSON, the names of the host's tools it may call, and
    /// its saved conversation (read back) if it has one.
    NewAgent(
        String,
        Vec<String>,
        Option<Box<(Arc<SavedSlot>, SavedConversation)>>,
    ),
    /// A `send` turn: its id (its tool calls are answered by turn) and the message.
    Sent(u64, Content),
    /// A chat turn: its id (for `cancel_turn`) and the message (goes to `start_turn`).
    Turn(u64, Content),
    TurnId(u64),
    Seconds(f64),
    /// A host tool call's answer (`Op::ToolDone`).
    ToolDone(Done),
}

/// A runtime's bridge as Rust calls it, methods bound once: `Bridge.submit` takes every
/// operation; chat turns, the most frequent by far, go straight to `Runtime.start_turn`.
pub(crate) struct BridgeEntry {
    /// The runtime's number, for the watchdog's warnings.
    pub runtime: u32,
    pub submit: Py<PyAny>,
    pub start_turn: Py<PyAny>,
}

/// One call of `Bridge.submit(op, agent_id, arg, reply, sink)` (`op` as its code).
pub(crate) struct Call {
    pub bridge: Arc<BridgeEntry>,
    pub op: Op,
    pub agent_id: AgentId,
    pub arg: Arg,
    pub reply: Option<PendingReply>,
    pub sink: Option<TurnSink>,
}

pub(crate) enum Command {
    /// Builds a `Bridge` for a new runtime.
    NewBridge {
        options: PythonOptions,
        done: std::sync::mpsc::Sender<Result<BridgeEntry, Error>>,
    },
    Call(Call),
    /// Drops a runtime's bridge where the GIL is held.
    Release(Arc<BridgeEntry>),
}

pub(crate) struct Interpreter {
    queue: Mutex<Vec<Command>>,
    /// Commands are queued that the loop has not taken yet.
    wake_pending: AtomicBool,
    /// The loop may be asleep in `epoll`: a submitter must write to `wake_writer`.
    asleep: AtomicBool,
    wake_writer: UnixStream,
    wake_reader: UnixStream,
}

/// How long the loop watches for the next command before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// Wake-ups for the ends of turns held at most before they go out together: a hundred
/// turns ending in one pass of the loop cost a handful of wake-ups, not a hundred. The
/// rest go out when the pass ends (`before_wait`); the first turn to end in a pass wakes
/// its reader at once.
const MAX_HELD_WAKEUPS: usize = 16;

/// The next runtime's number (see [`BridgeEntry::runtime`]).
static NEXT_RUNTIME: AtomicU32 = AtomicU32::new(1);

static INTERPRETER: OnceLock<Result<Interpreter, String>> = OnceLock::new();

/// How long the first runtime waits for the interpreter to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The running interpreter, started on first use.
pub(crate) fn get() -> Result<&'static Interpreter, Error> {
    INTERPRETER
        .get_or_init(start)
        .as_ref()
        .map_err(|reason| Error::BackendError(format!("cannot start Python: {reason}")))
}

fn start() -> Result<Interpreter, String> {
    let (wake_writer, wake_reader) =
        UnixStream::pair().map_err(|error| format!("wake-up socket: {error}"))?;
    for socket in [&wake_writer, &wake_reader] {
        socket
            .set_nonblocking(true)
            .map_err(|error| format!("wake-up socket: {error}"))?;
    }
    let reader_fd = wake_reader.as_raw_fd();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("agent-python".into())
        .spawn(move || run(reader_fd, ready_tx))
        .map_err(|error| format!("cannot spawn the interpreter thread: {error}"))?;
    let started = Instant::now();
    ready_rx
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| "the interpreter thread did not start".to_owned())??;
    tracing::debug!(elapsed = ?started.elapsed(), "Python started");
    Ok(Interpreter {
        queue: Mutex::new(Vec::new()),
        wake_pending: AtomicBool::new(false),
        asleep: AtomicBool::new(true),
        wake_writer,
        wake_reader,
    })
}

/// The interpreter thread: start Python, then run the loop for the life of the process.
fn run(reader_fd: i32, ready: std::sync::mpsc::Sender<Result<(), String>>) {
    if let Err(error) = loader::promote_libpython().and_then(|()| loader::initialize()) {
        let _ = ready.send(Err(error));
        return;
    }
    Python::attach(|py| {
        let event_loop = match set_up(py, reader_fd) {
            Ok(event_loop) => event_loop,
            Err(error) => {
                let _ = ready.send(Err(python_error_text(py, &error)));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        // Turns that end in one pass of the loop wake their readers together.
        wakeups::hold(MAX_HELD_WAKEUPS);
        if let Err(error) = event_loop.call_method0("run_forever") {
            tracing::error!(
                "the Python event loop stopped: {}",
                python_error_text(py, &error)
            );
        }
        // A loop that stopped is not a blocked one.
        watchdog::waiting();
        wakeups::release();
    });
}

fn set_up(py: Python<'_>, reader_fd: i32) -> PyResult<Bound<'_, PyAny>> {
    native::register(py)?;
    embedded::install(py)?;
    py.import("agent_host")?;
    let event_loop = py.import("agent_host._loop")?.call_method1(
        "new_event_loop",
        (
            wrap_pyfunction!(before_wait, py)?,
            wrap_pyfunction!(after_wait, py)?,
        ),
    )?;
    py.import("asyncio")?
        .call_method1("set_event_loop", (&event_loop,))?;
    event_loop.call_method1("add_reader", (reader_fd, wrap_pyfunction!(drain, py)?))?;
    watchdog::start(py)?;
    Ok(event_loop)
}

impl Interpreter {
    /// Queues a command; wakes the loop if it may be asleep and nobody else did.
    pub fn submit(&self, command: Command) {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(command);
        // SeqCst pairs with `before_wait`: either the loop sees the flag before it
        // sleeps, or this sees `asleep` and writes the byte.
        if !self.wake_pending.swap(true, Ordering::SeqCst) && self.asleep.load(Ordering::SeqCst) {
            // A full socket buffer means wake-ups are already pending: nothing is lost.
            let _ = (&self.wake_writer).write(&[1]);
        }
    }

    fn take_commands(&self) -> Vec<Command> {
        self.wake_pending.store(false, Ordering::SeqCst);
        std::mem::take(
            &mut *self
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    fn has_commands(&self) -> bool {
        self.wake_pending.load(Ordering::SeqCst)
    }
}

/// Runs every queued command.
fn run_commands(py: Python<'_>, interpreter: &Interpreter) {
    for command in interpreter.take_commands() {
        match command {
            Command::NewBridge { options, done } => {
                let _ = done.send(new_bridge(py, &options));
            }
            Command::Call(call) => execute(py, call),
            Command::Release(bridge) => {
                watchdog::forget_runtime(bridge.runtime);
                drop(bridge);
            }
        }
    }
}

/// The loop's reader callback: the wake-up socket is readable, so the loop was asleep.
#[pyfunction]
fn drain(py: Python<'_>) {
    let Ok(interpreter) = get() else { return };
    // One read is enough: a wake-up is one byte, written only while the loop sleeps. A
    // byte left over just makes the loop call us once more.
    let mut buffer = [0u8; 64];
    let _ = (&interpreter.wake_reader).read(&mut buffer);
    interpreter.asleep.store(false, Ordering::SeqCst);
    run_commands(py, interpreter);
}

/// Called by the loop's selector before every wait for I/O (`timeout` in seconds,
/// `None` for no limit). Returns `true` when it ran commands: the loop must not sleep.
#[pyfunction]
#[pyo3(signature = (timeout = None))]
fn before_wait(py: Python<'_>, timeout: Option<f64>) -> bool {
    let ran_commands = take_commands_before_wait(py, timeout);
    watchdog::waiting();
    ran_commands
}

/// Called by the loop's selector when its wait for I/O is over.
#[pyfunction]
fn after_wait() {
    watchdog::woke();
}

fn take_commands_before_wait(py: Python<'_>, timeout: Option<f64>) -> bool {
    // Whatever this pass wrote reaches its readers before the loop may sleep.
    wakeups::release();
    // Not `get()`: the first waits come while the starting thread is still building the
    // interpreter (it then finds the loop asleep and writes the byte).
    let Some(Ok(interpreter)) = INTERPRETER.get() else {
        return false;
    };
    interpreter.asleep.store(false, Ordering::SeqCst);
    if interpreter.has_commands() {
        run_commands(py, interpreter);
        return true;
    }
    let watch = match timeout {
        Some(seconds) if seconds <= 0.0 => return false,
        // A timer due sooner than that is not kept waiting.
        Some(seconds) => Duration::try_from_secs_f64(seconds).map_or(SPIN, |due| SPIN.min(due)),
        None => SPIN,
    };
    let watch_until = Instant::now() + watch;
    while Instant::now() < watch_until {
        if interpreter.has_commands() {
            run_commands(py, interpreter);
            return true;
        }
        // Lets any other thread that wants this CPU have it.
        std::thread::yield_now();
    }
    interpreter.asleep.store(true, Ordering::SeqCst);
    if interpreter.has_commands() {
        interpreter.asleep.store(false, Ordering::SeqCst);
        run_commands(py, interpreter);
        return true;
    }
    false
}

fn new_bridge(py: Python<'_>, options: &PythonOptions) -> Result<BridgeEntry, Error> {
    let runtime = NEXT_RUNTIME.fetch_add(1, Ordering::Relaxed);
    let agent = options
        .agent
        .as_deref()
        .unwrap_or("agent_host.reference:ReferenceAgent");
    watchdog::name_runtime(runtime, agent);
    // Importing the agent's module blocks the loop too (pydantic-ai's takes a second).
    watchdog::started(Tag::loading_agent_class(runtime));
    let build = || -> PyResult<BridgeEntry> {
        let site = options
            .venv
            .as_ref()
            .map(|venv| options.site_packages(venv))
            .transpose()
            .map_err(|error| pyo3::exceptions::PyValueError::new_err(error.to_string()))?;
        let path = |path: &std::path::Path| path.to_string_lossy().into_owned();
        py.import("agent_host._venv")?.call_method1(
            "prepare",
            (
                options.venv.as_deref().map(path),
                site.as_deref().map(path),
                loader::take_deferred_site(),
            ),
        )?;
        let sys_path = py.import("sys")?.getattr("path")?.cast_into::<PyList>()?;
        for dir in options.python_path.iter().rev() {
            let dir = dir.to_string_lossy();
            if !sys_path.contains(dir.as_ref())? {
                sys_path.insert(0, dir.as_ref())?;
            }
        }
        let settings = PyDict::new(py);
        settings.set_item("agent", options.agent.as_deref())?;
        let bridge = py
            .import("agent_host._bridge")?
            .getattr("Bridge")?
            .call1((settings,))?;
        let entry = BridgeEntry {
            runtime,
            submit: bridge.getattr("submit")?.unbind(),
            start_turn: bridge.getattr("runtime")?.getattr("start_turn")?.unbind(),
        };
        // What start-up and the agent's imports created lives for good: moving it out of
        // the collector's sight keeps every later collection short.
        py.import("gc")?.call_method0("freeze")?;
        Ok(entry)
    };
    build().map_err(|error| {
        watchdog::forget_runtime(runtime);
        let invalid = py
            .import("agent_host")
            .and_then(|module| module.getattr("InvalidConfig"))
            .is_ok_and(|class| error.get_type(py).is_subclass(&class).unwrap_or(false));
        if invalid {
            // Its message already holds what matters, the agent module's traceback too.
            let message = error
                .value(py)
                .str()
                .map_or_else(|_| error.to_string(), |text| text.to_string());
            Error::InvalidConfig(format!("option `agent`: {message}"))
        } else {
            let text = python_error_text(py, &error);
            Error::BackendError(format!("cannot start the Python bridge: {text}"))
        }
    })
}

fn execute(py: Python<'_>, call: Call) {
    let Call {
        bridge,
        op,
        agent_id,
        arg,
        reply,
        sink,
    } = call;
    watchdog::started(Tag::new(bridge.runtime, agent_id, op));
    let reply = reply.map(Reply::new);
    let submitted = (|| -> PyResult<()> {
        let reply = reply.map(|reply| Py::new(py, reply)).transpose()?;
        let sink = sink.map(|sink| Py::new(py, sink)).transpose()?;
        let result = match &arg {
            Arg::Turn(turn_id, content) => {
                let content = match content {
                    Content::Text(text) => text.as_str().into_pyobject(py)?.into_any(),
                    content => content_to_parts(py, content)?.into_any(),
                };
                bridge
                    .start_turn
                    .call1(py, (agent_id, *turn_id, content, &sink))
            }
            arg => {
                let arg: Bound<'_, PyAny> = match arg {
                    // (Turns took the branch above.)
                    Arg::None | Arg::Turn(..) => py.None().into_bound(py),
                    Arg::NewAgent(json, tools, saved) => {
                        let saved = match saved.as_deref() {
                            Some((slot, saved)) => resumed_to_python(py, slot, saved)?.into_any(),
                            None => py.None().into_bound(py),
                        };
                        (json.as_str(), tools, saved).into_pyobject(py)?.into_any()
                    }
                    Arg::Sent(turn_id, content) => (*turn_id, content_to_parts(py, content)?)
                        .into_pyobject(py)?
                        .into_any(),
                    Arg::TurnId(turn_id) => turn_id.into_pyobject(py)?.into_any(),
                    Arg::Seconds(seconds) => seconds.into_pyobject(py)?.into_any(),
                    Arg::ToolDone(done) => {
                        let (ok, value) = match &done.output {
                            Ok(value) => (true, json_to_python(py, value)?),
                            Err(error) => {
                                (false, error.message.as_str().into_pyobject(py)?.into_any())
                            }
                        };
                        (done.turn_id, done.key, ok, value)
                            .into_pyobject(py)?
                            .into_any()
                    }
                };
                bridge
                    .submit
                    .call1(py, (op.code(), agent_id, arg, &reply, &sink))
            }
        };
        if let Err(error) = result {
            let failure = Error::BackendError(format!(
                "the Python bridge refused {}: {}",
                op.name(),
                python_error_text(py, &error)
            ));
            if let Some(reply) = &reply {
                reply.get().fail(failure.clone());
            }
            if let Some(sink) = &sink {
                sink.get().fail_now(failure);
            }
        }
        Ok(())
    })();
    if let Err(error) = submitted {
        tracing::error!(
            op = op.name(),
            "cannot hand a call to Python: {}",
            python_error_text(py, &error)
        );
    }
}
