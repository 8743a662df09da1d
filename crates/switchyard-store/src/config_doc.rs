//! The applied configuration document. The store keeps it as opaque text; the
//! gateway owns its format and validation.

use crate::{bump_config_version, now_ms, Result, Store};
use rusqlite::OptionalExtension;

impl Store {
    /// The stored configuration document, if one was ever applied.
    pub fn config_document(&self) -> Result<Option<String>> {
        let conn = self.connect()?;
        Ok(conn
            .query_row("SELECT document FROM config WHERE id = 1", [], |r| r.get(0))
            .optional()?)
    }

    /// Stores `document` if it differs from the current one. Returns whether it changed,
    /// so applying the same file twice is a no-op that does not wake the gateway.
    pub fn replace_config_document(&self, document: &str) -> Result<bool> {
        let mut conn = self.connect()?;
        let tx = conn.transaction()?;
        let current: Option<String> = tx
            .query_row("SELECT document FROM config WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        if current.as_deref() == Some(document) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO config(id, document, updated_ms) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET document = excluded.document, updated_ms = excluded.updated_ms",
            rusqlite::params![document, now_ms()],
        )?;
        bump_config_version(&tx)?;
        tx.commit()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

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
}
