//! Reading single requests back from the log: the most recent ones and a request's
//! attempts (totals and charts are the analytics module's).

use crate::{Result, Store};
use rusqlite::types::ValueRef;

/// A request-log row as JSON, column name to value, with the key's name joined in.
pub type RecentRequest = serde_json::Map<String, serde_json::Value>;

impl Store {
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
    fn writes_batches_and_reads_the_newest_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writer = LogWriter::start(&store, 16).unwrap();
        let tx = writer.sender();
        tx.send(record("openai/gpt-4.1", Some(0.5), 200));
        tx.send(record("openai/gpt-4.1", Some(0.25), 200));
        tx.send(record("local/llama", None, 200));
        tx.send(record("local/llama", None, 500));
        writer.shutdown();

        let recent = store.recent_requests(10).unwrap();
        assert_eq!(recent.len(), 4);
        assert_eq!(recent[0]["status"], 500);
        assert_eq!(recent[0]["requested_model"], "local/llama");
        assert_eq!(recent[3]["cost_usd"], 0.5);
        assert_eq!(recent[0]["tags"], serde_json::json!(["a"]));
    }
}
