//! The gateway's view of its configuration at one moment: providers with their keys
//! resolved, active gateway keys, prices. Built off the request path (keychain and
//! SQLite are blocking) and swapped in atomically; requests only read it.

use crate::config::{Config, KeyRef, ProviderConfig};
use crate::pricing::{qualified_model, ModelPrice, PriceCatalog};
use crate::providers::ProviderKind;
use crate::secrets::{Secret, SecretStore};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchyard_store::{KeyHash, Store, StoreError};

/// How long a provider may take to start answering unless its config says otherwise.
pub const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(600);

/// A configured provider, ready to receive requests.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    /// `name` as the value of the `x-switchyard-provider` header every answer carries,
    /// built once here rather than copied per answer.
    pub name_header: http::HeaderValue,
    pub kind: ProviderKind,
    /// Without a trailing slash.
    pub base_url: String,
    /// The fixed endpoint URLs under `base_url`, parsed once here instead of per request.
    pub endpoints: Endpoints,
    /// The provider's `api_key`.
    pub default_credential: Credential,
    /// The provider's named `credentials`.
    pub credentials: HashMap<String, Credential>,
    pub models: Vec<String>,
    pub timeout: Duration,
}

/// A provider's fixed endpoint URLs; `None` when `base_url` does not parse (the
/// request then fails with the URL's own error).
#[derive(Debug, Default)]
pub struct Endpoints {
    pub chat: Option<http::Uri>,
    pub responses: Option<http::Uri>,
    pub embeddings: Option<http::Uri>,
    pub messages: Option<http::Uri>,
    /// The `Host` header of requests to `base_url`'s host (every endpoint's), when it
    /// is plain HTTP.
    pub host: Option<http::HeaderValue>,
}

impl Endpoints {
    pub fn under(base_url: &str) -> Endpoints {
        let at = |path: &str| crate::upstream::parse_url(&format!("{base_url}{path}"));
        let chat = at("/chat/completions");
        Endpoints {
            host: chat
                .as_ref()
                .and_then(crate::upstream::plain_http_host_header),
            chat,
            responses: at("/responses"),
            embeddings: at("/embeddings"),
            messages: at("/v1/messages"),
        }
    }
}

impl Provider {
    /// The named credential, or the default one for `None`.
    pub fn credential(&self, name: Option<&str>) -> Option<&Credential> {
        match name {
            None => Some(&self.default_credential),
            Some(n) => self.credentials.get(n),
        }
    }
}

/// A provider key as resolved from the keychain or the environment.
#[derive(Debug)]
pub struct Credential {
    pub secret: Option<Secret>,
    pub status: KeyStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "key", content = "key_error", rename_all = "kebab-case")]
pub enum KeyStatus {
    Ok,
    NotNeeded,
    /// The key could not be resolved; the text says why and what to do.
    Missing(String),
}

/// A gateway key allowed to make requests, with its settings from `[[keys]]`.
#[derive(Clone, Debug, Default)]
pub struct ActiveKey {
    pub id: i64,
    pub name: String,
    pub monthly_limit_usd: Option<f64>,
    /// Narrows the global approved list; `None` leaves it as is.
    pub approved_models: Option<Vec<String>>,
    /// Unix milliseconds after which the key no longer works.
    pub expires_after_ms: Option<i64>,
    /// The `expires` date as written, for messages.
    pub expires: Option<String>,
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
                let settings = config.key_settings(&k.name);
                let expires = settings.and_then(|s| s.expires.clone());
                let active = ActiveKey {
                    id: k.id,
                    monthly_limit_usd: settings.and_then(|s| s.monthly_limit_usd),
                    approved_models: settings.and_then(|s| s.approved_models.clone()),
                    expires_after_ms: expires.as_deref().and_then(end_of_day_ms),
                    expires,
                    name: k.name,
                };
                (k.hash, active)
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
        // Most configurations override no price: no key to build then.
        let over = if self.config.prices.is_empty() {
            None
        } else {
            self.config
                .prices
                .get(&qualified_model(&provider.name, model))
        };
        match (over, catalog) {
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

/// The first millisecond after the given local date ends.
fn end_of_day_ms(date: &str) -> Option<i64> {
    let date = crate::config::governance::parse_date(date)?;
    let offset = crate::spend::local_offset();
    let next = date.next_day()?.midnight().assume_offset(offset);
    Some(next.unix_timestamp() * 1000)
}

fn resolve_credential(
    provider: &ProviderConfig,
    key: Option<&KeyRef>,
    secrets: &dyn SecretStore,
) -> Credential {
    let (secret, status) = match key {
        None if provider.kind.requires_key() => (
            None,
            KeyStatus::Missing(format!(
                "provider '{}' has no api_key; add api_key = {{ keyring = \"{}\" }} or {{ env = \"VARIABLE\" }}",
                provider.name, provider.name
            )),
        ),
        None => (None, KeyStatus::NotNeeded),
        Some(KeyRef::Env(var)) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => (Some(Secret::new(v)), KeyStatus::Ok),
            _ => (
                None,
                KeyStatus::Missing(format!(
                    "environment variable {var} (a key of provider '{}') is not set in the gateway's environment",
                    provider.name
                )),
            ),
        },
        Some(KeyRef::Keyring(name)) => match secrets.get(name) {
            Ok(secret) => (Some(secret), KeyStatus::Ok),
            Err(e) => (None, KeyStatus::Missing(e.to_string())),
        },
    };
    Credential { secret, status }
}

fn resolve_provider(p: &ProviderConfig, secrets: &dyn SecretStore) -> Provider {
    let base_url = p
        .base_url
        .as_deref()
        .or(p.kind.default_base_url())
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    Provider {
        name: p.name.clone(),
        name_header: http::HeaderValue::from_str(&p.name)
            .unwrap_or(http::HeaderValue::from_static("invalid")),
        kind: p.kind,
        endpoints: Endpoints::under(&base_url),
        base_url,
        default_credential: resolve_credential(p, p.api_key.as_ref(), secrets),
        credentials: p
            .credentials
            .iter()
            .map(|(name, key)| (name.clone(), resolve_credential(p, Some(key), secrets)))
            .collect(),
        models: p.models.clone(),
        timeout: p
            .timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_PROVIDER_TIMEOUT),
    }
}
