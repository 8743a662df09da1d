//! The configuration version as a running gateway polls it: every second, over one
//! connection it keeps.
//!
//! A new connection reads and parses the whole schema before its first statement:
//! about 440,000 instructions, with the file opened, locked and its shared-memory index
//! mapped, to read one row. An idle gateway did that every second. The kept
//! connection reads the row with a statement prepared once, and holds no read
//! transaction between checks, so the log writer's checkpoints are not held back.

use crate::{read_config_version, Result, Store};
use rusqlite::Connection;

/// A connection kept for reading the configuration version; the gateway's configuration
/// follower keeps it on its thread.
pub struct ConfigWatch {
    conn: Connection,
}

impl Store {
    /// Opens a connection for [`ConfigWatch::version`].
    pub fn config_watch(&self) -> Result<ConfigWatch> {
        Ok(ConfigWatch {
            conn: self.connect()?,
        })
    }
}

impl ConfigWatch {
    /// The configuration version as of now (see [`Store::config_version`]).
    pub fn version(&self) -> Result<i64> {
        read_config_version(&self.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_watch_sees_every_change_made_since_it_was_opened() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let watch = store.config_watch().unwrap();
        let before = watch.version().unwrap();
        assert_eq!(before, store.config_version().unwrap());
        // Bumped over other connections, as the CLI does from another process.
        let bumped = store.bump_config_version().unwrap();
        assert_eq!(bumped, before + 1);
        assert_eq!(watch.version().unwrap(), bumped);
        store.bump_config_version().unwrap();
        store.bump_config_version().unwrap();
        assert_eq!(watch.version().unwrap(), before + 3);
    }

    #[test]
    fn a_watch_between_checks_does_not_hold_back_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let watch = store.config_watch().unwrap();
        watch.version().unwrap();
        store.bump_config_version().unwrap();
        // A reader inside a transaction would keep the WAL's frames from being copied
        // back; a truncating checkpoint then reports itself busy.
        let conn = store.connect().unwrap();
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(busy, 0);
        assert_eq!(watch.version().unwrap(), store.config_version().unwrap());
    }
}
