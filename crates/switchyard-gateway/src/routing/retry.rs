//! When to retry and how long to wait: exponential backoff with jitter, honouring the
//! provider's `Retry-After` (capped), and which failures retrying can fix.

use axum::http::{HeaderMap, StatusCode};
use std::time::Duration;

/// First backoff; each further retry doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest backoff between two tries.
pub const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// Longest `Retry-After` honoured; a provider asking for more is treated as this.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);
/// Jitter as a share of the backoff, either way.
pub const JITTER: f64 = 0.10;

/// Whether retrying (the same or another step) could fix a response with this status.
/// 400, 401, 403, 404, 413 and other client errors are the request's or the account's
/// fault: those move on to the next step at once.
pub fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// `Retry-After` as seconds or an HTTP date, capped.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    let wait = match value.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        _ => {
            let format = time::format_description::well_known::Rfc2822;
            let at = time::OffsetDateTime::parse(value, &format).ok()?;
            let delta = at - time::OffsetDateTime::now_utc();
            Duration::try_from(delta).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(RETRY_AFTER_CAP))
}

/// The wait before retry number `retry` (0 for the first retry). `unit` in [0, 1)
/// picks the jitter, so callers (and tests) control the randomness.
pub fn backoff(retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
    if let Some(wait) = retry_after {
        return wait;
    }
    let exponential = BACKOFF_BASE.saturating_mul(1u32 << retry.min(16));
    let capped = exponential.min(BACKOFF_CAP);
    let factor = 1.0 + JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    capped.mul_f64(factor)
}

/// A uniform number in [0, 1) from the OS's randomness.
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn backoff_doubles_from_half_a_second_with_ten_percent_jitter_and_a_cap() {
        assert_eq!(backoff(0, None, 0.5), Duration::from_millis(500));
        assert_eq!(backoff(1, None, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(2, None, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(3, None, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(9, None, 0.5), BACKOFF_CAP);
        assert_eq!(backoff(0, None, 0.0), Duration::from_millis(450));
        assert!(backoff(0, None, 0.999_999) <= Duration::from_millis(550));
        assert_eq!(
            backoff(3, Some(Duration::from_secs(7)), 0.0),
            Duration::from_secs(7)
        );
        let r = random_unit();
        assert!((0.0..1.0).contains(&r));
    }

    #[test]
    fn retry_after_reads_seconds_and_is_capped() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after", HeaderValue::from_static("3600"));
        assert_eq!(retry_after(&h), Some(RETRY_AFTER_CAP));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn only_errors_retrying_can_fix_are_retryable() {
        for code in [408, 429, 500, 502, 503, 504, 529] {
            assert!(
                is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 413, 422] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }
}
