//! Analytics questions from `key=value` pairs, the same for the admin API's query
//! string and the CLI's flags:
//!
//! - `range` (or `since`): a preset such as `today`, `7d`, `this-month`, `3mo`;
//!   or `from` and `to` (see [`parse_instant`](super::parse_instant)). Default `24h`.
//! - `bucket`: `none`, `minute`, `hour`, `day`, `week`, `month`.
//! - `group_by`: a dimension (`model`, `repo`, `extra.team`, ...) or `none`; a bucket
//!   name here (`day`) buckets without grouping, as `switchyard usage` always did.
//! - `top`: keep that many groups, fold the rest into `(other)`.
//! - a dimension name (`model=anthropic/*,openai/*`) or `filter=model:anthropic/*`:
//!   keep requests matching any of the comma-separated patterns.

use super::timeq::{parse_instant, parse_range, Bucket, TimeRange};
use super::{AnalyticsQuery, Dimension, Filter, Pattern};
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

/// Keys the callers use for output (format, chart size, ...), passed through.
pub const RESERVED_PARAMS: &[&str] = &["format", "width", "height", "theme", "title", "metric"];

#[derive(Clone, Debug)]
pub struct ParsedParams {
    pub query: AnalyticsQuery,
    /// The [`RESERVED_PARAMS`] that were given.
    pub output: BTreeMap<String, String>,
}

fn filter(field: &str, patterns: &str) -> Result<Filter, String> {
    let field = Dimension::parse(field.trim()).ok_or_else(|| {
        format!(
            "cannot filter on '{field}': choose one of {}",
            Dimension::NAMES
        )
    })?;
    let patterns: Vec<Pattern> = patterns
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(Pattern::new)
        .collect();
    if patterns.is_empty() {
        return Err(format!("the filter on {} has no value", field.name()));
    }
    Ok(Filter { field, patterns })
}

/// Parses `pairs` into a question, with presets relative to `now_ms` in `zone`.
pub fn parse_params(
    pairs: &[(String, String)],
    now_ms: i64,
    zone: &TimeZone,
) -> Result<ParsedParams, String> {
    let mut range_text: Option<&str> = None;
    let (mut from, mut to): (Option<&str>, Option<&str>) = (None, None);
    let mut bucket: Option<Bucket> = None;
    let mut group_by: Option<Dimension> = None;
    let mut group_bucket: Option<Bucket> = None;
    let mut top = None;
    let mut filters = Vec::new();
    let mut output = BTreeMap::new();
    for (key, value) in pairs {
        let value = value.as_str();
        match key.as_str() {
            "range" | "since" => range_text = Some(value),
            "from" => from = Some(value),
            "to" => to = Some(value),
            "bucket" => {
                bucket = Some(Bucket::parse(value).ok_or_else(|| {
                    format!(
                        "unknown bucket '{value}': choose none, minute, hour, day, week or month"
                    )
                })?)
            }
            "group_by" => match (value, Bucket::parse(value), Dimension::parse(value)) {
                ("none" | "", _, _) => group_by = None,
                (_, Some(b), _) => group_bucket = Some(b),
                (_, None, Some(d)) => group_by = Some(d),
                _ => {
                    return Err(format!(
                        "cannot group by '{value}': choose one of {}, or day",
                        Dimension::NAMES
                    ))
                }
            },
            "top" => {
                top = Some(
                    value
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("top must be a positive number, not '{value}'"))?,
                )
            }
            "filter" => {
                let (field, patterns) = value.split_once(':').ok_or_else(|| {
                    format!("filter '{value}' should look like model:anthropic/*")
                })?;
                filters.push(filter(field, patterns)?);
            }
            reserved if RESERVED_PARAMS.contains(&reserved) => {
                output.insert(reserved.to_string(), value.to_string());
            }
            other if Dimension::parse(other).is_some() => filters.push(filter(other, value)?),
            other => return Err(format!("unknown parameter '{other}'")),
        }
    }
    let range = match (range_text, from, to) {
        (Some(_), Some(_), _) => {
            return Err("give either a range or from/to, not both".into());
        }
        (range, None, None) => parse_range(range.unwrap_or("24h"), now_ms, zone)?,
        (_, from, to) => {
            let from_ms = match from {
                Some(f) => parse_instant(f, zone, false)?,
                None => 0,
            };
            let to_ms = match to {
                Some(t) => parse_instant(t, zone, true)?,
                None => now_ms + 1,
            };
            if to_ms <= from_ms {
                return Err("'to' must be after 'from'".into());
            }
            TimeRange { from_ms, to_ms }
        }
    };
    Ok(ParsedParams {
        query: AnalyticsQuery {
            range,
            bucket: bucket.or(group_bucket).unwrap_or(Bucket::None),
            group_by,
            filters,
            top,
            zone: zone.clone(),
            force_raw: false,
        },
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ParsedParams, String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_params(&pairs, 1_000_000_000_000, &TimeZone::UTC)
    }

    #[test]
    fn filters_come_as_dimension_keys_or_filter_pairs() {
        let p = parse(&[
            ("range", "7d"),
            ("group_by", "repo"),
            ("model", "anthropic/*, openai/gpt-4.1"),
            ("filter", "extra.team:infra"),
            ("format", "csv"),
            ("top", "5"),
        ])
        .unwrap();
        let q = &p.query;
        assert_eq!(q.group_by, Some(Dimension::Repo));
        assert_eq!(q.filters.len(), 2);
        assert_eq!(q.filters[0].patterns.len(), 2);
        assert_eq!(q.filters[1].field, Dimension::Extra("team".into()));
        assert_eq!(q.top, Some(5));
        assert_eq!(p.output["format"], "csv");
        assert_eq!(q.range.to_ms - q.range.from_ms, 7 * 86_400_000 + 1);
    }

    #[test]
    fn legacy_day_grouping_buckets_by_day() {
        let q = parse(&[("since", "30d"), ("group_by", "day")])
            .unwrap()
            .query;
        assert_eq!(q.bucket, Bucket::Day);
        assert_eq!(q.group_by, None);
    }

    #[test]
    fn mistakes_are_explained() {
        for bad in [
            vec![("group_by", "color")],
            vec![("bucket", "fortnight")],
            vec![("modle", "x")],
            vec![("model", " , ")],
            vec![("top", "0")],
            vec![("filter", "model")],
            vec![("extra.bad field", "x")],
            vec![("range", "7d"), ("from", "2026-01-01")],
            vec![("from", "2026-02-01"), ("to", "2026-01-01")],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
        let explicit = parse(&[("from", "2026-01-01"), ("to", "2026-01-31")])
            .unwrap()
            .query;
        assert_eq!(
            explicit.range.to_ms - explicit.range.from_ms,
            31 * 86_400_000
        );
    }
}
