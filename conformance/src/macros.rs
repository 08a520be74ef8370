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
        $crate::__conformance_case_list!(__conformance_test_fns; $target);
    };
}

/// Hands the list of every check (test function name => check name) to
/// `$crate::$callback!`. Macros cannot build identifiers from strings, so the list is
/// written out; a unit test keeps it equal to `case_names()`.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case_list {
    ($callback:ident; $($arguments:tt)*) => {
        $crate::$callback! {
            ($($arguments)*)
            [
                agent__unique_ids => "agent.unique_ids",
                agent__invalid_config => "agent.invalid_config",
                agent__shutdown_then_not_started => "agent.shutdown_then_not_started",
                agent__shutdown_cancels_turns => "agent.shutdown_cancels_turns",
                agent__unknown_id_not_started => "agent.unknown_id_not_started",
                agent__delete => "agent.delete",
                agent__try_shutdown_non_blocking => "agent.try_shutdown_non_blocking",
                agent__disconnect => "agent.disconnect",
                chat__handle_before_completion => "chat.handle_before_completion",
                chat__text_matches_chunks => "chat.text_matches_chunks",
                chat__independent_streams => "chat.independent_streams",
                chat__turns_in_call_order => "chat.turns_in_call_order",
                chat__drop_cancels => "chat.drop_cancels",
                chat__cancel_ends_turn => "chat.cancel_ends_turn",
                chat__cancel_without_turn => "chat.cancel_without_turn",
                conversation__history_order => "conversation.history_order",
                conversation__turn_count => "conversation.turn_count",
                conversation__usage_sums => "conversation.usage_sums",
                conversation__clear_history => "conversation.clear_history",
                conversation__last_response => "conversation.last_response",
                conversation__compaction_indices => "conversation.compaction_indices",
                conversation__cancelled_turn_changes_nothing => "conversation.cancelled_turn_changes_nothing",
                conversation__failed_turn_changes_nothing => "conversation.failed_turn_changes_nothing",
                idle__send_queues_turn => "idle.send_queues_turn",
                idle__send_wakes => "idle.send_wakes",
                idle__wakeup_times_out => "idle.wakeup_times_out",
                idle__wait_for_idle => "idle.wait_for_idle",
                idle__signal_idle => "idle.signal_idle",
                idle__busy_during_turn => "idle.busy_during_turn",
                quota__backoff_at_least_retry_after => "quota.backoff_at_least_retry_after",
                quota__backoff_grows => "quota.backoff_grows",
                quota__registry_per_runtime => "quota.registry_per_runtime",
                concurrency__many_agents => "concurrency.many_agents",
                tools__call_and_result => "tools.call_and_result",
                tools__several_in_a_turn => "tools.several_in_a_turn",
                tools__concurrent_calls => "tools.concurrent_calls",
                tools__failing_tool => "tools.failing_tool",
                tools__unknown_tool => "tools.unknown_tool",
                tools__cancel_during_call => "tools.cancel_during_call",
            ]
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test_fns {
    (($target:expr) [$($test:ident => $case:literal,)*]) => {
        $(
            #[test]
            #[allow(non_snake_case)]
            fn $test() {
                $crate::__private::run_case_as_test(|| $target, $case);
            }
        )*
    };
}

/// The list as `[(test function name, check name)]`, for the unit test below.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case_pairs {
    (() [$($test:ident => $case:literal,)*]) => {
        [$((stringify!($test), $case)),*]
    };
}

#[cfg(test)]
mod tests {
    use crate::case::case_names;

    #[test]
    fn the_macro_lists_every_check_in_order() {
        let pairs = crate::__conformance_case_list!(__conformance_case_pairs;);
        let listed: Vec<&str> = pairs.iter().map(|(_, case)| *case).collect();
        assert_eq!(listed, case_names());
    }

    #[test]
    fn test_names_are_check_names_with_dots_doubled_into_underscores() {
        let pairs = crate::__conformance_case_list!(__conformance_case_pairs;);
        for (test, case) in pairs {
            assert_eq!(test, case.replace('.', "__"));
        }
    }
}
