//! Small assertions that stop a check with a readable failure: what was expected, what came.

use std::fmt::{self, Debug, Display};
use std::time::Duration;

use agent_plugin_api::types::{AgentId, ChatResult, Content, ConversationMessage, Error, Role};
use agent_plugin_api::Runtime;

use crate::case::{CheckResult, Stop};

/// Stops the check as failed unless `$condition` holds.
macro_rules! ensure {
    ($condition:expr, $($details:tt)+) => {
        if !$condition {
            return Err($crate::case::Stop::Fail(format!($($details)+)));
        }
    };
}

/// Stops the check with a warning unless `$condition`: only the timing is off (the long
/// prompt was answered too soon to act on its turn), so the check cannot tell whether
/// the backend keeps the rule.
macro_rules! timing {
    ($condition:expr, $($details:tt)+) => {
        if !$condition {
            return Err($crate::case::Stop::Warn(format!($($details)+)));
        }
    };
}

/// Stops the check as skipped: it does not apply to this target.
macro_rules! skip {
    ($($reason:tt)+) => {
        return Err($crate::case::Stop::Skip(format!($($reason)+)))
    };
}

/// A `Runtime` call that must succeed for the check to go on.
pub(crate) trait Must<T> {
    /// `Ok(value)`, or a failure naming `call` and the error it returned.
    fn must(self, call: impl Display) -> Result<T, Stop>;
}

impl<T> Must<T> for Result<T, Error> {
    fn must(self, call: impl Display) -> Result<T, Stop> {
        self.map_err(|error| Stop::Fail(format!("{call} returned Err({error:?}): {error}")))
    }
}

/// The least a whole turn on the long prompt must take for the checks to act on it.
pub(crate) const LONG_TURN_MIN: Duration = Duration::from_millis(100);

/// What the long prompt's answer must take, in every message that depends on it.
pub(crate) const LONG_TURN: &str = "the long prompt's answer must take well over 100 ms \
     (docs/semantics.md, \"The conformance kit\"); give a longer one with \
     Target::with_long_prompt or `agent-host check --long-prompt`";

/// A duration for people: `250 ms`, `1.5 s`.
pub(crate) fn millis(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// Text shortened for a failure message.
pub(crate) fn brief(text: &str) -> String {
    const LIMIT: usize = 60;
    if text.chars().count() <= LIMIT {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head:?}…")
    }
}

/// Any value's `Debug` text, cut short for a failure message.
pub(crate) fn clip(value: &impl Debug) -> String {
    const LIMIT: usize = 120;
    let text = format!("{value:?}");
    if text.chars().count() <= LIMIT {
        text
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}…")
    }
}

/// How a turn ended, short: `Ok(answer "echo: …")` or `Err(Cancelled)`.
pub(crate) fn outcome(result: &Result<ChatResult, Error>) -> String {
    match result {
        Ok(result) => format!("Ok(answer {})", brief(&result.text)),
        Err(error) => format!("Err({error:?})"),
    }
}

/// One history entry as expected: a role and the text of its content.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub role: Role,
    pub text: String,
}

impl Entry {
    pub(crate) fn user(content: &Content) -> Self {
        Entry {
            role: Role::User,
            text: content.to_text(),
        }
    }

    pub(crate) fn model(answer: &str) -> Self {
        Entry {
            role: Role::Model,
            text: answer.to_owned(),
        }
    }

    fn of(message: &ConversationMessage) -> Self {
        Entry {
            role: message.role.clone(),
            text: message.content.to_text(),
        }
    }
}

impl Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.role, brief(&self.text))
    }
}

/// The history must be exactly `expected`, compared by role and text.
pub(crate) fn history_is(
    history: &[ConversationMessage],
    expected: &[Entry],
    situation: &str,
) -> CheckResult {
    let actual: Vec<Entry> = history.iter().map(Entry::of).collect();
    ensure!(
        actual == expected,
        "{situation}: expected history {expected:?} ({} messages), got {actual:?} ({} messages)",
        expected.len(),
        actual.len()
    );
    Ok(())
}

/// Every call that takes `agent` must return `Error::AgentNotStarted(agent)`.
pub(crate) async fn all_calls_not_started(
    runtime: &dyn Runtime,
    agent: AgentId,
    situation: &str,
) -> CheckResult {
    const LIMIT: Duration = Duration::from_secs(2);
    let probe = Content::text("conformance probe");
    let mut wrong = Vec::new();
    // `None` when the call answered as it must, else what it answered.
    let wrong_answer = |result: Result<String, Error>| match result {
        Err(Error::AgentNotStarted(id)) if id == agent => None,
        Err(error) => Some(format!("Err({error:?})")),
        Ok(value) => Some(format!("Ok({value})")),
    };
    let mut note = |call: &str, outcome: Result<Option<String>, Stop>| match outcome {
        Ok(None) => {}
        Ok(Some(answer)) => wrong.push(format!("{call} -> {answer}")),
        Err(Stop::Fail(details) | Stop::Warn(details) | Stop::Skip(details)) => wrong.push(details),
    };
    macro_rules! probe {
        ($call:literal, $future:expr) => {
            note(
                $call,
                // A call on a dead id that hangs is a broken rule, not slow timing: it
                // fails here rather than at the check's timeout.
                tokio::time::timeout(LIMIT, async {
                    wrong_answer($future.await.map(|value| clip(&value)))
                })
                .await
                .map_err(|_| {
                    Stop::Fail(format!("{} did not return within {}", $call, millis(LIMIT)))
                }),
            )
        };
    }
    probe!("chat", runtime.chat(agent, &probe));
    probe!("send", runtime.send(agent, &probe));
    probe!("cancel", runtime.cancel(agent));
    probe!("wait_for_idle", runtime.wait_for_idle(agent));
    probe!("signal_idle", runtime.signal_idle(agent));
    probe!(
        "wait_for_wakeup",
        runtime.wait_for_wakeup(agent, Duration::from_millis(10))
    );
    probe!("history", runtime.history(agent));
    probe!("turn_count", runtime.turn_count(agent));
    probe!("total_usage", runtime.total_usage(agent));
    probe!("last_turn_usage", runtime.last_turn_usage(agent));
    probe!("clear_history", runtime.clear_history(agent));
    probe!("last_response", runtime.last_response(agent));
    probe!("compaction_indices", runtime.compaction_indices(agent));
    probe!("is_idle", runtime.is_idle(agent));
    probe!("disconnect", runtime.disconnect(agent));
    probe!("delete", runtime.delete(agent));
    probe!("shutdown_agent", runtime.shutdown_agent(agent));
    ensure!(
        wrong.is_empty(),
        "{situation}, every call on agent {agent} must return Err(AgentNotStarted({agent})); \
         these did not: {}",
        wrong.join("; ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brief_keeps_short_text_and_cuts_long_text() {
        assert_eq!(brief("hi"), "\"hi\"");
        let long = "x".repeat(100);
        assert!(brief(&long).ends_with('…'));
        assert!(brief(&long).len() < 70);
    }

    #[test]
    fn clip_and_outcome_stay_short() {
        assert_eq!(clip(&Some(3)), "Some(3)");
        assert!(clip(&vec![0_u8; 200]).ends_with('…'));
        let answer = Ok(ChatResult {
            text: "y".repeat(500),
            ..ChatResult::default()
        });
        assert!(outcome(&answer).len() < 100, "{}", outcome(&answer));
        assert_eq!(outcome(&Err(Error::Cancelled)), "Err(Cancelled)");
    }

    #[test]
    fn millis_reads_well() {
        assert_eq!(millis(Duration::from_millis(250)), "250 ms");
        assert_eq!(millis(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn history_mismatch_says_both_sides() {
        let history = vec![ConversationMessage::new(Role::User, "a")];
        let expected = [Entry::user(&Content::text("b"))];
        let Err(Stop::Fail(details)) = history_is(&history, &expected, "after one turn") else {
            panic!("a different history must fail");
        };
        assert!(
            details.contains("\"a\"") && details.contains("\"b\""),
            "{details}"
        );
        assert!(history_is(&history, &[Entry::user(&Content::text("a"))], "same").is_ok());
    }

    #[test]
    fn must_names_the_call() {
        let failed: Result<(), Error> = Err(Error::Cancelled);
        let Err(Stop::Fail(details)) = failed.must("chat") else {
            panic!("an error must fail");
        };
        assert!(
            details.starts_with("chat returned Err(Cancelled)"),
            "{details}"
        );
    }
}
