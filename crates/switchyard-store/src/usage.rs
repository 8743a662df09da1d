//! Read queries over the request log: grouped usage totals and the most recent requests.

use crate::{Result, Store};
use rusqlite::types::ValueRef;
use serde::Serialize;

/// How usage rows are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Model,
    Provider,
    Key,
    /// Calendar day in the machine's local time zone.
    Day,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "model" => Some(GroupBy::Model),
            "provider" => Some(GroupBy::Provider),
            "key" => Some(GroupBy::Key),
            "day" => Some(GroupBy::Day),
            _ => None,
        }
    }

    fn sql_expr(self) -> &'static str {
        match self {
            GroupBy::Model => "COALESCE(r.requested_model, '(none)')",
            GroupBy::Provider => "COALESCE(r.provider, '(none)')",
            GroupBy::Key => "COALESCE(k.name, '(no key)')",
            GroupBy::Day => "date(r.ts_ms / 1000, 'unixepoch', 'localtime')",
        }
    }
}

/// A usage question: which time window, grouped how.
#[derive(Clone, Copy, Debug)]
pub struct UsageQuery {
    pub since_ms: i64,
    pub until_ms: Option<i64>,
    pub group_by: GroupBy,
}

/// Totals for one group (or for everything, in [`UsageTotals`]).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct UsageRow {
    pub group: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    /// Sum over requests with a known price.
    pub cost_usd: f64,
    /// Requests whose model had no known price (their cost is not in `cost_usd`).
    pub unpriced_requests: u64,
    pub avg_latency_ms: Option<f64>,
    pub avg_ttft_ms: Option<f64>,
}

/// Grouped rows plus the grand total.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct UsageTotals {
    pub rows: Vec<UsageRow>,
    pub total: UsageRow,
}

/// A request-log row as JSON, column name to value, with the key's name joined in.
pub type RecentRequest = serde_json::Map<String, serde_json::Value>;

const AGGREGATES: &str = "COUNT(*),
    SUM(CASE WHEN r.status >= 400 OR r.error_kind IS NOT NULL THEN 1 ELSE 0 END),
    SUM(r.input_tokens), SUM(r.cache_read_tokens),
    SUM(r.cache_write_5m_tokens + r.cache_write_1h_tokens), SUM(r.output_tokens),
    SUM(r.reasoning_tokens), COALESCE(SUM(r.cost_usd), 0),
    SUM(CASE WHEN r.cost_usd IS NULL AND r.status < 400 THEN 1 ELSE 0 END),
    AVG(r.latency_ms), AVG(r.ttft_ms)";

fn row_from(group: String, r: &rusqlite::Row<'_>, offset: usize) -> rusqlite::Result<UsageRow> {
    let int = |i: usize| -> rusqlite::Result<u64> {
        Ok(r.get::<_, Option<i64>>(offset + i)?.unwrap_or(0).max(0) as u64)
    };
    Ok(UsageRow {
        group,
        requests: int(0)?,
        errors: int(1)?,
        input_tokens: int(2)?,
        cache_read_tokens: int(3)?,
        cache_write_tokens: int(4)?,
        output_tokens: int(5)?,
        reasoning_tokens: int(6)?,
        cost_usd: r.get::<_, Option<f64>>(offset + 7)?.unwrap_or(0.0),
        unpriced_requests: int(8)?,
        avg_latency_ms: r.get(offset + 9)?,
        avg_ttft_ms: r.get(offset + 10)?,
    })
}

impl Store {
    /// Usage grouped as asked, most expensive group first (days in date order).
    pub fn usage(&self, q: &UsageQuery) -> Result<UsageTotals> {
        let conn = self.connect()?;
        let until = q.until_ms.unwrap_or(i64::MAX);
        let from = "FROM requests r LEFT JOIN gateway_keys k ON k.id = r.key_id
                    WHERE r.ts_ms >= ?1 AND r.ts_ms < ?2";
        let order = if q.group_by == GroupBy::Day {
            "ORDER BY 1"
        } else {
            "ORDER BY 9 DESC, 2 DESC, 1"
        };
        let sql = format!(
            "SELECT {g}, {AGGREGATES} {from} GROUP BY 1 {order}",
            g = q.group_by.sql_expr()
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map([q.since_ms, until], |r| row_from(r.get(0)?, r, 1))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let total = conn.query_row(
            &format!("SELECT {AGGREGATES} {from}"),
            [q.since_ms, until],
            |r| row_from("total".into(), r, 0),
        )?;
        Ok(UsageTotals { rows, total })
    }

    /// The attempts of the request with `request_id`, in order (only requests that took
    /// more than one attempt have them).
    pub fn request_attempts(&self, request_id: &str) -> Result<Vec<RecentRequest>> {
        let conn = self.connect()?;
        let mut stmt = conn.prepare(
            "SELECT a.attempt, a.provider, a.model, a.status, a.error_kind, a.error_message, a.latency_ms
             FROM request_attempts a JOIN requests r ON r.id = a.request_row
             WHERE r.request_id = ?1 ORDER BY a.attempt",
        )?;
        let rows = stmt.query_map([request_id], |r| {
            let mut map = serde_json::Map::new();
            map.insert("attempt".into(), r.get::<_, i64>(0)?.into());
            map.insert("provider".into(), r.get::<_, String>(1)?.into());
            map.insert("model".into(), r.get::<_, String>(2)?.into());
            map.insert("status".into(), r.get::<_, i64>(3)?.into());
            map.insert("error_kind".into(), r.get::<_, Option<String>>(4)?.into());
            map.insert(
                "error_message".into(),
                r.get::<_, Option<String>>(5)?.into(),
            );
            map.insert("latency_ms".into(), r.get::<_, f64>(6)?.into());
            Ok(map)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest `limit` requests, newest first.
    pub fn recent_requests(&self, limit: u32) -> Result<Vec<RecentRequest>> {
        let conn = self.connect()?;
        let mut stmt = conn.prepare(
            "SELECT r.*, k.name AS key_name FROM requests r
             LEFT JOIN gateway_keys k ON k.id = r.key_id ORDER BY r.id DESC LIMIT ?1",
        )?;
        let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
        let rows = stmt.query_map([limit], |r| {
            let mut map = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let value = match r.get_ref(i)? {
                    ValueRef::Null => serde_json::Value::Null,
                    ValueRef::Integer(n) => n.into(),
                    ValueRef::Real(f) => f.into(),
                    ValueRef::Text(t) => {
                        let text = String::from_utf8_lossy(t);
                        // JSON columns come back as JSON, not as strings of JSON.
                        if name == "tags" || name == "extra" || name == "tool_calls" {
                            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
                        } else {
                            text.into_owned().into()
                        }
                    }
                    ValueRef::Blob(_) => serde_json::Value::Null,
                };
                map.insert(name.clone(), value);
            }
            Ok(map)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LogWriter, RequestRecord, TokenCounts};

    fn record(model: &str, cost: Option<f64>, status: u16) -> RequestRecord {
        RequestRecord {
            request_id: "r".into(),
            ts_ms: crate::now_ms(),
            client_api: "openai-chat",
            requested_model: Some(model.into()),
            provider: Some(model.split('/').next().unwrap_or("").into()),
            status,
            tokens: TokenCounts {
                input: 10,
                cache_read: 5,
                output: 7,
                ..Default::default()
            },
            cost_usd: cost,
            latency_ms: 12.0,
            tags: vec!["a".into()],
            ..Default::default()
        }
    }

    #[test]
    fn writes_batches_and_groups_usage() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writer = LogWriter::start(&store, 16).unwrap();
        let tx = writer.sender();
        tx.send(record("openai/gpt-4.1", Some(0.5), 200));
        tx.send(record("openai/gpt-4.1", Some(0.25), 200));
        tx.send(record("local/llama", None, 200));
        tx.send(record("local/llama", None, 500));
        writer.shutdown();

        let usage = store
            .usage(&UsageQuery {
                since_ms: 0,
                until_ms: None,
                group_by: GroupBy::Model,
            })
            .unwrap();
        assert_eq!(usage.rows.len(), 2);
        assert_eq!(usage.rows[0].group, "openai/gpt-4.1");
        assert_eq!(usage.rows[0].requests, 2);
        assert!((usage.rows[0].cost_usd - 0.75).abs() < 1e-12);
        assert_eq!(usage.rows[1].unpriced_requests, 1);
        assert_eq!(usage.rows[1].errors, 1);
        assert_eq!(usage.total.requests, 4);
        assert_eq!(usage.total.input_tokens, 40);

        let recent = store.recent_requests(1).unwrap();
        assert_eq!(recent[0]["status"], 500);
        assert_eq!(recent[0]["tags"], serde_json::json!(["a"]));
    }

    #[test]
    fn applying_same_config_twice_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let v0 = store.config_version().unwrap();
        assert!(store.replace_config_document("a = 1").unwrap());
        assert!(!store.replace_config_document("a = 1").unwrap());
        assert_eq!(store.config_version().unwrap(), v0 + 1);
        // Reopening runs no migration twice.
        Store::open(dir.path()).unwrap();
    }

    #[test]
    fn key_names_are_unique_among_active_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.insert_gateway_key("cc", "sy-1", &[1; 32]).unwrap();
        assert!(matches!(
            store.insert_gateway_key("cc", "sy-2", &[2; 32]),
            Err(crate::StoreError::KeyExists(_))
        ));
        store.revoke_gateway_key("cc").unwrap();
        store.insert_gateway_key("cc", "sy-2", &[2; 32]).unwrap();
        assert!(matches!(
            store.revoke_gateway_key("nope"),
            Err(crate::StoreError::KeyNotFound(_))
        ));
        assert_eq!(store.gateway_keys().unwrap().len(), 2);
    }
}
