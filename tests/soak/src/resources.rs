//! What the soak watches in its own process, read from `/proc/self`: resident memory
//! (now and peak), threads and open file descriptors.

use anyhow::{Context, Result};

/// One reading of the process's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// `VmRSS`, in bytes.
    pub rss: u64,
    /// `VmHWM`, the peak resident size since start or the last [`reset_peak`], in bytes.
    pub peak: u64,
    pub threads: u64,
    pub fds: u64,
}

impl Sample {
    pub fn now() -> Result<Sample> {
        let status = std::fs::read_to_string("/proc/self/status")
            .context("cannot read /proc/self/status (the soak needs Linux)")?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .with_context(|| format!("/proc/self/status has no {name}"))?;
            let number = line.trim().trim_end_matches("kB").trim();
            let value: u64 = number
                .parse()
                .with_context(|| format!("/proc/self/status: {name}: {line:?}"))?;
            Ok(if line.trim_end().ends_with("kB") {
                value * 1024
            } else {
                value
            })
        };
        let fds = std::fs::read_dir("/proc/self/fd")
            .context("cannot list /proc/self/fd")?
            .count() as u64;
        Ok(Sample {
            rss: field("VmRSS")?,
            peak: field("VmHWM")?,
            threads: field("Threads")?,
            // read_dir holds one descriptor of its own while it lists.
            fds: fds.saturating_sub(1),
        })
    }
}

/// Resets `VmHWM` to the current resident size, so a phase can measure its own peak
/// (`echo 5 > /proc/self/clear_refs`, Linux 4.0 and later).
pub fn reset_peak() -> Result<()> {
    std::fs::write("/proc/self/clear_refs", "5")
        .context("cannot reset VmHWM (/proc/self/clear_refs)")
}

/// Bytes as mebibytes, for the table.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Signed difference in mebibytes.
pub fn mib_delta(after: u64, before: u64) -> f64 {
    mib(after) - mib(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let sample = Sample::now().unwrap();
        assert!(sample.rss > 0 && sample.peak >= sample.rss);
        assert!(sample.threads >= 1);
        // stdin, stdout, stderr at least (unless closed by the harness).
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let with_file = Sample::now().unwrap();
        assert_eq!(with_file.fds, sample.fds + 1);
        drop(file);
        reset_peak().unwrap();
    }
}
