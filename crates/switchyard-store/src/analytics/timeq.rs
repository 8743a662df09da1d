//! Time ranges and buckets in a time zone: presets (`today`, `7d`, `this-month`,
//! `3mo`, ...), explicit instants, and the bucket boundaries of a range. Days, weeks
//! and months follow the zone's calendar, so a DST day has 23 or 25 hours.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use serde::Serialize;

/// A half-open range of Unix milliseconds, `[from_ms, to_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// How an answer is cut along time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    None,
    Minute,
    Hour,
    Day,
    /// Monday to Sunday.
    Week,
    Month,
}

impl Bucket {
    pub fn parse(text: &str) -> Option<Bucket> {
        Some(match text {
            "none" | "" => Bucket::None,
            "minute" => Bucket::Minute,
            "hour" => Bucket::Hour,
            "day" => Bucket::Day,
            "week" => Bucket::Week,
            "month" => Bucket::Month,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Bucket::None => "none",
            Bucket::Minute => "minute",
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }
}

/// Most buckets one answer may have.
pub const MAX_BUCKETS: usize = 10_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// One bucket of a range: `[start_ms, end_ms)` clipped to the range, with the
/// bucket's own start (before clipping) and label.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub bucket_start_ms: i64,
    pub label: String,
}

fn zoned(ms: i64, zone: &TimeZone) -> Result<Zoned, String> {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(zone.clone()))
        .map_err(|e| format!("time out of range: {e}"))
}

fn ms_of(z: &Zoned) -> i64 {
    z.timestamp().as_millisecond()
}

fn midnight(date: Date, zone: &TimeZone) -> Result<i64, String> {
    date.to_zoned(zone.clone())
        .and_then(|z| z.start_of_day())
        .map(|z| ms_of(&z))
        .map_err(|e| format!("no such day {date}: {e}"))
}

/// The first instant of the local day that contains `ms`, and of the next day.
pub(crate) fn day_span(ms: i64, zone: &TimeZone) -> Result<(i64, i64), String> {
    let date = zoned(ms, zone)?.date();
    let next = date.tomorrow().map_err(|e| e.to_string())?;
    Ok((midnight(date, zone)?, midnight(next, zone)?))
}

pub(crate) fn floor_hour_utc(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

pub(crate) fn ceil_hour_utc(ms: i64) -> i64 {
    floor_hour_utc(ms + HOUR_MS - 1)
}

/// Where the bucket containing `ms` starts, and its label.
fn bucket_start(ms: i64, bucket: Bucket, zone: &TimeZone) -> Result<(i64, String), String> {
    let z = zoned(ms, zone)?;
    let date = z.date();
    Ok(match bucket {
        Bucket::None => (ms, String::new()),
        Bucket::Minute | Bucket::Hour => {
            // Local minutes and hours are fixed lengths of absolute time; flooring the
            // local wall-clock time keeps zones at :30 and :45 offsets right.
            let offset_ms = i64::from(zone.to_offset(z.timestamp()).seconds()) * 1000;
            let unit = if bucket == Bucket::Minute {
                60_000
            } else {
                HOUR_MS
            };
            let start = (ms + offset_ms).div_euclid(unit) * unit - offset_ms;
            let local = zoned(start, zone)?;
            let label = if bucket == Bucket::Minute {
                local.strftime("%Y-%m-%d %H:%M").to_string()
            } else {
                local.strftime("%Y-%m-%d %H:00").to_string()
            };
            (start, label)
        }
        Bucket::Day => (midnight(date, zone)?, date.strftime("%Y-%m-%d").to_string()),
        Bucket::Week => {
            let back = i64::from(date.weekday().to_monday_zero_offset());
            let monday = date
                .checked_sub(back.days())
                .map_err(|e| format!("no such week: {e}"))?;
            (
                midnight(monday, zone)?,
                monday.strftime("%Y-%m-%d").to_string(),
            )
        }
        Bucket::Month => (
            midnight(date.first_of_month(), zone)?,
            date.strftime("%Y-%m").to_string(),
        ),
    })
}

/// The start of the bucket after the one starting at `start`.
fn next_bucket(start: i64, bucket: Bucket, zone: &TimeZone) -> Result<i64, String> {
    let date = zoned(start, zone)?.date();
    let next_date = |d: Result<Date, jiff::Error>| d.map_err(|e| e.to_string());
    match bucket {
        Bucket::None => Ok(i64::MAX),
        Bucket::Minute => Ok(start + 60_000),
        Bucket::Hour => Ok(start + HOUR_MS),
        Bucket::Day => midnight(next_date(date.tomorrow())?, zone),
        Bucket::Week => midnight(next_date(date.checked_add(7.days()))?, zone),
        Bucket::Month => midnight(
            next_date(date.first_of_month().checked_add(1.month()))?,
            zone,
        ),
    }
}

/// The first instant of the month after the one containing `ms`.
pub(crate) fn next_month_start(ms: i64, zone: &TimeZone) -> Result<i64, String> {
    let (start, _) = bucket_start(ms, Bucket::Month, zone)?;
    next_bucket(start, Bucket::Month, zone)
}

/// The buckets of `range`, clipped to it. Without a bucket, the whole range is one.
pub(crate) fn segments(
    range: TimeRange,
    bucket: Bucket,
    zone: &TimeZone,
) -> Result<Vec<Segment>, String> {
    if range.to_ms <= range.from_ms {
        return Ok(Vec::new());
    }
    if bucket == Bucket::None {
        return Ok(vec![Segment {
            start_ms: range.from_ms,
            end_ms: range.to_ms,
            bucket_start_ms: range.from_ms,
            label: String::new(),
        }]);
    }
    let mut out = Vec::new();
    let (mut start, mut label) = bucket_start(range.from_ms, bucket, zone)?;
    while start < range.to_ms {
        if out.len() >= MAX_BUCKETS {
            return Err(format!(
                "the range has more than {MAX_BUCKETS} {} buckets: choose a larger bucket or a shorter range",
                bucket.name()
            ));
        }
        let next = next_bucket(start, bucket, zone)?.max(start + 1);
        out.push(Segment {
            start_ms: start.max(range.from_ms),
            end_ms: next.min(range.to_ms),
            bucket_start_ms: start,
            label,
        });
        if next >= range.to_ms {
            break;
        }
        (start, label) = bucket_start(next, bucket, zone)?;
    }
    Ok(out)
}

/// A range preset relative to `now_ms`: `today`, `yesterday`, `this-week`,
/// `this-month`, `this-quarter`, `this-year`, `all`, a number of minutes, hours, days
/// or weeks (`90m`, `24h`, `7d`, `2w`), or of calendar months (`3mo`, `12mo`).
/// Ranges end now (exclusive of the future).
pub fn parse_range(text: &str, now_ms: i64, zone: &TimeZone) -> Result<TimeRange, String> {
    let text = text.trim().to_ascii_lowercase().replace('_', "-");
    let to_ms = now_ms + 1;
    let now = zoned(now_ms, zone)?;
    let today = now.date();
    let from = |date: Result<Date, jiff::Error>| -> Result<TimeRange, String> {
        let date = date.map_err(|e| e.to_string())?;
        Ok(TimeRange {
            from_ms: midnight(date, zone)?,
            to_ms,
        })
    };
    match text.as_str() {
        "today" => return from(Ok(today)),
        "yesterday" => {
            let yesterday = today.yesterday().map_err(|e| e.to_string())?;
            return Ok(TimeRange {
                from_ms: midnight(yesterday, zone)?,
                to_ms: midnight(today, zone)?,
            });
        }
        "this-week" | "week" => {
            let back = i64::from(today.weekday().to_monday_zero_offset());
            return from(today.checked_sub(back.days()));
        }
        "this-month" | "month" => return from(Ok(today.first_of_month())),
        "this-quarter" | "quarter" => {
            let first_month = (today.month() - 1) / 3 * 3 + 1;
            return from(Date::new(today.year(), first_month, 1));
        }
        "this-year" | "year" => return from(Ok(today.first_of_year())),
        "all" => return Ok(TimeRange { from_ms: 0, to_ms }),
        _ => {}
    }
    let bad = || {
        format!(
            "'{text}' is not a time window: use today, yesterday, this-week, this-month, \
             this-quarter, this-year, all, or a number with m, h, d, w or mo (90m, 24h, 7d, 3mo)"
        )
    };
    let digits = text.chars().take_while(|c| c.is_ascii_digit()).count();
    let (number, unit) = text.split_at(digits);
    let amount: i64 = number.parse().map_err(|_| bad())?;
    let ms_back = |unit_ms: i64| -> Result<TimeRange, String> {
        Ok(TimeRange {
            from_ms: now_ms.saturating_sub(amount.saturating_mul(unit_ms)),
            to_ms,
        })
    };
    match unit {
        "m" | "min" => ms_back(60_000),
        "h" => ms_back(HOUR_MS),
        "d" => ms_back(24 * HOUR_MS),
        "w" => ms_back(7 * 24 * HOUR_MS),
        "mo" | "month" | "months" => {
            let back = now
                .checked_sub(amount.months())
                .map_err(|e| format!("{text}: {e}"))?;
            Ok(TimeRange {
                from_ms: ms_of(&back),
                to_ms,
            })
        }
        _ => Err(bad()),
    }
}

/// An instant: Unix milliseconds, an RFC 3339 timestamp, a local date (`2026-11-01`,
/// its midnight; for the end of a range the midnight after it, so the day is
/// included), or a local date and time (`2026-11-01T09:30`).
pub fn parse_instant(text: &str, zone: &TimeZone, end_of_range: bool) -> Result<i64, String> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("'{text}' is too large for a time"));
    }
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t.as_millisecond());
    }
    // Only a bare date is a date (jiff would read the date part of a date-time too).
    if let Some(date) = (text.len() == 10)
        .then(|| text.parse::<Date>().ok())
        .flatten()
    {
        let date = if end_of_range {
            date.tomorrow().map_err(|e| e.to_string())?
        } else {
            date
        };
        return midnight(date, zone);
    }
    if let Ok(dt) = text.replacen(' ', "T", 1).parse::<DateTime>() {
        return zone
            .to_timestamp(dt)
            .map(|t| t.as_millisecond())
            .map_err(|e| format!("'{text}': {e}"));
    }
    Err(format!(
        "'{text}' is not a time: use 2026-11-01, 2026-11-01T09:30, an RFC 3339 time or Unix milliseconds"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// US Eastern, with its DST rules, without the system's time zone database.
    pub(crate) fn eastern() -> TimeZone {
        TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
    }

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn days_follow_the_zone_including_dst_changes() {
        let z = eastern();
        // 2026-11-01 is the day clocks go back in the US: 25 hours.
        let range = TimeRange {
            from_ms: ms("2026-10-31T04:00:00Z"),
            to_ms: ms("2026-11-03T05:00:00Z"),
        };
        let segs = segments(range, Bucket::Day, &z).unwrap();
        let labels: Vec<&str> = segs.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["2026-10-31", "2026-11-01", "2026-11-02"]);
        assert_eq!(segs[1].end_ms - segs[1].start_ms, 25 * HOUR_MS);
        assert_eq!(segs[0].start_ms, ms("2026-10-31T04:00:00Z"));
        assert_eq!(segs[2].end_ms, ms("2026-11-03T05:00:00Z"));
    }

    #[test]
    fn buckets_are_clipped_to_the_range_and_labelled() {
        let z = TimeZone::fixed(jiff::tz::offset(2));
        let range = TimeRange {
            from_ms: ms("2026-01-30T10:15:00Z"),
            to_ms: ms("2026-03-02T00:00:00Z"),
        };
        let months = segments(range, Bucket::Month, &z).unwrap();
        let labels: Vec<&str> = months.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["2026-01", "2026-02", "2026-03"]);
        assert_eq!(months[0].start_ms, range.from_ms);
        assert_eq!(months[0].bucket_start_ms, ms("2025-12-31T22:00:00Z"));
        assert_eq!(months[1].start_ms, ms("2026-01-31T22:00:00Z"));
        let weeks = segments(range, Bucket::Week, &z).unwrap();
        assert_eq!(weeks[0].label, "2026-01-26", "weeks start on Monday");
        let hours = segments(
            TimeRange {
                from_ms: ms("2026-01-30T10:15:00Z"),
                to_ms: ms("2026-01-30T12:00:00Z"),
            },
            Bucket::Hour,
            &z,
        )
        .unwrap();
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[0].label, "2026-01-30 12:00");
        assert!(
            segments(range, Bucket::Minute, &z).is_err(),
            "too many buckets"
        );
    }

    #[test]
    fn hours_in_half_hour_zones_start_at_half_past_utc() {
        let india = TimeZone::fixed(jiff::tz::Offset::from_seconds(5 * 3600 + 1800).unwrap());
        let range = TimeRange {
            from_ms: ms("2026-01-30T10:00:00Z"),
            to_ms: ms("2026-01-30T11:00:00Z"),
        };
        let segs = segments(range, Bucket::Hour, &india).unwrap();
        assert_eq!(segs[0].bucket_start_ms, ms("2026-01-30T09:30:00Z"));
        assert_eq!(segs[1].start_ms, ms("2026-01-30T10:30:00Z"));
    }

    #[test]
    fn presets_are_relative_to_now_in_the_zone() {
        let z = eastern();
        let now = ms("2026-05-14T15:00:00Z"); // 11:00 EDT, a Thursday
        let r = |t: &str| parse_range(t, now, &z).unwrap().from_ms;
        assert_eq!(r("today"), ms("2026-05-14T04:00:00Z"));
        assert_eq!(r("this-week"), ms("2026-05-11T04:00:00Z"));
        assert_eq!(r("this-month"), ms("2026-05-01T04:00:00Z"));
        assert_eq!(r("this-quarter"), ms("2026-04-01T04:00:00Z"));
        assert_eq!(r("this-year"), ms("2026-01-01T05:00:00Z"));
        assert_eq!(
            r("3mo"),
            ms("2026-02-14T16:00:00Z"),
            "same local time, in EST"
        );
        assert_eq!(r("24h"), now - 24 * HOUR_MS);
        assert_eq!(r("90m"), now - 90 * 60_000);
        assert_eq!(r("7d"), now - 7 * 24 * HOUR_MS);
        let y = parse_range("yesterday", now, &z).unwrap();
        assert_eq!(y.to_ms - y.from_ms, 24 * HOUR_MS);
        assert_eq!(parse_range("today", now, &z).unwrap().to_ms, now + 1);
        assert!(parse_range("forever", now, &z).is_err());
        assert!(parse_range("7x", now, &z).is_err());
    }

    #[test]
    fn instants_parse_in_the_zone() {
        let z = eastern();
        assert_eq!(
            parse_instant("2026-05-14", &z, false).unwrap(),
            ms("2026-05-14T04:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-05-14", &z, true).unwrap(),
            ms("2026-05-15T04:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-05-14T09:30", &z, false).unwrap(),
            ms("2026-05-14T13:30:00Z")
        );
        assert_eq!(
            parse_instant("2026-05-14T09:30:00Z", &z, false).unwrap(),
            ms("2026-05-14T09:30:00Z")
        );
        assert_eq!(parse_instant("1234", &z, false).unwrap(), 1234);
        assert!(parse_instant("next tuesday", &z, false).is_err());
    }
}
