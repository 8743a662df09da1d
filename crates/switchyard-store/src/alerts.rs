//! Spend: this month's totals for the gateway's in-memory counters, and the log of
//! spend alerts that fired (each at most once per month).

use crate::{Result, Store};
use rusqlite::OptionalExtension;
use serde::Serialize;

/// A spend alert that fired.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertEvent {
    pub alert: String,
    /// `YYYY-MM` in local time.
    pub month: String,
    pub fired_ms: i64,
    /// `gateway`, or the name of the key whose spend crossed the threshold.
    pub subject: String,
    pub spent_usd: f64,
    pub threshold_usd: f64,
    pub limit_usd: Option<f64>,
}

impl Store {
    /// Total spend since `since_ms` (priced requests only) and the spend per key id.
    pub fn spend_since(&self, since_ms: i64) -> Result<(f64, Vec<(i64, f64)>)> {
        let conn = self.connect()?;
        let total: Option<f64> = conn.query_row(
            "SELECT SUM(cost_usd) FROM requests WHERE ts_ms >= ?1",
            [since_ms],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare(
            "SELECT key_id, SUM(cost_usd) FROM requests
             WHERE ts_ms >= ?1 AND key_id IS NOT NULL AND cost_usd IS NOT NULL GROUP BY key_id",
        )?;
        let per_key = stmt
            .query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total.unwrap_or(0.0), per_key))
    }

    /// Records a fired alert; `false` if it had already fired this month.
    pub fn insert_alert_event(&self, e: &AlertEvent) -> Result<bool> {
        let conn = self.connect()?;
        let changed = conn.execute(
            "INSERT OR IGNORE INTO alert_events (alert, month, fired_ms, subject, spent_usd,
                threshold_usd, limit_usd) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                e.alert,
                e.month,
                e.fired_ms,
                e.subject,
                e.spent_usd,
                e.threshold_usd,
                e.limit_usd
            ],
        )?;
        Ok(changed == 1)
    }

    /// Names of the alerts that fired in `month` (`YYYY-MM`).
    pub fn fired_alerts(&self, month: &str) -> Result<Vec<String>> {
        let conn = self.connect()?;
        let mut stmt = conn.prepare("SELECT alert FROM alert_events WHERE month = ?1")?;
        let names = stmt
            .query_map([month], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(names)
    }

    /// The newest alert events, newest first.
    pub fn alert_events(&self, limit: u32) -> Result<Vec<AlertEvent>> {
        let conn = self.connect()?;
        let mut stmt = conn.prepare(
            "SELECT alert, month, fired_ms, subject, spent_usd, threshold_usd, limit_usd
             FROM alert_events ORDER BY fired_ms DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(AlertEvent {
                    alert: r.get(0)?,
                    month: r.get(1)?,
                    fired_ms: r.get(2)?,
                    subject: r.get(3)?,
                    spent_usd: r.get(4)?,
                    threshold_usd: r.get(5)?,
                    limit_usd: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The id of the active key called `name`.
    pub fn active_key_id(&self, name: &str) -> Result<Option<i64>> {
        let conn = self.connect()?;
        Ok(conn
            .query_row(
                "SELECT id FROM gateway_keys WHERE name = ?1 AND revoked_ms IS NULL",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }
}
