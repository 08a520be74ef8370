//! The conformance kit of agent-host: named checks that every `Runtime` backend must pass.
//!
//! Each check (a [`Case`]) tests one point of `docs/semantics.md` on a fresh runtime from
//! a [`Target`], under a timeout, with panics caught, and ends as passed, failed, skipped
//! or crashed with details and a duration. A [`Report`] holds the results and a tally,
//! prints as text and serializes to JSON.
//!
//! Run it on your own backend, in-process:
//!
//! ```
//! use agent_conformance::{run_case, Status, Target};
//! use agent_plugin_api::plugin::Plugin;
//! use agent_plugin_mock::{MockOptions, MockRuntime};
//!
//! let target = Target::new("mock", || async {
//!     <MockRuntime as Plugin>::new(MockOptions::default())
//! });
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let report = run_case(&target, "chat.cancel_ends_turn").await.expect("a known check");
//! assert_eq!(report.status, Status::Passed, "{report}");
//! // `run_all(&target)` runs every check; print the report, or serialize it for `--json`.
//! # });
//! ```
//!
//! or through its real plugin file, as `agent-host check <path>` does, with
//! [`Target::from_library`]. In a test file, [`conformance_tests!`] makes one `#[test]`
//! per check:
//!
//! ```no_run
//! # use agent_conformance::Target;
//! # fn my_target() -> Target {
//! #     Target::new("mock", || async {
//! #         <agent_plugin_mock::MockRuntime as agent_plugin_api::plugin::Plugin>::new(Default::default())
//! #     })
//! # }
//! agent_conformance::conformance_tests!(my_target());
//! # fn main() {}
//! ```
//!
//! Modules: `target` (what is under test), `case` and `checks/*` (the checks, one file per
//! topic), `runner` (running them), `report` (the results), `macros`
//! ([`conformance_tests!`]).

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
