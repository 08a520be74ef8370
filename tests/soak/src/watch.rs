//! Before and after a phase: the resident growth, threads and descriptors it left behind.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::report::Report;
use crate::resources::{mib_delta, Sample};

/// How long threads and descriptors may take to go away after a phase (a worker that is
/// still exiting): the sample is retried until they are within bounds or this passes.
const SETTLE: Duration = Duration::from_secs(3);

/// What a phase may leave behind once its agents are shut down.
#[derive(Debug, Clone, Copy)]
pub struct Leftovers {
    /// Resident growth over the phase, in MiB.
    pub rss_mib: f64,
    pub threads: u64,
    pub fds: u64,
}

impl Leftovers {
    /// `rss growth <= 8 MiB, threads +2, fds +2`.
    pub fn describe(&self) -> String {
        format!(
            "rss growth <= {} MiB, threads +{}, fds +{}",
            self.rss_mib, self.threads, self.fds
        )
    }
}

/// The sample taken when a phase started.
#[derive(Debug)]
pub struct Watch {
    phase: &'static str,
    before: Sample,
}

impl Watch {
    pub fn start(phase: &'static str) -> Result<Watch> {
        Ok(Watch {
            phase,
            before: Sample::now()?,
        })
    }

    /// Samples after the phase and reports growth in resident memory, threads and fds
    /// against `allowed`. Returns the sample.
    pub async fn finish(&self, report: &mut Report, allowed: Leftovers) -> Result<Sample> {
        let started = Instant::now();
        let after = loop {
            let after = Sample::now()?;
            let settled = after.threads <= self.before.threads + allowed.threads
                && after.fds <= self.before.fds + allowed.fds;
            if settled || started.elapsed() > SETTLE {
                break after;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let phase = self.phase;
        report.bounded(
            phase,
            "rss growth",
            mib_delta(after.rss, self.before.rss),
            "MiB",
            allowed.rss_mib,
        );
        report.bounded(
            phase,
            "threads added",
            after.threads as f64 - self.before.threads as f64,
            "",
            allowed.threads as f64,
        );
        report.bounded(
            phase,
            "fds added",
            after.fds as f64 - self.before.fds as f64,
            "",
            allowed.fds as f64,
        );
        Ok(after)
    }
}
