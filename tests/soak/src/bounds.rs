//! The limits the soak checks, stated once and printed before it runs.
//!
//! Chosen from runs on the project's 2-core machine (figures in the README), with
//! headroom for a noisy CI neighbour: a leak of one allocation per cycle still exceeds
//! them, allocator and scheduling noise does not.

use std::fmt::Write as _;

use crate::watch::Leftovers;

/// The pause between chunks in the in-flight and dropped phases: far longer than either
/// phase, so each turn is mid-stream until it is cancelled.
pub const LONG_DELAY_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy)]
pub struct InFlightBounds {
    /// Resident memory per agent with a turn in flight, in KiB.
    pub rss_per_turn_kib: f64,
    /// What a second round leaves once every agent is cancelled and shut down.
    pub leftovers: Leftovers,
}

#[derive(Debug, Clone, Copy)]
pub struct DroppedBounds {
    /// The slowest time from dropping a handle mid-stream to its agent being idle.
    pub idle_after_drop_ms: f64,
    pub leftovers: Leftovers,
}

#[derive(Debug, Clone, Copy)]
pub struct LargeMessageBounds {
    /// Peak resident increase divided by the message size (issue 9: under 3x).
    pub peak_per_size: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// What create/chat/shutdown cycles may leave behind (resident growth counted after
    /// the warm-up).
    pub mock_cycles: Leftovers,
    pub python_cycles: Leftovers,
    pub in_flight: InFlightBounds,
    pub dropped: DroppedBounds,
    pub runtimes: Leftovers,
    pub large_message: LargeMessageBounds,
}

/// Threads and fds: a phase starts no thread and opens no file of its own once its
/// runtime exists, so anything left is a leak; 2 allows for a tokio worker still
/// exiting. Memory: see each value.
pub const BOUNDS: Bounds = Bounds {
    // Measured: +0.1 MiB over 98,000 cycles. 8 MiB is a leak of 86 bytes a cycle.
    mock_cycles: Leftovers {
        rss_mib: 8.0,
        threads: 2,
        fds: 2,
    },
    // Measured: -0.1 MiB over 19,600 cycles. 8 MiB is a leak of 430 bytes a cycle.
    python_cycles: Leftovers {
        rss_mib: 8.0,
        threads: 2,
        fds: 2,
    },
    // Measured: 9.8 KiB a turn in flight on the mock, 7.1 on Python; -5 to +8 MiB over a
    // second round of 10,000 (the first round's freed memory is reused, unevenly).
    // Leaking a whole turn would add about 98 MiB.
    in_flight: InFlightBounds {
        rss_per_turn_kib: 32.0,
        leftovers: Leftovers {
            rss_mib: 24.0,
            threads: 2,
            fds: 2,
        },
    },
    // Measured on the mock: -12 to +1 MiB over 10,000 dropped handles, idle at most
    // 18 ms after the drop (64 dropped at once; Python: see the README).
    dropped: DroppedBounds {
        idle_after_drop_ms: 1000.0,
        leftovers: Leftovers {
            rss_mib: 8.0,
            threads: 2,
            fds: 2,
        },
    },
    // Measured: +0.1 MiB over 10,000 mock runtimes, 0 over 2,000 Python ones.
    runtimes: Leftovers {
        rss_mib: 8.0,
        threads: 2,
        fds: 2,
    },
    // Measured on the code of 2026-12-01: 21x (1 GB for 50 MB). Issue 9 asks for 3x
    // while the echo streams. Measured 2026-12-02 at scale 0.2: 2.6-2.7x with the phase
    // alone, 2.0-2.1x after the other phases (the allocator reuses their heap); the
    // caller's copy from `text()` adds about 1x and is reported, not bounded (bounding it
    // too, as before, passed only on that warm heap: 2.9-3.0x, 3.6-3.9x alone).
    large_message: LargeMessageBounds { peak_per_size: 3.0 },
};

impl Bounds {
    /// The bounds as the lines printed before the run.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let cycles = |out: &mut String, phase: &str, bounds: &Leftovers| {
            let _ = writeln!(out, "  {phase}: {} (after warm-up)", bounds.describe());
        };
        cycles(&mut out, "mock-cycles", &self.mock_cycles);
        cycles(&mut out, "python-cycles", &self.python_cycles);
        let in_flight = &self.in_flight;
        let _ = writeln!(
            out,
            "  in-flight: every turn mid-stream at once, <= {} KiB per turn; after a second round cancelled and shut down: {}",
            in_flight.rss_per_turn_kib,
            in_flight.leftovers.describe()
        );
        let dropped = &self.dropped;
        let _ = writeln!(
            out,
            "  mock-dropped, python-dropped: idle <= {} ms after the drop, {}",
            dropped.idle_after_drop_ms,
            dropped.leftovers.describe()
        );
        cycles(&mut out, "mock-runtimes, python-runtimes", &self.runtimes);
        let _ = writeln!(
            out,
            "  large-message: peak rss increase while it streams <= {}x the message size",
            self.large_message.peak_per_size
        );
        out
    }
}
