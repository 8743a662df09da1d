//! The figures a dashboard opens with: spend today and this month, where the month is
//! heading at the current rate, and the models the money goes to.

use super::query::answer;
use super::timeq::{next_month_start, parse_range, TimeRange};
use super::{AnalyticsQuery, Bucket, Dimension};
use crate::{Result, Store, StoreError};
use jiff::tz::TimeZone;
use serde::Serialize;

/// How far back "the current rate" looks.
const RATE_WINDOW_MS: i64 = 7 * 86_400_000;
/// How many models `top_models` lists.
const TOP_MODELS: usize = 5;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopModel {
    pub model: String,
    pub cost_usd: f64,
    pub requests: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub today_usd: f64,
    pub today_requests: u64,
    pub yesterday_usd: f64,
    pub this_month_usd: f64,
    pub this_month_requests: u64,
    pub this_month_cache_savings_usd: f64,
    /// Successful requests this month whose cost is unknown (no price).
    pub this_month_unpriced_requests: u64,
    /// This month's spend plus the rest of the month at the rate of the last 7 days
    /// (or of the time since the first request, if that is shorter).
    pub projected_month_usd: f64,
    pub last_30_days_usd: f64,
    /// The month's most expensive models.
    pub top_models: Vec<TopModel>,
}

impl Store {
    /// The summary as of `now_ms`, with days and months in `zone`.
    pub fn summary(&self, now_ms: i64, zone: &TimeZone) -> Result<Summary> {
        let conn = self.connect()?;
        let range =
            |preset: &str| parse_range(preset, now_ms, zone).map_err(StoreError::InvalidQuery);
        let query = |range: TimeRange, group_by: Option<Dimension>| AnalyticsQuery {
            range,
            bucket: Bucket::None,
            group_by,
            filters: Vec::new(),
            top: None,
            zone: zone.clone(),
            force_raw: false,
        };
        let today = answer(&conn, &query(range("today")?, None))?.total.metrics;
        let yesterday = answer(&conn, &query(range("yesterday")?, None))?
            .total
            .metrics;
        let month_range = range("this-month")?;
        let month = answer(&conn, &query(month_range, Some(Dimension::Model)))?;
        let last_30 = answer(&conn, &query(range("30d")?, None))?.total.metrics;

        let first_ms: Option<i64> = conn.query_row(
            "SELECT MIN(bucket_ms) FROM rollup_hour WHERE dim = 0",
            [],
            |r| r.get(0),
        )?;
        let month_end = next_month_start(now_ms, zone).map_err(StoreError::InvalidQuery)?;
        let spent = month.total.metrics.cost_usd;
        let projected = match first_ms {
            Some(first) if now_ms > first => {
                let window = RATE_WINDOW_MS.min(now_ms - first).max(3_600_000);
                let recent = answer(
                    &conn,
                    &query(
                        TimeRange {
                            from_ms: now_ms - window,
                            to_ms: now_ms + 1,
                        },
                        None,
                    ),
                )?
                .total
                .metrics
                .cost_usd;
                spent + recent / window as f64 * (month_end - now_ms).max(0) as f64
            }
            _ => spent,
        };
        Ok(Summary {
            today_usd: today.cost_usd,
            today_requests: today.requests,
            yesterday_usd: yesterday.cost_usd,
            this_month_usd: spent,
            this_month_requests: month.total.metrics.requests,
            this_month_cache_savings_usd: month.total.metrics.cache_savings_usd,
            this_month_unpriced_requests: month.total.metrics.unpriced_requests,
            projected_month_usd: projected,
            last_30_days_usd: last_30.cost_usd,
            top_models: month
                .groups
                .iter()
                .take(TOP_MODELS)
                .map(|g| TopModel {
                    model: g.group.clone(),
                    cost_usd: g.metrics.cost_usd,
                    requests: g.metrics.requests,
                })
                .collect(),
        })
    }
}
