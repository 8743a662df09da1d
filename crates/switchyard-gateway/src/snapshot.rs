//! The gateway's view of its configuration at one moment: providers with their keys
//! resolved, active gateway keys, prices. Built off the request path (keychain and
//! SQLite are blocking) and swapped in atomically; requests only read it.

use crate::config::{Config, KeyRef, ProviderConfig};
use crate::pricing::{ModelPrice, PriceCatalog};
use crate::providers::ProviderKind;
use crate::secrets::{Secret, SecretStore};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use switchyard_store::{KeyHash, Store, StoreError};

/// A configured provider, ready to receive requests.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing slash.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub key_status: KeyStatus,
    pub models: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "key", content = "key_error", rename_all = "kebab-case")]
pub enum KeyStatus {
    Ok,
    NotNeeded,
    /// The key could not be resolved; the text says why and what to do.
    Missing(String),
}

/// A gateway key allowed to make requests.
#[derive(Clone, Debug)]
pub struct ActiveKey {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub version: i64,
    pub config: Config,
    pub providers: HashMap<String, Arc<Provider>>,
    pub keys: HashMap<KeyHash, ActiveKey>,
}

impl Snapshot {
    /// Reads config and keys from the store and resolves provider keys. Blocking.
    pub fn load(store: &Store, secrets: &dyn SecretStore) -> Result<Snapshot, StoreError> {
        let version = store.config_version()?;
        let config = match store.config_document()? {
            Some(doc) => Config::from_toml(&doc).unwrap_or_else(|e| {
                tracing::error!(error = %e, "stored config no longer parses; serving with no providers");
                Config::default()
            }),
            None => Config::default(),
        };
        let providers = config
            .providers
            .iter()
            .map(|p| (p.name.clone(), Arc::new(resolve_provider(p, secrets))))
            .collect();
        let keys = store
            .gateway_keys()?
            .into_iter()
            .filter(|k| k.revoked_ms.is_none())
            .map(|k| {
                (
                    k.hash,
                    ActiveKey {
                        id: k.id,
                        name: k.name,
                    },
                )
            })
            .collect();
        Ok(Snapshot {
            version,
            config,
            providers,
            keys,
        })
    }

    /// The price of `model` at `provider`: the config's override laid over the built-in
    /// catalog. Models on local servers cost nothing unless the config says otherwise.
    pub fn price_for(&self, provider: &Provider, model: &str) -> Option<ModelPrice> {
        let catalog = provider
            .kind
            .price_catalog()
            .and_then(|c| PriceCatalog::builtin().lookup(c, model));
        let key = format!("{}/{}", provider.name, model);
        match (self.config.prices.get(&key), catalog) {
            (Some(over), base) => Some(over.overlaid_on(base)),
            (None, Some(base)) => Some(base.clone()),
            (None, None) if provider.kind.is_local() => Some(ModelPrice {
                input_cost_per_token: Some(0.0),
                output_cost_per_token: Some(0.0),
                ..Default::default()
            }),
            (None, None) => None,
        }
    }
}

fn resolve_provider(p: &ProviderConfig, secrets: &dyn SecretStore) -> Provider {
    let (api_key, key_status) = match &p.api_key {
        None if p.kind.requires_key() => (
            None,
            KeyStatus::Missing(format!(
                "provider '{}' has no api_key; add api_key = {{ keyring = \"{}\" }} or {{ env = \"VARIABLE\" }}",
                p.name, p.name
            )),
        ),
        None => (None, KeyStatus::NotNeeded),
        Some(KeyRef::Env(var)) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => (Some(Secret::new(v)), KeyStatus::Ok),
            _ => (
                None,
                KeyStatus::Missing(format!(
                    "environment variable {var} (api_key of provider '{}') is not set in the gateway's environment",
                    p.name
                )),
            ),
        },
        Some(KeyRef::Keyring(name)) => match secrets.get(name) {
            Ok(secret) => (Some(secret), KeyStatus::Ok),
            Err(e) => (None, KeyStatus::Missing(e.to_string())),
        },
    };
    let base_url = p
        .base_url
        .as_deref()
        .or(p.kind.default_base_url())
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    Provider {
        name: p.name.clone(),
        kind: p.kind,
        base_url,
        api_key,
        key_status,
        models: p.models.clone(),
    }
}
