//! Provider keys: where they live (OS keychain or environment) and how they are kept
//! out of logs. `Secret` never prints its value.

use std::collections::HashMap;
use std::sync::Mutex;

/// The keychain service name every Switchyard entry is filed under.
pub const KEYRING_SERVICE: &str = "switchyard";

/// A secret value whose `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it: the upstream request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SecretError {
    #[error("no keychain entry named '{0}'; add it with `switchyard secret set {0}`")]
    NotFound(String),
    #[error(
        "the OS keychain is not usable on this machine ({0}). Put the key in an environment \
         variable instead and reference it in the config: api_key = {{ env = \"VARIABLE\" }}"
    )]
    Unavailable(String),
    #[error("keychain error: {0}")]
    Other(String),
}

/// A place provider keys are kept, by name.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Secret, SecretError>;
    fn set(&self, name: &str, value: &str) -> Result<(), SecretError>;
    fn delete(&self, name: &str) -> Result<(), SecretError>;
}

/// The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
#[derive(Default)]
pub struct KeyringSecretStore;

impl KeyringSecretStore {
    fn entry(name: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(KEYRING_SERVICE, name).map_err(|e| map_keyring_error(name, e))
    }
}

fn map_keyring_error(name: &str, e: keyring::Error) -> SecretError {
    match e {
        keyring::Error::NoEntry => SecretError::NotFound(name.to_string()),
        keyring::Error::PlatformFailure(inner) => SecretError::Unavailable(inner.to_string()),
        keyring::Error::NoStorageAccess(inner) => SecretError::Unavailable(inner.to_string()),
        other => SecretError::Other(other.to_string()),
    }
}

impl SecretStore for KeyringSecretStore {
    fn get(&self, name: &str) -> Result<Secret, SecretError> {
        Self::entry(name)?
            .get_password()
            .map(Secret)
            .map_err(|e| map_keyring_error(name, e))
    }

    fn set(&self, name: &str, value: &str) -> Result<(), SecretError> {
        Self::entry(name)?
            .set_password(value)
            .map_err(|e| map_keyring_error(name, e))
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        Self::entry(name)?
            .delete_credential()
            .map_err(|e| map_keyring_error(name, e))
    }
}

/// Keeps secrets in memory only: for tests and for embedding without a keychain.
#[derive(Default)]
pub struct MemorySecretStore {
    values: Mutex<HashMap<String, String>>,
}

impl SecretStore for MemorySecretStore {
    fn get(&self, name: &str) -> Result<Secret, SecretError> {
        let values = self
            .values
            .lock()
            .map_err(|e| SecretError::Other(e.to_string()))?;
        values
            .get(name)
            .map(|v| Secret(v.clone()))
            .ok_or_else(|| SecretError::NotFound(name.to_string()))
    }

    fn set(&self, name: &str, value: &str) -> Result<(), SecretError> {
        let mut values = self
            .values
            .lock()
            .map_err(|e| SecretError::Other(e.to_string()))?;
        values.insert(name.to_string(), value.to_string());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        let mut values = self
            .values
            .lock()
            .map_err(|e| SecretError::Other(e.to_string()))?;
        values
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| SecretError::NotFound(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn memory_store_round_trips() {
        let store = MemorySecretStore::default();
        assert_eq!(store.get("a"), Err(SecretError::NotFound("a".into())));
        store.set("a", "v").unwrap();
        assert_eq!(store.get("a").unwrap().expose(), "v");
        store.delete("a").unwrap();
        assert!(store.get("a").is_err());
    }
}
