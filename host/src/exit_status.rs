//! How a child process ended, in the words an operator expects: `SIGSEGV`, `exit status 3`
//! (a plugin scanner, an isolated plugin's process).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

pub fn describe(status: ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        let core = if status.core_dumped() {
            " (core dumped)"
        } else {
            ""
        };
        return format!("{}{core}", signal_name(signal));
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

/// `SIGSEGV` for 11, and so on; `signal N` for one without a common name.
pub(crate) fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_and_codes_read_as_words() {
        assert_eq!(describe(ExitStatus::from_raw(11)), "SIGSEGV");
        assert_eq!(
            describe(ExitStatus::from_raw(6 | 0x80)),
            "SIGABRT (core dumped)"
        );
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(describe(ExitStatus::from_raw(0)), "exit status 0");
        assert_eq!(describe(ExitStatus::from_raw(64)), "signal 64");
    }
}
