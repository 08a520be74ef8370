//! `Duration` on the wire: seconds and nanoseconds, saturating on the way back.

use std::time::Duration;

use abi_stable::StableAbi;

#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, Default)]
pub struct FfiDuration {
    pub secs: u64,
    pub nanos: u32,
}

impl From<Duration> for FfiDuration {
    fn from(duration: Duration) -> Self {
        FfiDuration {
            secs: duration.as_secs(),
            nanos: duration.subsec_nanos(),
        }
    }
}

impl From<FfiDuration> for Duration {
    fn from(duration: FfiDuration) -> Self {
        Duration::new(duration.secs, duration.nanos.min(999_999_999))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_durations_cross_without_wrapping() {
        assert_eq!(
            Duration::from(FfiDuration::from(Duration::MAX)),
            Duration::MAX
        );
        let broken = FfiDuration {
            secs: u64::MAX,
            nanos: u32::MAX,
        };
        assert_eq!(Duration::from(broken), Duration::MAX);
    }
}
