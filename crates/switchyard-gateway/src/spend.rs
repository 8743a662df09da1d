//! Monthly spend limits and spend alerts, from in-memory counters.
//!
//! The counters hold this calendar month's spend (local time) for the gateway and per
//! key. They are loaded from the store at start, so they are right after a restart,
//! and grow as each request's record is sent to the store. Checking a limit is a
//! lookup under a short lock: nothing on the request path touches the disk.
//!
//! A request is refused once spend has *reached* a limit. Requests already running
//! when the limit is reached still finish and are counted, so spend can exceed a
//! limit by at most the cost of the requests in flight at that moment.

use crate::config::{Config, WebhookFormat};
use crate::errors::{ApiError, ErrorKind};
use crate::snapshot::{ActiveKey, Snapshot};
use axum::http::StatusCode;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use switchyard_store::{AlertEvent, Store, StoreError};
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// A calendar month in local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u8,
}

impl Month {
    pub fn of(t: OffsetDateTime) -> Month {
        Month {
            year: t.year(),
            month: u8::from(t.month()),
        }
    }

    pub fn now() -> Month {
        Month::of(local_now())
    }

    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The first day of the next month, `YYYY-MM-DD`.
    pub fn resets_on(self) -> String {
        let next = self.next();
        format!("{:04}-{:02}-01", next.year, next.month)
    }

    /// Unix milliseconds at the start of this month, local time.
    pub fn start_ms(self, offset: time::UtcOffset) -> i64 {
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        time::Date::from_calendar_date(self.year, month, 1)
            .map(|d| d.midnight().assume_offset(offset).unix_timestamp() * 1000)
            .unwrap_or(0)
    }
}

/// The machine's current UTC offset. Read through jiff: `time`'s own lookup refuses to
/// work in multi-threaded processes on Linux and would silently give UTC.
pub fn local_offset() -> time::UtcOffset {
    let seconds = jiff::Zoned::now().offset().seconds();
    time::UtcOffset::from_whole_seconds(seconds).unwrap_or(time::UtcOffset::UTC)
}

fn local_now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(local_offset())
}

/// How long a looked-up month is trusted before the zone is asked again, so that a
/// daylight-saving shift shows within a minute (a change of the system's zone shows
/// once jiff re-reads it, within about five minutes more).
const MONTH_RECHECK_SECS: i64 = 60;

/// The current local month for the request path. Asking the zone for its offset
/// costs more than the rest of a limit check, so the answer is kept until the next
/// month starts or a minute has passed, whichever comes first.
#[derive(Default)]
struct MonthClock {
    /// `valid_until_unix_seconds << 24 | year * 12 + month - 1`; 0 until first asked.
    packed: AtomicU64,
}

impl MonthClock {
    fn now(&self) -> Month {
        // The plain clock: a calendar date is only worked out when the month is.
        let now_secs = switchyard_store::now_ms().div_euclid(1000);
        let packed = self.packed.load(Ordering::Relaxed);
        let valid_until = (packed >> 24) as i64;
        // Kept only while its window is ahead of now and no longer than a recheck: a
        // clock set back must not stretch how long a month is trusted.
        if packed != 0 && valid_until > now_secs && valid_until - now_secs <= MONTH_RECHECK_SECS {
            let index = (packed & 0xFF_FFFF) as i32;
            return Month {
                year: index / 12,
                month: (index % 12) as u8 + 1,
            };
        }
        let offset = local_offset();
        let month = Month::of(OffsetDateTime::now_utc().to_offset(offset));
        let next_start_secs = month.next().start_ms(offset) / 1000;
        let valid_until = next_start_secs.min(now_secs + MONTH_RECHECK_SECS);
        // Years outside 0..=99,999 (a clock gone wrong) are not kept; they still work.
        if (0..100_000).contains(&month.year) && valid_until > 0 {
            let index = (month.year * 12 + i32::from(month.month) - 1) as u64;
            self.packed
                .store((valid_until as u64) << 24 | index, Ordering::Relaxed);
        }
        month
    }
}

/// An alert with its threshold in USD, ready to compare against the counters.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRule {
    pub name: String,
    /// `None` watches the whole gateway.
    pub key: Option<(i64, String)>,
    pub threshold_usd: f64,
    pub limit_usd: Option<f64>,
    pub webhook: Option<String>,
    pub format: WebhookFormat,
}

/// A fired alert on its way to the log, the desktop and the webhook.
#[derive(Clone, Debug)]
pub struct FiredAlert {
    pub event: AlertEvent,
    pub webhook: Option<String>,
    pub format: WebhookFormat,
}

#[derive(Default)]
struct Counters {
    month: Option<Month>,
    total: f64,
    per_key: HashMap<i64, f64>,
    fired: HashSet<String>,
    rules: Vec<AlertRule>,
}

pub struct SpendTracker {
    counters: Mutex<Counters>,
    clock: MonthClock,
    alerts: mpsc::UnboundedSender<FiredAlert>,
}

impl SpendTracker {
    /// Loads this month's spend and fired alerts from the store. Blocking.
    pub fn load(
        store: &Store,
        alerts: mpsc::UnboundedSender<FiredAlert>,
    ) -> Result<SpendTracker, StoreError> {
        let month = Month::now();
        let (total, per_key) = store.spend_since(month.start_ms(local_offset()))?;
        let fired = store.fired_alerts(&month.label())?.into_iter().collect();
        Ok(SpendTracker {
            counters: Mutex::new(Counters {
                month: Some(month),
                total,
                per_key: per_key.into_iter().collect(),
                fired,
                rules: Vec::new(),
            }),
            clock: MonthClock::default(),
            alerts,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the alert rules of a new configuration.
    pub fn configure(&self, snapshot: &Snapshot) {
        let ids: HashMap<&str, i64> = snapshot
            .keys
            .values()
            .map(|k| (k.name.as_str(), k.id))
            .collect();
        let config = &snapshot.config;
        let rules = config
            .alerts
            .iter()
            .filter_map(|a| {
                let key = match &a.key {
                    Some(name) => Some((*ids.get(name.as_str())?, name.clone())),
                    None => None,
                };
                let limit = config.limit_for(a.key.as_deref());
                let threshold = match (a.threshold_usd, a.threshold_percent, limit) {
                    (Some(usd), _, _) => usd,
                    (None, Some(pct), Some(limit)) => limit * pct / 100.0,
                    _ => return None,
                };
                Some(AlertRule {
                    name: a.name.clone(),
                    key,
                    threshold_usd: threshold,
                    limit_usd: limit,
                    webhook: a.webhook.clone(),
                    format: a.webhook_format,
                })
            })
            .collect();
        self.lock().rules = rules;
    }

    /// Refuses a request whose key, or the gateway, has reached its monthly limit.
    pub fn check(&self, key: &ActiveKey, config: &Config) -> Result<(), ApiError> {
        self.check_at(key, config, self.clock.now())
    }

    pub fn check_at(&self, key: &ActiveKey, config: &Config, month: Month) -> Result<(), ApiError> {
        let mut c = self.lock();
        roll_over(&mut c, month);
        let reached = |what: String, spent: f64, limit: f64| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::RateLimited,
                format!(
                    "Monthly spend limit reached for {what}: ${spent:.2} spent of ${limit:.2} this \
                     month. It resets on {} (local time).",
                    month.resets_on()
                ),
            )
            .with_code("spend_limit_reached")
        };
        if let Some(limit) = key.monthly_limit_usd {
            let spent = c.per_key.get(&key.id).copied().unwrap_or(0.0);
            if spent >= limit {
                return Err(reached(format!("key '{}'", key.name), spent, limit));
            }
        }
        if let Some(limit) = config.limits.monthly_usd {
            if c.total >= limit {
                return Err(reached("the gateway".into(), c.total, limit));
            }
        }
        Ok(())
    }

    /// Counts a finished request's cost and fires the alerts it makes cross.
    pub fn add(&self, key_id: Option<i64>, cost_usd: f64) {
        if !(cost_usd.is_finite() && cost_usd > 0.0) {
            return;
        }
        self.add_at(
            key_id,
            cost_usd,
            self.clock.now(),
            switchyard_store::now_ms(),
        );
    }

    pub fn add_at(&self, key_id: Option<i64>, cost_usd: f64, month: Month, now_ms: i64) {
        if !(cost_usd.is_finite() && cost_usd > 0.0) {
            return;
        }
        let mut c = self.lock();
        roll_over(&mut c, month);
        let total_before = c.total;
        c.total += cost_usd;
        let key_before = key_id.map(|id| {
            let spent = c.per_key.entry(id).or_insert(0.0);
            let before = *spent;
            *spent += cost_usd;
            (id, before)
        });
        let mut fired = Vec::new();
        for rule in &c.rules {
            let (before, after, subject) = match (&rule.key, key_before) {
                (None, _) => (total_before, total_before + cost_usd, "gateway".to_string()),
                (Some((id, name)), Some((key, before))) if *id == key => {
                    (before, before + cost_usd, name.clone())
                }
                _ => continue,
            };
            if before < rule.threshold_usd
                && after >= rule.threshold_usd
                && !c.fired.contains(&rule.name)
            {
                fired.push(FiredAlert {
                    event: AlertEvent {
                        alert: rule.name.clone(),
                        month: month.label(),
                        fired_ms: now_ms,
                        subject,
                        spent_usd: after,
                        threshold_usd: rule.threshold_usd,
                        limit_usd: rule.limit_usd,
                    },
                    webhook: rule.webhook.clone(),
                    format: rule.format,
                });
            }
        }
        for alert in fired {
            c.fired.insert(alert.event.alert.clone());
            // The receiver lives as long as the gateway; a closed channel means shutdown.
            let _ = self.alerts.send(alert);
        }
    }

    /// This month's spend: (gateway total, per key id).
    pub fn spent(&self) -> (f64, HashMap<i64, f64>) {
        let c = self.lock();
        (c.total, c.per_key.clone())
    }
}

/// A new month starts from zero, with no alert fired.
fn roll_over(c: &mut Counters, month: Month) {
    if c.month != Some(month) {
        c.month = Some(month);
        c.total = 0.0;
        c.per_key.clear();
        c.fired.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> (SpendTracker, mpsc::UnboundedReceiver<FiredAlert>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let tracker = SpendTracker {
            counters: Mutex::new(Counters {
                month: Some(Month {
                    year: 2026,
                    month: 11,
                }),
                ..Default::default()
            }),
            clock: MonthClock::default(),
            alerts: tx,
        };
        (tracker, rx)
    }

    #[test]
    fn month_clock_agrees_with_the_zone_and_keeps_its_answer_until_it_expires() {
        let clock = MonthClock::default();
        assert_eq!(clock.now(), Month::now());
        let cached = clock.packed.load(Ordering::Relaxed);
        let valid_until = (cached >> 24) as i64;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(valid_until > now && valid_until <= now + MONTH_RECHECK_SECS);
        assert_eq!(clock.now(), Month::now(), "answered from the cache");

        // A kept December decodes as December, not as month 0 of the next year.
        let december = (2026 * 12 + 11) as u64;
        clock
            .packed
            .store((now as u64 + 30) << 24 | december, Ordering::Relaxed);
        assert_eq!(
            clock.now(),
            Month {
                year: 2026,
                month: 12
            }
        );
        // Once expired, the zone is asked again (January 2000 is never now).
        let stale = (2000 * 12) as u64;
        clock
            .packed
            .store((now as u64 - 1) << 24 | stale, Ordering::Relaxed);
        assert_eq!(clock.now(), Month::now());
        // A window further ahead than a recheck means the clock went back: asked again.
        clock
            .packed
            .store((now as u64 + 3600) << 24 | stale, Ordering::Relaxed);
        assert_eq!(clock.now(), Month::now());
    }

    #[test]
    fn next_month_wraps_at_the_year_end() {
        let dec = Month {
            year: 2026,
            month: 12,
        };
        assert_eq!(
            dec.next(),
            Month {
                year: 2027,
                month: 1
            }
        );
        assert_eq!(dec.resets_on(), "2027-01-01");
        assert_eq!(NOV.resets_on(), "2026-12-01");
    }

    fn key(limit: f64) -> ActiveKey {
        ActiveKey {
            id: 7,
            name: "cc".into(),
            monthly_limit_usd: Some(limit),
            ..Default::default()
        }
    }

    const NOV: Month = Month {
        year: 2026,
        month: 11,
    };
    const DEC: Month = Month {
        year: 2026,
        month: 12,
    };

    #[test]
    fn refuses_exactly_at_the_limit_and_resets_next_month() {
        let (t, _rx) = tracker();
        let config = Config::default();
        t.add_at(Some(7), 4.99, NOV, 0);
        assert!(t.check_at(&key(5.0), &config, NOV).is_ok());
        t.add_at(Some(7), 0.01, NOV, 0);
        let err = t.check_at(&key(5.0), &config, NOV).unwrap_err();
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            err.message.contains("key 'cc'") && err.message.contains("$5.00 spent of $5.00"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("resets on 2026-12-01"),
            "{}",
            err.message
        );
        assert!(
            t.check_at(&key(5.0), &config, DEC).is_ok(),
            "a new month starts at zero"
        );
        assert_eq!(
            Month {
                year: 2026,
                month: 12
            }
            .resets_on(),
            "2027-01-01"
        );
    }

    #[test]
    fn the_gateway_limit_covers_every_key() {
        let (t, _rx) = tracker();
        let config = Config::from_toml("[limits]\nmonthly_usd = 1\n").unwrap();
        t.add_at(Some(1), 0.6, NOV, 0);
        t.add_at(None, 0.4, NOV, 0);
        let err = t.check_at(&key(100.0), &config, NOV).unwrap_err();
        assert!(err.message.contains("the gateway"), "{}", err.message);
    }

    #[test]
    fn alerts_fire_once_per_crossing_per_month() {
        let (t, mut rx) = tracker();
        t.lock().rules = vec![
            AlertRule {
                name: "k80".into(),
                key: Some((7, "cc".into())),
                threshold_usd: 4.0,
                limit_usd: Some(5.0),
                webhook: None,
                format: WebhookFormat::Json,
            },
            AlertRule {
                name: "g1".into(),
                key: None,
                threshold_usd: 1.0,
                limit_usd: None,
                webhook: None,
                format: WebhookFormat::Slack,
            },
        ];
        t.add_at(Some(7), 0.5, NOV, 0);
        assert!(rx.try_recv().is_err());
        t.add_at(Some(8), 0.6, NOV, 0); // gateway crosses $1
        let g = rx.try_recv().unwrap();
        assert_eq!(
            (g.event.alert.as_str(), g.event.subject.as_str()),
            ("g1", "gateway")
        );
        t.add_at(Some(7), 3.6, NOV, 0); // key crosses $4
        let k = rx.try_recv().unwrap();
        assert_eq!(
            (k.event.alert.as_str(), k.event.subject.as_str()),
            ("k80", "cc")
        );
        assert!((k.event.spent_usd - 4.1).abs() < 1e-9);
        t.add_at(Some(7), 3.0, NOV, 0);
        assert!(rx.try_recv().is_err(), "no second alert in the same month");
        t.add_at(Some(7), 4.5, DEC, 0);
        assert_eq!(rx.try_recv().unwrap().event.month, "2026-12");
    }
}
