//! Numbered schema migrations, applied in order and tracked with `PRAGMA user_version`.

use crate::{Result, StoreError};
use jiff::tz::TimeZone;
use rusqlite::Connection;

/// Every migration, in order. Append new files; never edit a released one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_routing.sql"),
    include_str!("../migrations/0003_alerts.sql"),
    include_str!("../migrations/0004_analytics.sql"),
];

/// The version whose migration creates the rollups, which are then built from the
/// rows already there.
const ROLLUPS_VERSION: usize = 4;

/// Brings the schema up to date. `zone` is the zone day rollups of existing rows
/// follow when they are first built.
pub(crate) fn run(conn: &mut Connection, zone: &TimeZone) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    if current == 0 {
        // Only takes effect before the first table exists: a new database can then
        // give pages freed by retention back a little at a time.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if index + 1 == ROLLUPS_VERSION {
            let rows = crate::analytics::rollup::backfill(&tx, zone.clone())?;
            if rows > 0 {
                tracing::info!(
                    rows,
                    "built analytics rollups from the existing request log"
                );
            }
        }
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    let auto_vacuum: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if auto_vacuum != 2 {
        // A database made before retention existed: switching needs one full VACUUM.
        // If another process holds the database, try again at the next start.
        let switched = conn
            .pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .and_then(|()| conn.execute_batch("VACUUM"));
        if let Err(e) = switched {
            tracing::warn!(error = %e, "could not switch the database to incremental vacuum yet");
        }
    }
    Ok(())
}
