//! Names an agent that blocks the event loop.
//!
//! Every agent shares the one loop, so an agent that blocks it (`time.sleep` in `chat`,
//! a long computation that never awaits) stops all of them, and nothing in the agents'
//! own output says which one did it. A thread of the plugin watches the loop: the loop
//! bumps a counter as it leaves its wait for I/O and again as it goes back to it (one
//! atomic store each), and what it starts (a call, or a step of a turn's generator)
//! leaves its tag in another. When the counter has not moved for [`STALL_THRESHOLD`]
//! while the loop runs, the watchdog takes the GIL (which a sleeping agent, or a Python
//! loop at its next switch interval, lets go of), and logs a warning with the tag and
//! the loop thread's Python stack: once per stall, and once more when the loop runs
//! again. The host's threads never take the GIL; this thread is the plugin's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use agent_plugin_api::types::AgentId;
use pyo3::prelude::*;

use crate::op::Op;

/// How long the loop may run without coming back to wait for I/O before the watchdog
/// logs a warning. A turn's own work between two awaits should take milliseconds; a
/// second is far beyond anything but a blocking agent.
pub(crate) const STALL_THRESHOLD: Duration = Duration::from_secs(1);

/// How often the watchdog looks: a stall is reported between [`STALL_THRESHOLD`] and
/// that plus this after it began.
const TICK: Duration = Duration::from_millis(250);

/// Even: the loop is running callbacks; odd: it is waiting for I/O. Only the loop
/// thread writes it.
static PASSES: AtomicU64 = AtomicU64::new(0);

/// The [`Tag`] of what the loop last started (0: nothing since it last woke).
static CURRENT: AtomicU64 = AtomicU64::new(0);

/// `threading.get_ident()` of the loop thread, for `sys._current_frames()`.
static LOOP_THREAD: AtomicU64 = AtomicU64::new(0);

/// Runtime number -> its `agent` option, for naming a runtime in a warning.
static RUNTIMES: Mutex<Option<HashMap<u32, String>>> = Mutex::new(None);

const AGENT_BITS: u32 = 36;
const RUNTIME_BITS: u32 = 20;

/// What the loop is running, in one `u64`: what (8 bits), runtime (20), agent (36).
/// What is an [`Op`]'s code plus one, or [`LOADING_AGENT_CLASS`]; 0 is nothing. Ids
/// past their field's range wrap: a tag only names things in a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag(u64);

/// A tag's "what" while a new runtime imports its agent's module and class.
const LOADING_AGENT_CLASS: u64 = 0xFF;

/// What a tag says the loop is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doing {
    Call(Op),
    LoadingAgentClass,
    Unknown,
}

impl Tag {
    pub fn new(runtime: u32, agent_id: AgentId, op: Op) -> Tag {
        Tag::with_what(runtime, agent_id, u64::from(op.code()) + 1)
    }

    /// A runtime importing its agent's module and class (which blocks the loop too).
    pub fn loading_agent_class(runtime: u32) -> Tag {
        Tag::with_what(runtime, 0, LOADING_AGENT_CLASS)
    }

    fn with_what(runtime: u32, agent_id: AgentId, what: u64) -> Tag {
        let runtime = u64::from(runtime) & ((1 << RUNTIME_BITS) - 1);
        let agent = agent_id & ((1 << AGENT_BITS) - 1);
        Tag(what << (AGENT_BITS + RUNTIME_BITS) | runtime << AGENT_BITS | agent)
    }

    fn doing(self) -> Doing {
        match self.0 >> (AGENT_BITS + RUNTIME_BITS) {
            LOADING_AGENT_CLASS => Doing::LoadingAgentClass,
            what => u8::try_from(what)
                .ok()
                .and_then(|what| what.checked_sub(1))
                .and_then(Op::from_code)
                .map_or(Doing::Unknown, Doing::Call),
        }
    }

    fn runtime(self) -> u32 {
        ((self.0 >> AGENT_BITS) & ((1 << RUNTIME_BITS) - 1)) as u32
    }

    fn agent(self) -> AgentId {
        self.0 & ((1 << AGENT_BITS) - 1)
    }
}

/// The loop starts a call or steps a turn: one relaxed store.
#[inline]
pub(crate) fn started(tag: Tag) {
    CURRENT.store(tag.0, Ordering::Relaxed);
}

/// The loop is about to wait for I/O.
#[inline]
pub(crate) fn waiting() {
    let passes = PASSES.load(Ordering::Relaxed);
    if passes % 2 == 0 {
        PASSES.store(passes + 1, Ordering::Relaxed);
    }
}

/// The loop has come back from waiting for I/O.
#[inline]
pub(crate) fn woke() {
    let passes = PASSES.load(Ordering::Relaxed);
    CURRENT.store(0, Ordering::Relaxed);
    // The next even number: running again.
    PASSES.store(passes + 2 - passes % 2, Ordering::Relaxed);
}

/// Names a runtime in warnings (its `agent` option).
pub(crate) fn name_runtime(runtime: u32, agent: &str) {
    let mut runtimes = RUNTIMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    runtimes
        .get_or_insert_with(HashMap::new)
        .insert(runtime, agent.to_owned());
}

pub(crate) fn forget_runtime(runtime: u32) {
    let mut runtimes = RUNTIMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(runtimes) = runtimes.as_mut() {
        runtimes.remove(&runtime);
    }
}

/// Starts the watchdog for the loop running on this thread (called once, on it).
pub(crate) fn start(py: Python<'_>) -> PyResult<()> {
    let ident: u64 = py
        .import("threading")?
        .call_method0("get_ident")?
        .extract()?;
    LOOP_THREAD.store(ident, Ordering::Relaxed);
    std::thread::Builder::new()
        .name("agent-python-watchdog".into())
        .spawn(watch)
        .map(drop)
        .map_err(|error| pyo3::exceptions::PyOSError::new_err(error.to_string()))
}

/// The watchdog thread: looks every [`TICK`], for the life of the process.
fn watch() {
    let mut seen = PASSES.load(Ordering::Relaxed);
    let mut since = Instant::now();
    let mut reported: Option<String> = None;
    loop {
        std::thread::sleep(TICK);
        let passes = PASSES.load(Ordering::Relaxed);
        if passes != seen {
            if let Some(culprit) = reported.take() {
                tracing::warn!(
                    "the Python event loop runs again after being blocked for {:.1} s by {culprit}",
                    since.elapsed().as_secs_f64()
                );
            }
            seen = passes;
            since = Instant::now();
            continue;
        }
        if passes % 2 == 1 || reported.is_some() || since.elapsed() < STALL_THRESHOLD {
            continue;
        }
        let culprit = describe(Tag(CURRENT.load(Ordering::Relaxed)));
        let stack = Python::attach(|py| loop_stack(py, passes));
        tracing::warn!(
            "the Python event loop has been blocked for {:.1} s by {culprit}: no other agent \
             runs until it awaits. Where the loop is (most recent call last):\n{}",
            since.elapsed().as_secs_f64(),
            stack.trim_end()
        );
        reported = Some(culprit);
    }
}

/// What a tag names, in words.
fn describe(tag: Tag) -> String {
    if tag.0 == 0 {
        return "code outside any agent call or turn (a callback or a task of its own)".into();
    }
    let runtimes = RUNTIMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let agent_class = runtimes
        .as_ref()
        .and_then(|runtimes| runtimes.get(&tag.runtime()))
        .map_or("?", String::as_str);
    let what = match tag.doing() {
        Doing::LoadingAgentClass => {
            return format!(
                "runtime {} loading its agent class (agent = {agent_class:?})",
                tag.runtime()
            )
        }
        Doing::Call(Op::Chat) => "chat turn",
        Doing::Call(op) => op.name(),
        Doing::Unknown => "?",
    };
    format!(
        "agent {}'s {what} (agent = {agent_class:?}, runtime {})",
        tag.agent(),
        tag.runtime()
    )
}

/// The loop thread's Python stack, formatted (or why there is none).
fn loop_stack(py: Python<'_>, passes: u64) -> String {
    if PASSES.load(Ordering::Relaxed) != passes {
        return "(the loop ran again before the stack could be taken)".into();
    }
    let ident = LOOP_THREAD.load(Ordering::Relaxed);
    let formatted = (|| -> PyResult<String> {
        let frames = py.import("sys")?.call_method0("_current_frames")?;
        let Some(frame) = frames
            .call_method1("get", (ident,))
            .ok()
            .filter(|f| !f.is_none())
        else {
            return Ok("(no Python frame on the loop thread)".into());
        };
        let lines: Vec<String> = py
            .import("traceback")?
            .call_method1("format_stack", (frame,))?
            .extract()?;
        Ok(lines.concat())
    })();
    formatted.unwrap_or_else(|error| format!("(cannot take the stack: {error})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_keeps_what_it_names() {
        let tag = Tag::new(7, 123_456, Op::WaitForIdle);
        assert_eq!(
            (tag.doing(), tag.runtime(), tag.agent()),
            (Doing::Call(Op::WaitForIdle), 7, 123_456)
        );
        for op in Op::ALL {
            assert_eq!(Tag::new(1, 1, *op).doing(), Doing::Call(*op));
        }
        let loading = Tag::loading_agent_class(3);
        assert_eq!(
            (loading.doing(), loading.runtime()),
            (Doing::LoadingAgentClass, 3)
        );
        let wrapped = Tag::new(u32::MAX, AgentId::MAX, Op::Chat);
        assert_eq!(wrapped.doing(), Doing::Call(Op::Chat));
        assert_ne!(Tag::new(0, 0, Op::CreateAgent).0, 0, "0 is nothing");
    }
}
