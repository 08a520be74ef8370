//! The conformance kit of agent-host: named checks that every `Runtime` backend must pass.
//!
//! Each check (a [`Case`]) tests one point of `docs/semantics.md` on a fresh runtime from
//! a [`Target`], under a timeout, with panics caught, and ends as passed, failed, skipped
//! or crashed with details and a duration. A [`Report`] holds the results and a tally,
//! prints as text and serializes to JSON.
//!
//! Run it on your own backend as a host would drive it, without building the plugin
//! file: [`Target::plugin`] builds each runtime through the export layer (the options
//! checked against the schema, the constructor in the plugin's executor) and every call
//! crosses the FFI layer and back.
//!
//! ```
//! use agent_conformance::{run_case, Status, Target};
//! use agent_plugin_mock::MockRuntime;
//!
//! let target = Target::plugin::<MockRuntime>(serde_json::json!({"chunk_delay_ms": 5}));
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let report = run_case(&target, "chat.cancel_ends_turn").await.expect("a known check");
//! assert_eq!(report.status, Status::Passed, "{report}");
//! // `run_all(&target)` runs every check; print the report, or serialize it for `--json`.
//! # });
//! ```
//!
//! On the built plugin file, as `agent-host check <path>` does, use
//! [`Target::from_file`]; on a runtime value in-process with no FFI, [`Target::new`]. In a
//! test file, [`conformance_tests!`] makes one `#[test]` per check:
//!
//! ```no_run
//! # use agent_conformance::Target;
//! # fn my_target() -> Target {
//! #     Target::plugin::<agent_plugin_mock::MockRuntime>(serde_json::json!({}))
//! # }
//! agent_conformance::conformance_tests!(my_target());
//! # fn main() {}
//! ```
//!
//! What the checks need from a backend (the long prompt's answer takes well over 100 ms,
//! every check ends within the timeout) and how each ends (`warning` when only the
//! timing was off) is in `docs/semantics.md`, "The conformance kit".
//!
//! Modules: `target` (what is under test), `macros` (the registry of every check, and
//! [`conformance_tests!`]), `case` and `checks/*` (the checks, one file per topic),
//! `runner` (running them), `report` (the results).

#[macro_use]
mod expect;

mod case;
mod checks;
mod ctx;
mod macros;
mod panic_text;
mod report;
mod runner;
mod target;

#[doc(hidden)]
pub mod __private;

pub use case::{case_names, cases, find_case, Case};
pub use report::{CaseReport, Report, Status, Tally};
pub use runner::{run_all, run_case, run_selected};
pub use target::{tool_lines, RuntimeFactory, Target, ToolPrompt};
