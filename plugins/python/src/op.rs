//! The operations Rust asks of a runtime's Python bridge, one enum for both sides.
//!
//! A call crosses as its code, a small Python `int` (CPython caches those: nothing is
//! allocated per call), and `agent_host._bridge.Bridge` dispatches by indexing a tuple
//! with it. The Python side never spells a code or a name of its own: it imports
//! `agent_host._native.Op`, an `enum.IntEnum` that [`register`] builds from [`Op::ALL`],
//! and its dispatch table must cover every member, or the bridge refuses to start. So
//! a misspelt or unknown operation cannot exist on either side.

use pyo3::prelude::*;
use pyo3::types::PyList;

/// Defines [`Op`], its codes (declaration order, from 0), [`Op::ALL`] and [`Op::name`]
/// from one list. (The Python unit tests' stand-in for `agent_host._native` reads this
/// list from this file: keep one `Variant => "name",` per line.)
macro_rules! ops {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum Op {
            $($(#[$doc])* $variant,)*
        }

        impl Op {
            /// Every operation, in code order (`Op::ALL[code] as u8 == code`).
            pub const ALL: &'static [Op] = &[$(Op::$variant,)*];

            /// The operation's name, as messages and the watchdog's warnings show it.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Op::$variant => $name,)*
                }
            }
        }
    };
}

ops! {
    CreateAgent => "create_agent",
    /// A chat turn. Rust starts turns through `Runtime.start_turn` directly; the bridge
    /// takes this code too, with `(turn_id, parts)`.
    Chat => "chat",
    /// Cancels one turn by its id (a dropped or cancelled handle).
    CancelTurn => "cancel_turn",
    Send => "send",
    Cancel => "cancel",
    Shutdown => "shutdown",
    Delete => "delete",
    /// `shutdown` with nobody waiting for the answer (`try_shutdown_agent`, `Drop`).
    TryShutdown => "try_shutdown",
    Disconnect => "disconnect",
    SignalIdle => "signal_idle",
    WaitForIdle => "wait_for_idle",
    IsIdle => "is_idle",
    WaitForWakeup => "wait_for_wakeup",
    History => "history",
    TurnCount => "turn_count",
    TotalUsage => "total_usage",
    LastTurnUsage => "last_turn_usage",
    ClearHistory => "clear_history",
    LastResponse => "last_response",
    CompactionIndices => "compaction_indices",
    /// A host tool call of a turn has its answer: `(turn_id, key, ok, value)`, `value`
    /// the result as Python values, or the error's message (see `host_tools`).
    ToolDone => "tool_done",
}

impl Op {
    /// The operation with this code.
    pub fn from_code(code: u8) -> Option<Op> {
        Op::ALL.get(usize::from(code)).copied()
    }

    /// The code the call crosses with.
    #[inline]
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// Adds `Op` to `module`: `enum.IntEnum("Op", [("CREATE_AGENT", 0), ...])`.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let members = PyList::empty(py);
    for op in Op::ALL {
        members.append((op.name().to_ascii_uppercase(), op.code()))?;
    }
    let int_enum = py.import("enum")?.getattr("IntEnum")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("module", module.name()?)?;
    let op = int_enum.call(("Op", members), Some(&kwargs))?;
    module.add("Op", op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_list_and_names_are_unique() {
        for (code, op) in Op::ALL.iter().enumerate() {
            assert_eq!(usize::from(op.code()), code, "{op:?}");
            assert_eq!(Op::from_code(op.code()), Some(*op));
        }
        assert_eq!(Op::from_code(Op::ALL.len() as u8), None);
        let mut names: Vec<&str> = Op::ALL.iter().map(|op| op.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Op::ALL.len());
    }
}
