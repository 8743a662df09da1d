//! Operations shared by the CLI and the admin API, so both do exactly the same thing:
//! applying and exporting config, gateway keys, provider secrets, usage queries.

use crate::auth::generate_gateway_key;
use crate::config::{Config, ConfigError};
use crate::secrets::{SecretError, SecretStore};
use serde::Serialize;
use switchyard_store::{GroupBy, Store, StoreError, UsageQuery, UsageTotals};

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Invalid(String),
}

/// What `apply` did.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub changed: bool,
    pub providers: usize,
    pub prices: usize,
}

/// Validates `toml_text` and makes it the configuration. Applying the same content
/// again changes nothing.
pub fn apply_config(store: &Store, toml_text: &str) -> Result<ApplyOutcome, ManageError> {
    let config = Config::from_toml(toml_text)?;
    let changed = store.replace_config_document(&config.to_toml())?;
    Ok(ApplyOutcome {
        changed,
        providers: config.providers.len(),
        prices: config.prices.len(),
    })
}

/// The current configuration as a TOML document (it never holds secrets: keys are
/// only ever referenced by keychain entry or environment variable name).
pub fn export_config(store: &Store) -> Result<String, ManageError> {
    let body = match store.config_document()? {
        Some(doc) => Config::from_toml(&doc)?.to_toml(),
        None => String::new(),
    };
    Ok(format!(
        "# Switchyard configuration. Apply with `switchyard apply FILE`.\n{}{body}",
        if body.is_empty() { "" } else { "\n" }
    ))
}

/// A key just created: the only time its secret is available.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub name: String,
    pub prefix: String,
    pub key: String,
}

pub fn create_key(store: &Store, name: &str) -> Result<CreatedKey, ManageError> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(ManageError::Invalid(format!(
            "key name '{name}' must be 1-64 letters, digits, '-', '_' or '.'"
        )));
    }
    let new = generate_gateway_key()
        .map_err(|e| ManageError::Invalid(format!("no randomness available: {e}")))?;
    store.insert_gateway_key(name, &new.prefix, &new.hash)?;
    Ok(CreatedKey {
        name: name.to_string(),
        prefix: new.prefix,
        key: new.secret,
    })
}

/// Stores a provider key in the secret store and tells running gateways to pick it up.
pub fn set_secret(
    store: &Store,
    secrets: &dyn SecretStore,
    name: &str,
    value: &str,
) -> Result<(), ManageError> {
    let value = value.trim();
    if name.trim().is_empty() {
        return Err(ManageError::Invalid("secret name must not be empty".into()));
    }
    if value.is_empty() {
        return Err(ManageError::Invalid("the secret value is empty".into()));
    }
    secrets.set(name, value)?;
    store.bump_config_version()?;
    Ok(())
}

pub fn delete_secret(
    store: &Store,
    secrets: &dyn SecretStore,
    name: &str,
) -> Result<(), ManageError> {
    secrets.delete(name)?;
    store.bump_config_version()?;
    Ok(())
}

/// Parses a look-back window such as `90m`, `24h`, `7d` or `30d`.
pub fn parse_since(text: &str) -> Result<std::time::Duration, ManageError> {
    let text = text.trim();
    let bad = || {
        ManageError::Invalid(format!(
            "'{text}' is not a time window: use a number followed by m, h or d (24h, 7d, 30d)"
        ))
    };
    let unit = text.chars().last().ok_or_else(bad)?;
    let amount: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let seconds = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_secs(
        amount.saturating_mul(seconds),
    ))
}

pub fn parse_group_by(text: &str) -> Result<GroupBy, ManageError> {
    GroupBy::parse(text).ok_or_else(|| {
        ManageError::Invalid(format!(
            "cannot group by '{text}': choose model, provider, key or day"
        ))
    })
}

/// Usage over the last `since`, grouped as asked.
pub fn usage(
    store: &Store,
    since: std::time::Duration,
    group_by: GroupBy,
) -> Result<UsageTotals, ManageError> {
    let since_ms = switchyard_store::now_ms() - since.as_millis() as i64;
    Ok(store.usage(&UsageQuery {
        since_ms,
        until_ms: None,
        group_by,
    })?)
}

/// Usage as CSV, one row per group plus a total row.
pub fn usage_csv(usage: &UsageTotals) -> String {
    let mut out = String::from(
        "group,requests,errors,input_tokens,cache_read_tokens,cache_write_tokens,output_tokens,\
         reasoning_tokens,cost_usd,unpriced_requests,avg_latency_ms,avg_ttft_ms\n",
    );
    for row in usage.rows.iter().chain(std::iter::once(&usage.total)) {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.6},{},{},{}\n",
            csv_field(&row.group),
            row.requests,
            row.errors,
            row.input_tokens,
            row.cache_read_tokens,
            row.cache_write_tokens,
            row.output_tokens,
            row.reasoning_tokens,
            row.cost_usd,
            row.unpriced_requests,
            opt(row.avg_latency_ms),
            opt(row.avg_ttft_ms),
        ));
    }
    out
}

fn csv_field(s: &str) -> String {
    // Quote when needed, and defuse spreadsheet formulas.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_windows_parse() {
        assert_eq!(parse_since("24h").unwrap().as_secs(), 86_400);
        assert_eq!(parse_since("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(parse_since("90m").unwrap().as_secs(), 5_400);
        assert!(parse_since("7").is_err());
        assert!(parse_since("xd").is_err());
        assert!(parse_since("").is_err());
    }

    #[test]
    fn apply_is_idempotent_and_export_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let text = "[[providers]]\nname = \"o\"\nkind = \"openai\"\napi_key = { env = \"OPENAI_API_KEY\" }\n";
        assert!(apply_config(&store, text).unwrap().changed);
        assert!(!apply_config(&store, text).unwrap().changed);
        let exported = export_config(&store).unwrap();
        assert!(!apply_config(&store, &exported).unwrap().changed);
        assert!(exported.contains("OPENAI_API_KEY"));
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
