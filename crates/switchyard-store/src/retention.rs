//! Retention: raw request rows older than a configurable age are deleted (the rollups
//! stay, so hourly and daily figures for that time stay right), and the freed pages
//! are returned to the file system a little at a time (incremental vacuum).
//!
//! The writer thread does this about hourly, in small steps between batches of
//! records; `Store::prune` does all of it at once (CLI and admin API).

use crate::analytics::floor_hour_utc;
use crate::{Result, Store, StoreError};
use rusqlite::Connection;
use serde::Serialize;

/// Rows deleted per transaction, so the writer never holds the database for long.
pub(crate) const DELETE_CHUNK: i64 = 5_000;
/// Pages returned to the file system per step (4 MiB at 4 KiB pages).
pub(crate) const VACUUM_PAGES: i64 = 1_024;
/// The default retention of raw rows, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// Retention settings and where the raw rows begin.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Retention {
    /// Raw rows older than this many days are deleted; 0 keeps them all.
    pub days: u32,
    /// Raw rows before this time may have been deleted (0: none were).
    pub raw_horizon_ms: i64,
    pub oldest_raw_ms: Option<i64>,
    pub raw_rows: u64,
}

/// What a prune did.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PruneOutcome {
    pub deleted: u64,
    /// Rows before this time are gone (none when retention is off).
    pub cutoff_ms: Option<i64>,
    pub freed_pages: u64,
}

pub(crate) fn retention_days(conn: &Connection) -> rusqlite::Result<u32> {
    let text: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT value FROM meta WHERE key = 'retention_days'",
        [],
        |r| r.get(0),
    ))?;
    Ok(text
        .and_then(|t| t.parse().ok())
        .unwrap_or(DEFAULT_RETENTION_DAYS))
}

/// The cutoff for `now_ms`, hour-aligned (rollups are hourly, so the edge of the raw
/// rows is too), and recorded as the raw horizon before anything is deleted, so a
/// query running meanwhile already reads rollups there.
pub(crate) fn begin(conn: &Connection, now_ms: i64) -> rusqlite::Result<Option<i64>> {
    let days = retention_days(conn)?;
    if days == 0 {
        return Ok(None);
    }
    let cutoff = floor_hour_utc(now_ms.saturating_sub(i64::from(days) * 86_400_000));
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('raw_horizon_ms', ?1)
         ON CONFLICT(key) DO UPDATE SET value = CAST(MAX(CAST(value AS INTEGER), ?1) AS TEXT)",
        [cutoff],
    )?;
    Ok(Some(cutoff))
}

/// Deletes up to [`DELETE_CHUNK`] rows older than `cutoff` (their attempts go with
/// them); returns how many.
pub(crate) fn delete_step(conn: &Connection, cutoff: i64) -> rusqlite::Result<u64> {
    let deleted = conn.execute(
        "DELETE FROM requests WHERE id IN
            (SELECT id FROM requests WHERE ts_ms < ?1 ORDER BY ts_ms LIMIT ?2)",
        [cutoff, DELETE_CHUNK],
    )?;
    Ok(deleted as u64)
}

/// Returns up to [`VACUUM_PAGES`] free pages to the file system; returns how many
/// it returned (0 when none are free, or the database is not in incremental mode).
pub(crate) fn vacuum_step(conn: &Connection) -> rusqlite::Result<u64> {
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    let free = |c: &Connection| -> rusqlite::Result<i64> {
        c.pragma_query_value(None, "freelist_count", |r| r.get(0))
    };
    let before = free(conn)?;
    if mode != 2 || before == 0 {
        return Ok(0);
    }
    let mut stmt = conn.prepare(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok((before - free(conn)?).max(0) as u64)
}

impl Store {
    pub fn retention(&self) -> Result<Retention> {
        let conn = self.connect()?;
        let (oldest, rows): (Option<i64>, i64) =
            conn.query_row("SELECT MIN(ts_ms), COUNT(*) FROM requests", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok(Retention {
            days: retention_days(&conn)?,
            raw_horizon_ms: crate::analytics::raw_horizon(&conn)?,
            oldest_raw_ms: oldest,
            raw_rows: rows.max(0) as u64,
        })
    }

    /// Sets how many days of raw rows to keep (0: all). At most 100 years.
    pub fn set_retention_days(&self, days: u32) -> Result<()> {
        if days > 36_500 {
            return Err(StoreError::InvalidQuery(format!(
                "{days} days is more than 100 years; use 0 to keep everything"
            )));
        }
        let conn = self.connect()?;
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('retention_days', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [days.to_string()],
        )?;
        Ok(())
    }

    /// Deletes raw rows beyond the retention age now and vacuums what they freed.
    pub fn prune(&self, now_ms: i64) -> Result<PruneOutcome> {
        let conn = self.connect()?;
        let Some(cutoff) = begin(&conn, now_ms)? else {
            return Ok(PruneOutcome {
                deleted: 0,
                cutoff_ms: None,
                freed_pages: 0,
            });
        };
        let mut deleted = 0;
        loop {
            let n = delete_step(&conn, cutoff)?;
            deleted += n;
            if n < DELETE_CHUNK as u64 {
                break;
            }
        }
        let mut freed = 0;
        loop {
            let n = vacuum_step(&conn)?;
            if n == 0 {
                break;
            }
            freed += n;
        }
        Ok(PruneOutcome {
            deleted,
            cutoff_ms: Some(cutoff),
            freed_pages: freed,
        })
    }
}
