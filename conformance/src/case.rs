//! A named check and the list of all of them.

use futures::future::BoxFuture;

use crate::ctx::Ctx;

/// Why a check stopped before its end: the backend broke a rule, only the timing was
/// off (the check cannot tell whether a rule was kept), or the check does not apply to
/// this target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    Fail(String),
    Warn(String),
    Skip(String),
}

impl From<String> for Stop {
    fn from(details: String) -> Self {
        Stop::Fail(details)
    }
}

pub(crate) type CheckResult = Result<(), Stop>;

/// One conformance check: a point of `semantics.md`, checked on a fresh runtime.
#[derive(Clone, Copy)]
pub struct Case {
    /// Dotted, topic first: `chat.cancel_ends_turn`.
    pub name: &'static str,
    /// What the backend must do, in one sentence.
    pub description: &'static str,
    pub(crate) run: fn(Ctx) -> BoxFuture<'static, CheckResult>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// Every check, in the order they run and are reported: the registry
/// (`__conformance_registry!` in `macros.rs`), which `conformance_tests!` reads too.
pub fn cases() -> Vec<Case> {
    crate::__conformance_registry!(__conformance_cases;)
}

/// The names of every check, in run order.
pub fn case_names() -> Vec<&'static str> {
    cases().iter().map(|case| case.name).collect()
}

/// The check called `name`.
pub fn find_case(name: &str) -> Option<Case> {
    cases().into_iter().find(|case| case.name == name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_are_unique_dotted_and_described() {
        let names = case_names();
        let unique: HashSet<_> = names.iter().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "duplicate case names in {names:?}"
        );
        for case in cases() {
            let (topic, rest) = case.name.split_once('.').expect("a dotted name");
            assert!(!topic.is_empty() && !rest.is_empty(), "{}", case.name);
            assert!(
                case.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'),
                "{} must be lowercase ascii, dots and underscores",
                case.name
            );
            assert!(
                !case.description.is_empty(),
                "{} has no description",
                case.name
            );
        }
    }

    #[test]
    fn find_case_knows_every_name_and_nothing_else() {
        for name in case_names() {
            assert_eq!(find_case(name).map(|case| case.name), Some(name));
        }
        assert!(find_case("chat").is_none());
    }
}
