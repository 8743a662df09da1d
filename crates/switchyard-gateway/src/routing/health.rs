//! What the gateway has seen of each routing target (a provider, model and
//! credential): a recency-weighted latency for latency-based routing, and a cooldown
//! for targets that keep failing.
//!
//! Cooldown: after [`COOLDOWN_AFTER_FAILURES`] retryable failures in a row, a target is
//! skipped for [`COOLDOWN`] (unless every step of a policy is cooling); one success
//! clears the count.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::time::{Duration, Instant};

/// Consecutive retryable failures that put a target in cooldown.
pub const COOLDOWN_AFTER_FAILURES: u32 = 3;
/// How long a failing target is skipped.
pub const COOLDOWN: Duration = Duration::from_secs(30);
/// Latency samples older than this say nothing about the target any more.
pub const LATENCY_MAX_AGE: Duration = Duration::from_secs(3600);
/// Weight of the newest sample once a target has many: about the last 100 requests.
const EWMA_ALPHA: f64 = 2.0 / 101.0;

#[derive(Debug, Default)]
struct TargetHealth {
    latency_ms: f64,
    samples: u64,
    last_sample: Option<Instant>,
    consecutive_failures: u32,
    cooling_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct RouteHealth {
    // A plain mutex: every critical section is a few arithmetic operations and none
    // is held across an await.
    targets: Mutex<HashMap<String, TargetHealth>>,
}

impl RouteHealth {
    fn with<T>(&self, target: &str, f: impl FnOnce(&mut TargetHealth) -> T) -> T {
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        f(targets.entry(target.to_string()).or_default())
    }

    /// A successful answer; `latency_ms` is time to first token for streams.
    pub fn record_success(&self, target: &str, latency_ms: f64) {
        let now = Instant::now();
        self.with(target, |h| {
            let stale = h
                .last_sample
                .is_none_or(|t| now.duration_since(t) > LATENCY_MAX_AGE);
            if stale {
                h.samples = 0;
            }
            h.samples += 1;
            // A plain mean while samples are few, then an exponential moving average.
            let alpha = (1.0 / h.samples as f64).max(EWMA_ALPHA);
            h.latency_ms += alpha * (latency_ms - h.latency_ms);
            h.last_sample = Some(now);
            h.consecutive_failures = 0;
            h.cooling_until = None;
        });
    }

    /// A failure that retrying could fix (timeouts, 429, 5xx, connection errors).
    pub fn record_failure(&self, target: &str) {
        let now = Instant::now();
        self.with(target, |h| {
            h.consecutive_failures += 1;
            if h.consecutive_failures >= COOLDOWN_AFTER_FAILURES {
                h.cooling_until = Some(now + COOLDOWN);
                h.consecutive_failures = 0;
                tracing::warn!(
                    target,
                    cooldown_s = COOLDOWN.as_secs(),
                    "routing target cooling down after repeated failures"
                );
            }
        });
    }

    /// Recent latency, if there is any.
    pub fn latency_ms(&self, target: &str) -> Option<f64> {
        let now = Instant::now();
        self.with(target, |h| {
            let fresh = h
                .last_sample
                .is_some_and(|t| now.duration_since(t) <= LATENCY_MAX_AGE);
            (fresh && h.samples > 0).then_some(h.latency_ms)
        })
    }

    pub fn is_cooling(&self, target: &str) -> bool {
        let now = Instant::now();
        self.with(target, |h| h.cooling_until.is_some_and(|t| t > now))
    }

    /// A snapshot for the admin API: target -> (latency ms, cooling).
    pub fn report(&self) -> Vec<(String, Option<f64>, bool)> {
        let now = Instant::now();
        let targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<_> = targets
            .iter()
            .map(|(name, h)| {
                (
                    name.clone(),
                    (h.samples > 0).then_some(h.latency_ms),
                    h.cooling_until.is_some_and(|t| t > now),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn cools_down_after_repeated_failures_and_recovers() {
        let h = RouteHealth::default();
        h.record_failure("a");
        h.record_failure("a");
        assert!(!h.is_cooling("a"));
        h.record_failure("a");
        assert!(h.is_cooling("a"));
        tokio::time::advance(COOLDOWN + Duration::from_millis(1)).await;
        assert!(!h.is_cooling("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn latency_follows_recent_samples_and_expires() {
        let h = RouteHealth::default();
        assert_eq!(h.latency_ms("a"), None);
        h.record_success("a", 100.0);
        h.record_success("a", 200.0);
        assert_eq!(h.latency_ms("a"), Some(150.0));
        for _ in 0..300 {
            h.record_success("a", 500.0);
        }
        assert!(h.latency_ms("a").unwrap() > 490.0);
        tokio::time::advance(LATENCY_MAX_AGE + Duration::from_secs(1)).await;
        assert_eq!(h.latency_ms("a"), None);
    }
}
