//! Per-runtime quota backoff, keyed by API key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest backoff there is: a longer `retry_after` (up to `Duration::MAX`), base or
/// cap counts as this. Saturating here keeps every deadline representable, so huge
/// values never wrap to zero or panic.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);

/// How backoff grows on consecutive quota hits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// Backoff after a first hit that came with no `retry_after` (zero).
    pub base: Duration,
    /// Backoff never grows past this (unless a server's `retry_after` asks for more).
    pub cap: Duration,
    /// Each consecutive hit multiplies the backoff by this (a value that is not a finite,
    /// positive number counts as 1).
    pub multiplier: f64,
    /// Up to this fraction is added at random, so clients sharing a key spread out (a
    /// value that is not a finite, non-negative number counts as 0).
    pub jitter: f64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: 0.1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct KeyState {
    consecutive_hits: u32,
    until: Instant,
}

/// Remembers, per API key, until when calls should hold off.
///
/// Each runtime owns one; a plugin's registry lives in the plugin and the host sees it
/// through the ABI.
pub struct QuotaRegistry {
    store: Store,
}

enum Store {
    Local {
        policy: BackoffPolicy,
        keys: Mutex<HashMap<String, KeyState>>,
    },
    Remote(Box<dyn RemoteQuota>),
}

/// A registry that lives on the other side of the plugin boundary.
pub(crate) trait RemoteQuota: Send + Sync {
    fn record_hit(&self, key: &str, retry_after: Duration) -> Duration;
    fn record_success(&self, key: &str);
    fn remaining(&self, key: &str) -> Option<Duration>;
    fn consecutive_hits(&self, key: &str) -> u32;
}

impl Default for QuotaRegistry {
    fn default() -> Self {
        QuotaRegistry::new(BackoffPolicy::default())
    }
}

impl std::fmt::Debug for QuotaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.store {
            Store::Local { policy, .. } => f
                .debug_struct("QuotaRegistry")
                .field("policy", policy)
                .finish(),
            Store::Remote(_) => f.write_str("QuotaRegistry(in plugin)"),
        }
    }
}

impl QuotaRegistry {
    pub fn new(policy: BackoffPolicy) -> Self {
        QuotaRegistry {
            store: Store::Local {
                policy,
                keys: Mutex::new(HashMap::new()),
            },
        }
    }

    pub(crate) fn remote(remote: Box<dyn RemoteQuota>) -> Self {
        QuotaRegistry {
            store: Store::Remote(remote),
        }
    }

    /// Records a quota error for `key`; returns the backoff now in force.
    ///
    /// The backoff starts at `retry_after` (or the policy's base when that is zero), grows
    /// exponentially with each consecutive hit, capped and jittered, and is never less
    /// than `retry_after`; nor more than [`MAX_BACKOFF`], which is what a `retry_after` of
    /// `Duration::MAX` gives.
    pub fn record_hit(&self, key: &str, retry_after: Duration) -> Duration {
        let (policy, keys) = match &self.store {
            Store::Remote(remote) => return remote.record_hit(key, retry_after),
            Store::Local { policy, keys } => (policy, keys),
        };
        let mut keys = keys.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let state = keys.entry(key.to_owned()).or_insert(KeyState {
            consecutive_hits: 0,
            until: now,
        });
        state.consecutive_hits = state.consecutive_hits.saturating_add(1);
        let backoff = backoff_for(policy, state.consecutive_hits, retry_after);
        // `backoff` is at most a day, so this cannot overflow; if it did, keep the old end.
        let until = now.checked_add(backoff).unwrap_or(state.until);
        state.until = state.until.max(until);
        state.until.saturating_duration_since(now)
    }

    /// A call went through: the next hit starts from the base backoff again.
    pub fn record_success(&self, key: &str) {
        match &self.store {
            Store::Remote(remote) => remote.record_success(key),
            Store::Local { keys, .. } => {
                keys.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
            }
        }
    }

    /// How long calls with `key` should still wait, if at all.
    pub fn remaining(&self, key: &str) -> Option<Duration> {
        match &self.store {
            Store::Remote(remote) => remote.remaining(key),
            Store::Local { keys, .. } => {
                let keys = keys.lock().unwrap_or_else(|p| p.into_inner());
                let until = keys.get(key)?.until;
                let left = until.saturating_duration_since(Instant::now());
                (!left.is_zero()).then_some(left)
            }
        }
    }

    pub fn consecutive_hits(&self, key: &str) -> u32 {
        match &self.store {
            Store::Remote(remote) => remote.consecutive_hits(key),
            Store::Local { keys, .. } => keys
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(key)
                .map_or(0, |state| state.consecutive_hits),
        }
    }

    /// Sleeps until the backoff for `key` has passed (at once if there is none).
    pub async fn wait(&self, key: &str) {
        while let Some(left) = self.remaining(key) {
            tokio::time::sleep(left).await;
        }
    }
}

fn backoff_for(policy: &BackoffPolicy, hits: u32, retry_after: Duration) -> Duration {
    let retry_after = retry_after.min(MAX_BACKOFF);
    let exponent = hits.saturating_sub(1).min(30) as i32;
    // The server's word, when it gave one; otherwise our own base.
    let start = if retry_after.is_zero() {
        policy.base.min(MAX_BACKOFF)
    } else {
        retry_after
    };
    let multiplier = Some(policy.multiplier)
        .filter(|m| m.is_finite() && *m > 0.0)
        .unwrap_or(1.0);
    let jitter = Some(policy.jitter)
        .filter(|j| j.is_finite() && *j >= 0.0)
        .unwrap_or(0.0);
    let ceiling = policy.cap.min(MAX_BACKOFF).max(retry_after);
    // Every factor is finite and non-negative, so this is a number (possibly infinite,
    // which `min` brings back under the ceiling).
    let grown = start.as_secs_f64() * multiplier.powi(exponent);
    let capped = grown.min(ceiling.as_secs_f64());
    let jittered = capped * (1.0 + jitter * fastrand::f64());
    Duration::try_from_secs_f64(jittered)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
        .max(retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BackoffPolicy {
        BackoffPolicy {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(100),
            multiplier: 2.0,
            jitter: 0.0,
        }
    }

    #[test]
    fn grows_exponentially_and_caps() {
        let registry = QuotaRegistry::new(policy());
        let hits: Vec<_> = (0..6)
            .map(|_| {
                let backoff = registry.record_hit("k", Duration::ZERO);
                registry.record_hit("other", Duration::ZERO);
                backoff.as_millis()
            })
            .collect();
        // Each backoff counts from the previous end, so compare the ratio of fresh hits.
        assert!(hits[0] >= 10 && hits[0] <= 11, "{hits:?}");
        assert!(hits.windows(2).all(|w| w[1] >= w[0]), "{hits:?}");
        assert_eq!(registry.consecutive_hits("k"), 6);
        assert!(backoff_for(&policy(), 10, Duration::ZERO) <= Duration::from_millis(100));
    }

    #[test]
    fn never_less_than_retry_after() {
        let registry = QuotaRegistry::new(policy());
        let backoff = registry.record_hit("k", Duration::from_millis(500));
        assert!(backoff >= Duration::from_millis(499), "{backoff:?}");
        assert!(registry.remaining("k").is_some());
        assert!(registry.remaining("other").is_none());
    }

    #[test]
    fn success_resets() {
        let registry = QuotaRegistry::new(policy());
        registry.record_hit("k", Duration::ZERO);
        registry.record_success("k");
        assert_eq!(registry.consecutive_hits("k"), 0);
        assert!(registry.remaining("k").is_none());
    }

    #[test]
    fn huge_retry_afters_saturate_at_the_longest_backoff() {
        let registry = QuotaRegistry::new(policy());
        for retry_after in [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            MAX_BACKOFF * 2,
        ] {
            let backoff = registry.record_hit("k", retry_after);
            assert_eq!(backoff, MAX_BACKOFF, "{retry_after:?}");
            let left = registry.remaining("k").unwrap();
            assert!(left > MAX_BACKOFF - Duration::from_secs(1), "{left:?}");
        }
        assert_eq!(registry.consecutive_hits("k"), 3);
    }

    #[test]
    fn extreme_policies_stay_in_bounds() {
        let policies = [
            BackoffPolicy {
                base: Duration::MAX,
                cap: Duration::MAX,
                multiplier: f64::INFINITY,
                jitter: f64::MAX,
            },
            BackoffPolicy {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(100),
                multiplier: f64::NAN,
                jitter: f64::NAN,
            },
            BackoffPolicy {
                base: Duration::from_millis(10),
                cap: Duration::ZERO,
                multiplier: -3.0,
                jitter: -1.0,
            },
        ];
        for policy in policies {
            for hits in [1, 2, 31, u32::MAX] {
                for retry_after in [Duration::ZERO, Duration::from_millis(5), Duration::MAX] {
                    let backoff = backoff_for(&policy, hits, retry_after);
                    assert!(backoff <= MAX_BACKOFF, "{policy:?} {hits} {retry_after:?}");
                    assert!(backoff >= retry_after.min(MAX_BACKOFF));
                }
            }
        }
        let huge = QuotaRegistry::new(policies[0]);
        assert_eq!(huge.record_hit("k", Duration::ZERO), MAX_BACKOFF);
    }

    #[tokio::test]
    async fn wait_sleeps_until_the_backoff_passes() {
        let registry = QuotaRegistry::new(policy());
        registry.record_hit("k", Duration::from_millis(50));
        let start = Instant::now();
        registry.wait("k").await;
        assert!(start.elapsed() >= Duration::from_millis(50));
    }
}
