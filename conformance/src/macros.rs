//! `conformance_tests!`: one `#[test]` per check, for a plugin's own test suite.

/// Expands to one `#[test]` function per check, named after it with `.` replaced by `__`
/// (`chat.cancel_ends_turn` becomes `chat__cancel_ends_turn`), so `cargo test` lists,
/// filters and reports every check on its own.
///
/// `$target` is an expression giving a [`Target`](crate::Target) (or a reference to one);
/// it is evaluated once per test, inside that test's tokio runtime. Each test runs on a
/// multi-thread tokio runtime of its own, so the calling crate needs no tokio features. A
/// skipped check passes and prints why.
///
/// ```no_run
/// use agent_conformance::Target;
/// use agent_plugin_api::plugin::Plugin;
/// use agent_plugin_mock::{MockOptions, MockRuntime};
///
/// fn mock() -> Target {
///     Target::new("mock", || async {
///         <MockRuntime as Plugin>::new(MockOptions::default())
///     })
/// }
///
/// agent_conformance::conformance_tests!(mock());
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($target:expr) => {
        $crate::__conformance_registry!(__conformance_test_fns; $target);
    };
}

/// The registry: every check, in run order, as `test function name => check name,
/// topic::function, description;`. It is the one list: [`cases()`](crate::cases) (and so
/// every runner and `agent-host check`) and [`conformance_tests!`] both read it, by
/// handing it to `$crate::$callback!`. A check is added here and nowhere else.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_registry {
    ($callback:ident; $($arguments:tt)*) => {
        $crate::$callback! {
            ($($arguments)*)
            [
                agent__unique_ids => "agent.unique_ids", lifecycle::unique_ids,
                    "create_agent returns ids unique for the runtime's life, never reused after shutdown or delete";
                agent__invalid_config => "agent.invalid_config", lifecycle::invalid_config,
                    "create_agent refuses the target's invalid config with Error::InvalidConfig";
                agent__shutdown_then_not_started => "agent.shutdown_then_not_started", lifecycle::shutdown_then_not_started,
                    "after shutdown_agent every call on the id returns Error::AgentNotStarted(id)";
                agent__shutdown_cancels_turns => "agent.shutdown_cancels_turns", lifecycle::shutdown_cancels_turns,
                    "a turn running at shutdown ends with Error::Cancelled and a queued turn never runs";
                agent__unknown_id_not_started => "agent.unknown_id_not_started", lifecycle::unknown_id_not_started,
                    "every call with an id never created returns Error::AgentNotStarted(id)";
                agent__delete => "agent.delete", lifecycle::delete,
                    "delete shuts the agent down (AgentNotStarted afterwards) and leaves other agents alone";
                agent__try_shutdown_non_blocking => "agent.try_shutdown_non_blocking", lifecycle::try_shutdown_non_blocking,
                    "try_shutdown_agent returns without waiting for the turn, never panics (even off any \
         tokio runtime), and soon leaves the id AgentNotStarted";
                agent__disconnect => "agent.disconnect", lifecycle::disconnect,
                    "disconnect succeeds on a live agent, which stays usable";
                chat__handle_before_completion => "chat.handle_before_completion", chat::handle_before_completion,
                    "chat returns its handle as soon as the turn is queued, before the answer is complete";
                chat__text_matches_chunks => "chat.text_matches_chunks", chat::text_matches_chunks,
                    "the ChatResult text is every text chunk concatenated, in the text stream and in the timeline";
                chat__independent_streams => "chat.independent_streams", chat::independent_streams,
                    "each stream of a handle can be read or ignored on its own; an unread stream stalls nothing";
                chat__turns_in_call_order => "chat.turns_in_call_order", chat::turns_in_call_order,
                    "turns on one agent run one at a time, in call order";
                chat__drop_cancels => "chat.drop_cancels", chat::drop_cancels,
                    "dropping a handle cancels its turn: a queued turn never runs, a running one stops";
                chat__cancel_ends_turn => "chat.cancel_ends_turn", chat::cancel_ends_turn,
                    "cancel ends the running turn with Error::Cancelled; queued turns still run; chat works after";
                chat__cancel_without_turn => "chat.cancel_without_turn", chat::cancel_without_turn,
                    "cancel with no running turn is a no-op Ok(())";
                conversation__history_order => "conversation.history_order", conversation::history_order,
                    "history holds each completed turn's user then model message, oldest first";
                conversation__turn_count => "conversation.turn_count", conversation::turn_count,
                    "turn_count counts the completed turns since creation";
                conversation__usage_sums => "conversation.usage_sums", conversation::usage_sums,
                    "last_turn_usage is the last completed turn's usage (all None before one); total_usage \
         is the sum of every completed turn's, even across clear_history";
                conversation__clear_history => "conversation.clear_history", conversation::clear_history,
                    "clear_history empties the history, the turn count, last_response and compaction_indices";
                conversation__last_response => "conversation.last_response", conversation::last_response,
                    "last_response is the text of the last completed answer (None before one)";
                conversation__compaction_indices => "conversation.compaction_indices", conversation::compaction_indices,
                    "every compaction index is at most the history's length";
                conversation__cancelled_turn_changes_nothing => "conversation.cancelled_turn_changes_nothing", conversation::cancelled_turn_changes_nothing,
                    "a cancelled turn changes neither history, turn_count, usage nor last_response";
                conversation__failed_turn_changes_nothing => "conversation.failed_turn_changes_nothing", conversation::failed_turn_changes_nothing,
                    "a failed turn changes neither history, turn_count, usage nor last_response";
                saved__resumes_after_restart => "saved.resumes_after_restart", saved::resumes_after_restart,
                    "an agent created with the save_dir and conversation_id of one that shut down, in \
         a new runtime, resumes its history, turn_count and usage; a cancelled turn is not saved";
                saved__clear_and_delete => "saved.clear_and_delete", saved::clear_and_delete,
                    "clear_history clears the saved conversation (usage totals stay); delete removes it";
                saved__generated_id => "saved.generated_id", saved::generated_id,
                    "an agent with a save_dir and no conversation_id gets a new id, which conversation_id \
         reports and which resumes the conversation";
                saved__one_agent_per_conversation => "saved.one_agent_per_conversation", saved::one_agent_per_conversation,
                    "a second live agent on a saved conversation is refused with InvalidConfig; once the \
         first shuts down, it is not";
                idle__send_queues_turn => "idle.send_queues_turn", idle::send_queues_turn,
                    "send returns without waiting; its turn runs in order with chat turns and lands in the history";
                idle__send_wakes => "idle.send_wakes", idle::send_wakes,
                    "send wakes wait_for_wakeup: a waiter returns true when the message arrives, a \
         message sent earlier is reported at once and only once";
                idle__wakeup_times_out => "idle.wakeup_times_out", idle::wakeup_times_out,
                    "wait_for_wakeup with no message returns false once its timeout has passed";
                idle__wait_for_idle => "idle.wait_for_idle", idle::wait_for_idle,
                    "wait_for_idle returns at once on an idle agent, else when no turn is running or queued";
                idle__signal_idle => "idle.signal_idle", idle::signal_idle,
                    "signal_idle makes is_idle true and releases wait_for_idle until the next turn starts";
                idle__busy_during_turn => "idle.busy_during_turn", idle::busy_during_turn,
                    "is_idle is false while a turn is queued or running and true once none is";
                quota__backoff_at_least_retry_after => "quota.backoff_at_least_retry_after", quota::backoff_at_least_retry_after,
                    "wait_for_quota returns at once with no backoff, and after record_quota_hit(t) sleeps \
         at least t";
                quota__backoff_grows => "quota.backoff_grows", quota::backoff_grows,
                    "a second consecutive quota hit backs off longer than the first";
                quota__registry_per_runtime => "quota.registry_per_runtime", quota::registry_per_runtime,
                    "a quota hit on one runtime never delays another runtime";
                concurrency__many_agents => "concurrency.many_agents", concurrency::many_agents,
                    "100 agents chatting at the same time each get an answer and keep their own history";
                tools__call_and_result => "tools.call_and_result", tools::call_and_result,
                    "a tool call reaches the host's handler with the backend's arguments, and the call \
         and its result appear on the handle in order and in the history";
                tools__several_in_a_turn => "tools.several_in_a_turn", tools::several_in_a_turn,
                    "two tools called in one turn each reach their handler, each result after its call";
                tools__concurrent_calls => "tools.concurrent_calls", tools::concurrent_calls,
                    "calls the backend makes at once are served at once, each with its own result";
                tools__failing_tool => "tools.failing_tool", tools::failing_tool,
                    "a handler that fails or panics gives the backend an error result; the turn and the \
         runtime go on";
                tools__unknown_tool => "tools.unknown_tool", tools::unknown_tool,
                    "a call to a declared tool the host offers no handler for gives an error result, \
         not a crash";
                tools__cancel_during_call => "tools.cancel_during_call", tools::cancel_during_call,
                    "cancelling a turn while a tool call runs ends the turn with Cancelled and drops the \
         pending call";
            ]
        }
    };
}

/// The registry as `Vec<Case>`, for `cases()`.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    (() [$($test:ident => $case:literal, $topic:ident::$check:ident, $description:literal;)*]) => {
        vec![$(
            $crate::case::Case {
                name: $case,
                description: $description,
                run: |ctx| ::futures::FutureExt::boxed($crate::checks::$topic::$check(ctx)),
            }
        ),*]
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test_fns {
    (($target:expr) [$($test:ident => $case:literal, $topic:ident::$check:ident, $description:literal;)*]) => {
        $(
            #[test]
            #[allow(non_snake_case)]
            fn $test() {
                $crate::__private::run_case_as_test(|| $target, $case);
            }
        )*
    };
}

/// The registry as `[(test function name, check name)]`, for the unit test below.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test_pairs {
    (() [$($test:ident => $case:literal, $topic:ident::$check:ident, $description:literal;)*]) => {
        [$((stringify!($test), $case)),*]
    };
}

#[cfg(test)]
mod tests {
    use crate::case::case_names;

    #[test]
    fn test_function_names_are_the_check_names_with_double_underscores() {
        let pairs = crate::__conformance_registry!(__conformance_test_pairs;);
        let names: Vec<&str> = pairs.iter().map(|(_, case)| *case).collect();
        assert_eq!(names, case_names());
        for (test, case) in pairs {
            assert_eq!(test.replace("__", "."), case);
        }
    }
}
