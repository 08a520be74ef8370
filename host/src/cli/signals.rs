//! Ctrl-C (SIGINT) and SIGTERM for the CLI.
//!
//! The handlers are installed before any plugin is loaded, so an embedded interpreter
//! finds SIGINT already taken and leaves it alone. A signal the process inherited as
//! ignored (a shell's background job, `nohup`) stays ignored: the inherited disposition
//! is read from `/proc/self/status` before anything is installed.
//!
//! By default a signal ends the process at once with 128 + its number (130, 143), so
//! every command stops promptly. A command that wants to react (chat: cancel the turn)
//! calls [`Signals::catch`]; while the returned guard lives, the next signal is handed
//! to it instead, and any signal that arrives before it has called
//! [`Caught::handled`] (a second Ctrl-C while the first is still being dealt with)
//! ends the process at once.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// A signal the CLI reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, Ctrl-C.
    Interrupt,
    /// SIGTERM, how service managers ask a process to stop.
    Terminate,
}

impl Signal {
    fn number(self) -> u8 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }

    /// 128 + the signal number, the status a shell shows for a process it ended.
    pub fn exit_code(self) -> u8 {
        128 + self.number()
    }
}

/// Nobody catches signals: one ends the process.
const EXIT: u8 = 0;
/// A command catches the next signal.
const CATCH: u8 = 1;
/// A caught signal is being dealt with: another one ends the process.
const HANDLING: u8 = 2;

/// The CLI's signal handlers; see the module docs.
pub struct Signals {
    mode: Arc<AtomicU8>,
    received: mpsc::UnboundedReceiver<Signal>,
}

/// Installs the handlers (those not inherited as ignored) and the task that acts on
/// them. Needs a tokio runtime with a thread of its own, so that a command blocked on
/// its own thread still ends on a signal.
pub fn install() -> std::io::Result<Signals> {
    let ignored = IgnoredSignals::inherited();
    let listen = |wanted: Signal, kind: SignalKind| {
        if ignored.contains(wanted) {
            Ok(None)
        } else {
            signal(kind).map(Some)
        }
    };
    let interrupt = listen(Signal::Interrupt, SignalKind::interrupt())?;
    let terminate = listen(Signal::Terminate, SignalKind::terminate())?;
    let mode = Arc::new(AtomicU8::new(EXIT));
    let (sender, received) = mpsc::unbounded_channel();
    tokio::spawn(watch(interrupt, terminate, mode.clone(), sender));
    Ok(Signals { mode, received })
}

impl Signals {
    /// Hands signals to the caller until the guard is dropped.
    pub fn catch(&mut self) -> Caught<'_> {
        while self.received.try_recv().is_ok() {}
        self.mode.store(CATCH, Ordering::SeqCst);
        Caught { signals: self }
    }
}

/// Signals caught by a command; dropping it makes the next signal end the process.
pub struct Caught<'a> {
    signals: &'a mut Signals,
}

impl Caught<'_> {
    /// The next signal. Cancel-safe; never returns when no handler could be installed.
    pub async fn next(&mut self) -> Signal {
        match self.signals.received.recv().await {
            Some(signal) => signal,
            None => std::future::pending().await,
        }
    }

    /// The last signal has been dealt with: the next one is caught again.
    pub fn handled(&self) {
        self.signals.mode.store(CATCH, Ordering::SeqCst);
    }
}

impl Drop for Caught<'_> {
    fn drop(&mut self) {
        self.signals.mode.store(EXIT, Ordering::SeqCst);
    }
}

type Stream = tokio::signal::unix::Signal;

async fn watch(
    mut interrupt: Option<Stream>,
    mut terminate: Option<Stream>,
    mode: Arc<AtomicU8>,
    sender: mpsc::UnboundedSender<Signal>,
) {
    if interrupt.is_none() && terminate.is_none() {
        return;
    }
    loop {
        let signal = tokio::select! {
            Some(()) = arrival(&mut interrupt) => Signal::Interrupt,
            Some(()) = arrival(&mut terminate) => Signal::Terminate,
            else => return,
        };
        let caught = mode
            .compare_exchange(CATCH, HANDLING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if !caught || sender.send(signal).is_err() {
            // `exit` flushes stdout when it can without waiting for its lock.
            std::process::exit(signal.exit_code().into());
        }
    }
}

/// The next arrival of a signal; never, for one that is not listened to.
async fn arrival(stream: &mut Option<Stream>) -> Option<()> {
    match stream {
        Some(stream) => stream.recv().await,
        None => std::future::pending().await,
    }
}

/// The signals this process started with as ignored (`SigIgn` in `/proc/self/status`).
struct IgnoredSignals(u64);

impl IgnoredSignals {
    /// Read before any handler is installed; none when the file cannot be read.
    fn inherited() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        IgnoredSignals(parse_sig_ign(&status).unwrap_or(0))
    }

    fn contains(&self, signal: Signal) -> bool {
        self.0 & (1 << (signal.number() - 1)) != 0
    }
}

/// The `SigIgn:` mask (hex, bit n-1 for signal n) from the text of `/proc/<pid>/status`.
fn parse_sig_ign(status: &str) -> Option<u64> {
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))?;
    u64::from_str_radix(mask.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_ign_is_read_from_the_status_text() {
        let status = "Name:\tagent-host\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001002\nSigCgt:\t0000000180000000\n";
        let ignored = IgnoredSignals(parse_sig_ign(status).unwrap());
        assert!(ignored.contains(Signal::Interrupt));
        assert!(!ignored.contains(Signal::Terminate));
        assert_eq!(parse_sig_ign("Name:\tx\n"), None);
        assert_eq!(parse_sig_ign("SigIgn:\tnot hex\n"), None);
    }

    #[test]
    fn this_process_status_has_a_sig_ign_line() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(parse_sig_ign(&status).is_some(), "{status}");
    }

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
    }
}
