//! The declarative configuration file: parsing, validation and the canonical form
//! that `switchyard apply` stores and `switchyard export` prints.
//!
//! Each concern is a top-level section: `providers` and `prices` here, routing
//! (`policies`, `aliases`) in [`routing`], governance (`approved_models`, `keys`,
//! `limits`, `alerts`) in [`governance`].

pub mod governance;
pub mod routing;

pub use governance::{AlertConfig, KeyConfig, LimitsConfig, WebhookFormat};
pub use routing::{ModelRef, PolicyConfig, PolicyKind, StepConfig};

use crate::pricing::ModelPrice;
use crate::providers::ProviderKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Models allowed for every key (`anthropic/*`, `policy/*`, `openai/gpt-4.1`);
    /// absent means everything configured is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderConfig>,
    /// Names of the user's choosing for a model or a policy (`fast = "policy/fast"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyConfig>,
    /// Settings for gateway keys, matched by the key's name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyConfig>,
    #[serde(default, skip_serializing_if = "LimitsConfig::is_empty")]
    pub limits: LimitsConfig,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertConfig>,
    /// Price overrides keyed by `<provider>/<model>`, in USD per token.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, ModelPrice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The prefix clients use: `<name>/<model>`.
    pub name: String,
    pub kind: ProviderKind,
    /// Overrides the kind's built-in base URL; required for `openai-compatible`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<KeyRef>,
    /// Further named keys for the same provider (a work and a personal account); a
    /// policy step picks one with `credential = "NAME"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, KeyRef>,
    /// Models to list in `/v1/models`; defaults to the kind's models in the price catalog.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Seconds to wait for the provider to start answering (default 600). A request
    /// that times out is retried or falls back like a 5xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// Where a provider's API key comes from. Never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "RawKeyRef")]
pub enum KeyRef {
    /// An entry in the OS keychain, written by `switchyard secret set NAME`.
    Keyring(String),
    /// An environment variable of the gateway's process.
    Env(String),
}

/// What the file may hold under `api_key`, checked so that a pasted key is refused
/// with advice instead of being stored or echoed in an error.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawKeyRef {
    Table {
        keyring: Option<String>,
        env: Option<String>,
    },
    Inline(serde::de::IgnoredAny),
}

impl TryFrom<RawKeyRef> for KeyRef {
    type Error = String;

    fn try_from(raw: RawKeyRef) -> Result<Self, Self::Error> {
        match raw {
            RawKeyRef::Table {
                keyring: Some(name),
                env: None,
            } if !name.is_empty() => Ok(KeyRef::Keyring(name)),
            RawKeyRef::Table {
                keyring: None,
                env: Some(var),
            } if !var.is_empty() => Ok(KeyRef::Env(var)),
            RawKeyRef::Table { .. } => Err(
                "api_key takes exactly one of { keyring = \"NAME\" } or { env = \"VARIABLE\" }"
                    .into(),
            ),
            RawKeyRef::Inline(_) => Err("api_key must not hold the key itself: store it with \
                `switchyard secret set NAME` and write api_key = { keyring = \"NAME\" }, \
                or name an environment variable: api_key = { env = \"VARIABLE\" }"
                .into()),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid config: {0}")]
    Syntax(String),
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Parses and validates a TOML document.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
        config.validate()?;
        Ok(config)
    }

    /// The canonical TOML form: the same config always gives the same text.
    pub fn to_toml(&self) -> String {
        // Serializing plain data to TOML cannot fail for these types; fall back to an
        // empty document rather than panic if it ever did.
        toml::to_string(self).unwrap_or_default()
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    pub fn policy(&self, name: &str) -> Option<&PolicyConfig> {
        self.policies.iter().find(|p| p.name == name)
    }

    pub fn key_settings(&self, name: &str) -> Option<&KeyConfig> {
        self.keys.iter().find(|k| k.name == name)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for p in &self.providers {
            validate_provider_name(&p.name)?;
            if !seen.insert(p.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "provider '{}' is defined twice",
                    p.name
                )));
            }
            match &p.base_url {
                Some(url) => validate_base_url(&p.name, url)?,
                None if p.kind.default_base_url().is_none() => {
                    return Err(ConfigError::Invalid(format!(
                        "provider '{}' of kind '{}' needs a base_url",
                        p.name,
                        p.kind.config_name()
                    )))
                }
                None => {}
            }
        }
        for key in self.prices.keys() {
            let provider = key.split_once('/').map(|(p, _)| p);
            match provider {
                Some(p) if seen.contains(p) => {}
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "price override '{key}' must be named <provider>/<model> after a configured provider"
                    )))
                }
            }
        }
        routing::validate(self)?;
        governance::validate(self)?;
        Ok(())
    }
}

/// The parser's message with its position, but without the excerpt of the file that
/// `toml` would print: that excerpt could be a pasted API key.
fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let mut message = e.message().trim_end().to_string();
    if message.contains("unknown field `approved_models`") {
        message.push_str(
            " (in TOML, top-level keys such as approved_models must come before the first [table])",
        );
    }
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            ConfigError::Syntax(format!("line {line}, column {column}: {message}"))
        }
        None => ConfigError::Syntax(message.to_string()),
    }
}

/// Whether `name` is usable as a provider, policy, alias or key name.
pub(crate) fn is_simple_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn validate_provider_name(name: &str) -> Result<(), ConfigError> {
    if !is_simple_name(name) {
        return Err(ConfigError::Invalid(format!(
            "provider name '{name}' may only use letters, digits, '-', '_' and '.'"
        )));
    }
    if name == "policy" {
        return Err(ConfigError::Invalid(
            "'policy' is reserved for routing policies (policy/<name>); choose another provider name".into(),
        ));
    }
    Ok(())
}

fn validate_base_url(provider: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(ConfigError::Invalid(format!(
            "provider '{provider}': base_url '{url}' must be an http:// or https:// URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[providers]]
name = "openai"
kind = "openai"
api_key = { keyring = "openai" }

[[providers]]
name = "local"
kind = "openai-compatible"
base_url = "http://127.0.0.1:11434/v1"

[prices."local/llama3.2"]
input_cost_per_token = 0
output_cost_per_token = 0
"#;

    #[test]
    fn parses_the_documented_example_and_round_trips() {
        let config = Config::from_toml(EXAMPLE).expect("example parses");
        assert_eq!(config.providers.len(), 2);
        assert_eq!(
            config.providers[0].api_key,
            Some(KeyRef::Keyring("openai".into()))
        );
        let canonical = config.to_toml();
        let again = Config::from_toml(&canonical).expect("canonical form parses");
        assert_eq!(again, config);
        assert_eq!(again.to_toml(), canonical);
    }

    #[test]
    fn refuses_an_inline_key_without_echoing_it() {
        let text =
            "[[providers]]\nname = \"o\"\nkind = \"openai\"\napi_key = \"sk-secret-value\"\n";
        let err = Config::from_toml(text).unwrap_err().to_string();
        assert!(err.contains("switchyard secret set"), "{err}");
        assert!(!err.contains("sk-secret-value"), "{err}");
    }

    #[test]
    fn rejects_invalid_providers_with_named_problems() {
        let cases = [
            ("[[providers]]\nname = \"c\"\nkind = \"openai-compatible\"\n", "needs a base_url"),
            ("[[providers]]\nname = \"a/b\"\nkind = \"openai\"\n", "may only use"),
            ("[[providers]]\nname = \"a\"\nkind = \"openai\"\n[[providers]]\nname = \"a\"\nkind = \"groq\"\n", "defined twice"),
            ("[[providers]]\nname = \"a\"\nkind = \"nope\"\n", "unknown variant"),
            ("[[providers]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"ftp://x\"\n", "http://"),
            ("[prices.\"x/y\"]\ninput_cost_per_token = 1\n", "configured provider"),
            ("[[policy]]\n", "unknown field"),
        ];
        for (text, expected) in cases {
            let err = Config::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} gave {err}");
        }
    }
}
