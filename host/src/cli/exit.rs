//! How the CLI ends: exit codes, the one-line error, the one-line panic.
//!
//! 0 success; 1 an error (one line on stderr); 130 / 143 ended by SIGINT / SIGTERM
//! (see `signals`); 141 stdout was closed by its reader (as a shell shows a tool that
//! SIGPIPE ended), nothing printed; 101 an internal error (a bug: one line saying where).

use std::panic::PanicHookInfo;
use std::process::ExitCode;

use super::stdout::StdoutError;

/// Stdout's reader went away: 128 + SIGPIPE.
pub const STDOUT_CLOSED: u8 = 141;

/// The exit for an error that ended a command: one line on stderr, or none when the
/// reader of stdout went away.
pub fn fail(error: anyhow::Error) -> ExitCode {
    if matches!(
        error.downcast_ref::<StdoutError>(),
        Some(StdoutError::Closed)
    ) {
        return ExitCode::from(STDOUT_CLOSED);
    }
    eprintln!("agent-host: {error:#}");
    ExitCode::FAILURE
}

/// Replaces Rust's panic report (three lines and a hint) with one line, and ends a
/// command whose `println!` hit a closed stdout the way `fail` would.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info);
        if let Some(stdout_error) = message.strip_prefix("failed printing to stdout: ") {
            if stdout_error.starts_with("Broken pipe") {
                std::process::exit(STDOUT_CLOSED.into());
            }
            eprintln_quietly(&format!("agent-host: stdout: {stdout_error}"));
            std::process::exit(1);
        }
        if agent_plugin_api::host::panic_is_contained() {
            // A tool handler's panic: it becomes the tool's error result, not a crash.
            tracing::debug!("contained panic: {}", panic_line(&message, info.location()));
            return;
        }
        eprintln_quietly(&panic_line(&message, info.location()));
        // With RUST_BACKTRACE set, as Rust's own report would.
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            eprintln_quietly(&backtrace.to_string());
        }
    }));
}

/// Never panics, even with stderr closed (a panic in the hook aborts).
fn eprintln_quietly(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn panic_message(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// `agent-host: internal error: <message> (at <file>:<line>)`, on one line.
fn panic_line(message: &str, location: Option<&std::panic::Location<'_>>) -> String {
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match location {
        Some(location) => format!(
            "agent-host: internal error: {message} (at {}:{})",
            location.file(),
            location.line()
        ),
        None => format!("agent-host: internal error: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_one_line_saying_where() {
        let location = std::panic::Location::caller();
        let line = panic_line("two\nlines", Some(location));
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(
            line.starts_with("agent-host: internal error: two lines (at host/src/cli/exit.rs:"),
            "{line}"
        );
    }

    #[test]
    fn a_closed_stdout_ends_quietly_with_141() {
        let code = fail(StdoutError::Closed.into());
        assert_eq!(code, ExitCode::from(STDOUT_CLOSED));
    }
}
