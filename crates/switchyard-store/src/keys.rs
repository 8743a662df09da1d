//! Gateway keys: name, display prefix and SHA-256 hash of the secret; never the secret.

use crate::{bump_config_version, now_ms, Result, Store, StoreError};
use serde::Serialize;

/// SHA-256 of a gateway key's full text.
pub type KeyHash = [u8; 32];

/// A gateway key as the store knows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct GatewayKeyRow {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, enough to recognise it (`sy-1a2b3c4d`).
    pub prefix: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
    #[serde(skip)]
    pub hash: KeyHash,
}

impl Store {
    /// Records a new key. Fails with [`StoreError::KeyExists`] if an active key has this name.
    pub fn insert_gateway_key(&self, name: &str, prefix: &str, hash: &KeyHash) -> Result<i64> {
        let mut conn = self.connect()?;
        let tx = conn.transaction()?;
        let inserted = tx.execute(
            "INSERT INTO gateway_keys(name, prefix, hash, created_ms) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![name, prefix, &hash[..], now_ms()],
        );
        match inserted {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::KeyExists(name.to_string()));
            }
            other => {
                other?;
            }
        }
        let id = tx.last_insert_rowid();
        bump_config_version(&tx)?;
        tx.commit()?;
        Ok(id)
    }

    /// Every key, active and revoked, oldest first.
    pub fn gateway_keys(&self) -> Result<Vec<GatewayKeyRow>> {
        let conn = self.connect()?;
        let mut stmt = conn.prepare(
            "SELECT id, name, prefix, created_ms, revoked_ms, hash FROM gateway_keys ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let hash: Vec<u8> = r.get(5)?;
            let mut fixed = [0u8; 32];
            if hash.len() == 32 {
                fixed.copy_from_slice(&hash);
            }
            Ok(GatewayKeyRow {
                id: r.get(0)?,
                name: r.get(1)?,
                prefix: r.get(2)?,
                created_ms: r.get(3)?,
                revoked_ms: r.get(4)?,
                hash: fixed,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Revokes the active key called `name`; requests presenting it are refused from then on.
    pub fn revoke_gateway_key(&self, name: &str) -> Result<()> {
        let mut conn = self.connect()?;
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE gateway_keys SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms IS NULL",
            rusqlite::params![name, now_ms()],
        )?;
        if changed == 0 {
            return Err(StoreError::KeyNotFound(name.to_string()));
        }
        bump_config_version(&tx)?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

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
