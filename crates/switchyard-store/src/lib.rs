//! SQLite storage for Switchyard.
//!
//! The store owns the database: schema migrations, the single writer thread that
//! batches request-log records, and the read queries used by the CLI and the admin
//! API. Nothing else in the workspace speaks SQL.

mod alerts;
pub mod analytics;
mod config_doc;
mod config_watch;
mod keys;
mod migrations;
mod recent;
mod record;
mod retention;
mod writer;

pub use alerts::AlertEvent;
pub use config_watch::ConfigWatch;
pub use keys::{GatewayKeyRow, KeyHash};
pub use recent::RecentRequest;
pub use record::{AttemptRecord, RequestRecord, TokenCounts};
pub use retention::{PruneOutcome, Retention, DEFAULT_RETENTION_DAYS};
pub use writer::{LogSender, LogWriter, SendOutcome, WriterOptions};

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "switchyard.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a gateway key named '{0}' already exists; revoke it first or choose another name")]
    KeyExists(String),
    #[error("no active gateway key named '{0}'")]
    KeyNotFound(String),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("background task failed: {0}")]
    Task(String),
    #[error(
        "the database was written by a newer Switchyard (schema {found}, this build knows {known})"
    )]
    TooNew { found: i64, known: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Handle on the database file. Cheap to clone; every call opens its own short-lived
/// reader or writer connection, so a `Store` can be used from any thread (a
/// [`ConfigWatch`], polled every second, keeps one instead).
#[derive(Clone, Debug)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let store = Store {
            path: data_dir.join(DB_FILE),
        };
        let mut conn = store.connect()?;
        migrations::run(&mut conn, &jiff::tz::TimeZone::system())?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new connection with the pragmas every connection needs.
    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Readers and the writer share the file; WAL lets them do so without blocking
        // each other, and the busy timeout covers the short moments they do.
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }

    /// Monotonic counter bumped by every change the gateway must reload (config, keys,
    /// secrets). A running gateway polls it, so CLI changes apply without a restart.
    pub fn config_version(&self) -> Result<i64> {
        let conn = self.connect()?;
        read_config_version(&conn)
    }

    /// Marks the configuration as changed (e.g. after a keychain secret was updated).
    pub fn bump_config_version(&self) -> Result<i64> {
        let conn = self.connect()?;
        bump_config_version(&conn)
    }
}

fn read_config_version(conn: &Connection) -> Result<i64> {
    // Cached: a [`ConfigWatch`] reads it every second over the same connection.
    let v: String = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'config_version'")?
        .query_row([], |r| r.get(0))?;
    Ok(v.parse().unwrap_or(0))
}

fn bump_config_version(conn: &Connection) -> Result<i64> {
    let v: String = conn.query_row(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
         WHERE key = 'config_version' RETURNING value",
        [],
        |r| r.get(0),
    )?;
    Ok(v.parse().unwrap_or(0))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
