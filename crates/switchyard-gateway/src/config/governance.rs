//! Governance sections of the config: `approved_models`, per-key settings (`[[keys]]`:
//! limits, approved models, expiry, labels), the gateway-wide `[limits]`, and spend
//! `[[alerts]]`.

use super::routing::ModelRef;
use super::{is_simple_name, Config, ConfigError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The gateway key these settings belong to (`switchyard key create NAME`).
    pub name: String,
    /// Monthly spend limit in USD (calendar month, local time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_limit_usd: Option<f64>,
    /// Narrows the global approved list for this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_models: Option<Vec<String>>,
    /// Last day (local time) the key works, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Monthly spend limit for the whole gateway, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
}

impl LimitsConfig {
    pub fn is_empty(&self) -> bool {
        self.monthly_usd.is_none()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"alert": ..., "spent_usd": ..., ...}`
    #[default]
    Json,
    /// Slack's incoming-webhook shape: `{"text": "..."}`.
    Slack,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    pub name: String,
    /// The gateway key watched; absent means the whole gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Fires when spend this month reaches this share of the limit (1-100+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_percent: Option<f64>,
    /// Fires when spend this month reaches this many USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(default, skip_serializing_if = "is_default_format")]
    pub webhook_format: WebhookFormat,
}

fn is_default_format(f: &WebhookFormat) -> bool {
    *f == WebhookFormat::Json
}

impl Config {
    /// The monthly limit that applies to an alert's subject, if any.
    pub fn limit_for(&self, key: Option<&str>) -> Option<f64> {
        match key {
            Some(name) => self.key_settings(name).and_then(|k| k.monthly_limit_usd),
            None => self.limits.monthly_usd,
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no '*' at all
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether `model` is allowed by `list` (`None` allows everything).
pub fn approved_by(list: Option<&[String]>, model: &str) -> bool {
    list.is_none_or(|patterns| patterns.iter().any(|p| glob_match(p, model)))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, format).ok()
}

pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    let lists = std::iter::once((
        "approved_models".to_string(),
        config.approved_models.as_ref(),
    ))
    .chain(config.keys.iter().map(|k| {
        (
            format!("keys '{}' approved_models", k.name),
            k.approved_models.as_ref(),
        )
    }));
    for (context, list) in lists {
        for pattern in list.into_iter().flatten() {
            if pattern.is_empty() || (!pattern.contains('/') && pattern != "*") {
                return invalid(format!(
                    "{context}: '{pattern}' is not a model pattern (provider/model, provider/*, policy/*)"
                ));
            }
        }
    }
    // A policy may only route to approved models.
    if let Some(list) = config.approved_models.as_deref() {
        for policy in &config.policies {
            for step in &policy.steps {
                if !approved_by(Some(list), &step.model) {
                    return invalid(format!(
                        "policy '{}' routes to '{}', which approved_models does not allow",
                        policy.name, step.model
                    ));
                }
            }
        }
    }

    let mut key_names = HashSet::new();
    for key in &config.keys {
        if !is_simple_name(&key.name) {
            return invalid(format!("keys: '{}' is not a valid key name", key.name));
        }
        if !key_names.insert(key.name.as_str()) {
            return invalid(format!("keys: '{}' is configured twice", key.name));
        }
        if let Some(limit) = key.monthly_limit_usd {
            if !(limit.is_finite() && limit >= 0.0) {
                return invalid(format!(
                    "keys '{}': monthly_limit_usd must be 0 or more",
                    key.name
                ));
            }
        }
        if let Some(date) = &key.expires {
            if parse_date(date).is_none() {
                return invalid(format!(
                    "keys '{}': expires '{date}' is not a date like 2027-06-30",
                    key.name
                ));
            }
        }
    }
    if let Some(limit) = config.limits.monthly_usd {
        if !(limit.is_finite() && limit >= 0.0) {
            return invalid("limits: monthly_usd must be 0 or more".into());
        }
    }

    let mut alert_names = HashSet::new();
    for alert in &config.alerts {
        let context = format!("alert '{}'", alert.name);
        if !is_simple_name(&alert.name) {
            return invalid(format!(
                "{context}: names may only use letters, digits, '-', '_' and '.'"
            ));
        }
        if !alert_names.insert(alert.name.as_str()) {
            return invalid(format!("{context} is defined twice"));
        }
        match (alert.threshold_percent, alert.threshold_usd) {
            (Some(p), None) => {
                if !(p.is_finite() && p > 0.0) {
                    return invalid(format!("{context}: threshold_percent must be positive"));
                }
                if config.limit_for(alert.key.as_deref()).is_none() {
                    return invalid(format!(
                        "{context}: threshold_percent needs a monthly limit for {} to be a percentage of",
                        alert.key.as_deref().map_or("the gateway ([limits] monthly_usd)".to_string(), |k| format!("key '{k}'"))
                    ));
                }
            }
            (None, Some(usd)) => {
                if !(usd.is_finite() && usd > 0.0) {
                    return invalid(format!("{context}: threshold_usd must be positive"));
                }
            }
            _ => {
                return invalid(format!(
                    "{context}: give exactly one of threshold_percent or threshold_usd"
                ))
            }
        }
        if let Some(url) = &alert.webhook {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return invalid(format!(
                    "{context}: webhook must be an http:// or https:// URL"
                ));
            }
        }
    }
    // Aliases and approved lists refer to models; a typo'd pattern is harmless, but an
    // alias to a model outside the approved list is a mistake worth naming.
    if let Some(list) = config.approved_models.as_deref() {
        for (alias, target) in &config.aliases {
            if ModelRef::parse(target).is_some() && !approved_by(Some(list), target) {
                return invalid(format!(
                    "alias '{alias}' points to '{target}', which approved_models does not allow"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_expected() {
        assert!(glob_match("anthropic/*", "anthropic/claude-sonnet-4-5"));
        assert!(!glob_match("anthropic/*", "openai/gpt-4.1"));
        assert!(glob_match("*", "anything/at-all"));
        assert!(glob_match("openai/gpt-4.1", "openai/gpt-4.1"));
        assert!(!glob_match("openai/gpt-4.1", "openai/gpt-4.1-mini"));
        assert!(glob_match("openai/gpt-*-mini", "openai/gpt-4.1-mini"));
        assert!(!glob_match("openai/gpt-*-mini", "openai/gpt-4.1"));
        assert!(glob_match("*/llama*", "local/llama3.2"));
        assert!(approved_by(None, "x/y"));
        assert!(!approved_by(Some(&[]), "x/y"));
    }

    #[test]
    fn governance_sections_parse_and_are_checked() {
        let base = "[[providers]]\nname = \"openai\"\nkind = \"openai\"\n[[providers]]\nname = \"anthropic\"\nkind = \"anthropic\"\n";
        let good = format!(
            "approved_models = [\"anthropic/*\", \"openai/gpt-4.1\", \"policy/*\"]\n{base}\
             [limits]\nmonthly_usd = 200\n\
             [[keys]]\nname = \"claude-code\"\nmonthly_limit_usd = 50\napproved_models = [\"policy/sonnet\"]\nexpires = \"2027-06-30\"\nlabels = [\"team-a\"]\n\
             [[policies]]\nname = \"sonnet\"\ntype = \"fallback\"\nsteps = [{{ model = \"anthropic/claude-sonnet-4-5\" }}, {{ model = \"openai/gpt-4.1\" }}]\n\
             [[alerts]]\nname = \"cc-80\"\nkey = \"claude-code\"\nthreshold_percent = 80\nwebhook = \"http://127.0.0.1:9/hook\"\nwebhook_format = \"slack\"\n"
        );
        let config = Config::from_toml(&good).unwrap_or_else(|e| panic!("{e}\n{good}"));
        assert_eq!(config.keys[0].monthly_limit_usd, Some(50.0));
        assert_eq!(Config::from_toml(&config.to_toml()).unwrap(), config);

        let bad = [
            ("approved_models = [\"openai/gpt-4.1\"]\n", "[[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = [{ model = \"anthropic/x\" }]\n", "which approved_models does not allow"),
            ("", "[[keys]]\nname = \"k\"\nexpires = \"next year\"\n", "not a date"),
            ("", "[[alerts]]\nname = \"a\"\nthreshold_percent = 80\n", "needs a monthly limit"),
            ("", "[[alerts]]\nname = \"a\"\nthreshold_usd = 5\nthreshold_percent = 5\n", "exactly one"),
            ("approved_models = [\"gpt-4.1\"]\n", "", "not a model pattern"),
        ];
        for (top, tail, expected) in bad {
            let err = Config::from_toml(&format!("{top}{base}{tail}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{tail} => {err}");
        }
    }
}
