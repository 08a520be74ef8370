//! Each case in a child process of its own, the way clap-validator runs plugin tests: a
//! plugin that segfaults, aborts or exits in one case is reported `crashed` with how its
//! process ended, and the next case runs in a fresh process.
//!
//! The child is this executable with the user's own arguments and `--case-child NAME`:
//! it runs that one case in-process and prints its report as JSON. It watches its stdin,
//! which this process holds open, so it ends when this process does (Ctrl-C, SIGTERM).

use std::ffi::OsString;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use agent_conformance::{Case, CaseReport, Status};
use agent_host::describe_exit_status;
use tokio::process::Command;

/// A child gets this long beyond the case's own timeout to start (load the plugin, start
/// an interpreter) and report.
const START_AND_REPORT: Duration = Duration::from_secs(10);

/// At most this many of a crashed child's last stderr lines go in its report.
const STDERR_LINES: usize = 8;

/// Runs `case` in a child process; what it reported, or how it ended when it could not.
pub(super) async fn run_case(case: &Case, check_timeout: Duration) -> CaseReport {
    let started = Instant::now();
    let limit = check_timeout + START_AND_REPORT;
    let ended = match spawn(case.name) {
        Ok(mut child) => {
            // Held open until the child has ended: its end of it closing means "stop".
            let _stdin = child.stdin.take();
            // Dropping the waiting future on a timeout kills the child (`kill_on_drop`).
            tokio::time::timeout(limit, child.wait_with_output())
                .await
                .map_err(|_| None)
                .and_then(|waited| waited.map_err(Some))
        }
        Err(error) => Err(Some(error)),
    };
    let report = |status, details| CaseReport {
        name: case.name.to_owned(),
        description: case.description.to_owned(),
        status,
        details,
        duration: started.elapsed(),
    };
    match ended {
        Ok(output) => {
            from_output(&output).unwrap_or_else(|details| report(Status::Crashed, details))
        }
        Err(None) => report(
            Status::Failed,
            format!(
                "timed out: the case's process gave no report within {} and was killed",
                humantime::format_duration(limit)
            ),
        ),
        Err(Some(error)) => report(
            Status::Crashed,
            format!("cannot run the case in a child process: {error}"),
        ),
    }
}

fn spawn(case: &str) -> std::io::Result<tokio::process::Child> {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    args.push("--case-child".into());
    args.push(case.into());
    Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
}

/// The child's report; `Err` with what is known when it gave none.
fn from_output(output: &Output) -> Result<CaseReport, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reported = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<CaseReport>(line).ok());
    match reported {
        Some(report) if output.status.success() => Ok(report),
        _ => {
            let mut details = format!(
                "the plugin's process died: {}",
                describe_exit_status(output.status)
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            let lines: Vec<&str> = stderr.lines().filter(|line| !line.is_empty()).collect();
            if !lines.is_empty() {
                details.push_str("; its last words on stderr:");
                for line in &lines[lines.len().saturating_sub(STDERR_LINES)..] {
                    details.push_str("\n  ");
                    details.push_str(line);
                }
            }
            Err(details)
        }
    }
}
