//! The Python backend of agent-host: Python agents served from an embedded CPython.
//!
//! One OS thread owns the interpreter and one asyncio event loop; every agent operation
//! is an asyncio task on it, so many agents share one loop. The host's threads never
//! take the GIL: calls go over a queue with a coalesced wake-up, answers come back on
//! channels, and a turn's events land in its event log in batches.
//!
//! The Python side is the bundled `agent_host` package (compiled into the plugin): an
//! agent is a class built from the agent config with an `async def chat(self, content)`
//! that yields events (a `str` is a text chunk). See `python/agent_host/__init__.py`.
//!
//! Built as a `cdylib` this is the `python` plugin; libpython is found through the
//! plugin's RUNPATH, set at build time to the Python that built it (`PYO3_PYTHON`, or
//! `python3` on `PATH`), so no `LD_LIBRARY_PATH` is needed.

mod convert;
mod embedded;
mod host_tools;
mod interpreter;
mod loader;
mod native;
mod op;
mod options;
mod pump;
mod runtime;
mod saved;
mod text;
mod turn_log;
mod watchdog;

pub use options::PythonOptions;
pub use runtime::PythonRuntime;

agent_plugin_api::export_plugin!(PythonRuntime);

/// The plugin's own Rust allocations (turn logs, text batches, commands) are made on the
/// host's threads and freed on the interpreter's, or the other way round: mimalloc frees
/// across threads without taking a lock the other thread holds, where the system
/// allocator contends. Everything that crosses the ABI carries its own deallocator, so
/// the host's allocator is never asked to free this one's memory.
/// mimalloc 2 (feature `v2`): mimalloc 3 crashed a thread that first allocated here
/// after the thread that first did had exited (see docs/python.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
