//! Operations shared by the CLI and the admin API, so both do exactly the same thing:
//! applying and exporting config, gateway keys, provider secrets, usage and analytics
//! queries, charts, retention.

use crate::auth::generate_gateway_key;
use crate::config::{Config, ConfigError};
use crate::secrets::{SecretError, SecretStore};
use serde::Serialize;
use switchyard_charts::{ChartKind, ChartOptions, Theme, Timing};
use switchyard_store::analytics::{
    parse_params, parse_range, AnalyticsQuery, Bucket, Dimension, Metrics, ParsedParams, Report,
    ReportRow, Summary, TimeZone,
};
use switchyard_store::{PruneOutcome, Retention, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Invalid(String),
}

impl From<StoreError> for ManageError {
    /// A question the store cannot answer as asked is the asker's mistake, not ours.
    fn from(e: StoreError) -> ManageError {
        match e {
            StoreError::InvalidQuery(message) => ManageError::Invalid(message),
            other => ManageError::Store(other),
        }
    }
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

/// How `switchyard usage` and `/api/usage` group: `day` buckets by local day (as it
/// always did); anything else is a dimension (`model`, `repo`, `extra.team`, ...).
#[derive(Clone, Debug, PartialEq)]
pub enum UsageGrouping {
    Day,
    By(Dimension),
}

pub fn parse_group_by(text: &str) -> Result<UsageGrouping, ManageError> {
    if text == "day" {
        return Ok(UsageGrouping::Day);
    }
    Dimension::parse(text)
        .map(UsageGrouping::By)
        .ok_or_else(|| {
            ManageError::Invalid(format!(
                "cannot group by '{text}': choose day or one of {}",
                Dimension::NAMES
            ))
        })
}

/// Usage over the last `since`, grouped as asked, in the machine's local time zone.
pub fn usage(
    store: &Store,
    since: std::time::Duration,
    group_by: UsageGrouping,
) -> Result<Report, ManageError> {
    let now = switchyard_store::now_ms();
    let (bucket, group_by) = match group_by {
        UsageGrouping::Day => (Bucket::Day, None),
        UsageGrouping::By(d) => (Bucket::None, Some(d)),
    };
    Ok(store.analytics(&AnalyticsQuery {
        range: switchyard_store::analytics::TimeRange {
            from_ms: now.saturating_sub(since.as_millis() as i64),
            to_ms: now + 1,
        },
        bucket,
        group_by,
        filters: Vec::new(),
        top: None,
        zone: TimeZone::system(),
        force_raw: false,
    })?)
}

/// Parses analytics parameters (see `switchyard_store::analytics::parse_params`) as
/// of now, in the machine's local time zone.
pub fn analytics_params(pairs: &[(String, String)]) -> Result<ParsedParams, ManageError> {
    parse_params(pairs, switchyard_store::now_ms(), &TimeZone::system())
        .map_err(ManageError::Invalid)
}

/// Answers an analytics question given as parameters.
pub fn analytics(store: &Store, pairs: &[(String, String)]) -> Result<Report, ManageError> {
    let parsed = analytics_params(pairs)?;
    Ok(store.analytics(&parsed.query)?)
}

/// Chart options from the `width`, `height`, `theme`, `title` and `metric` parameters.
pub fn chart_options(
    output: &std::collections::BTreeMap<String, String>,
) -> Result<ChartOptions, ManageError> {
    let mut options = ChartOptions::default();
    let size = |key: &str, default: u32| -> Result<u32, ManageError> {
        match output.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                ManageError::Invalid(format!("{key} must be a number of pixels, not '{v}'"))
            }),
        }
    };
    options.width = size("width", options.width)?;
    options.height = size("height", options.height)?;
    if let Some(theme) = output.get("theme") {
        options.theme = Theme::parse(theme).ok_or_else(|| {
            ManageError::Invalid(format!("unknown theme '{theme}': choose light or dark"))
        })?;
    }
    options.title = output.get("title").cloned();
    if let Some(metric) = output.get("metric") {
        options.timing = match metric.as_str() {
            "latency" => Timing::Latency,
            "ttft" => Timing::Ttft,
            other => {
                return Err(ManageError::Invalid(format!(
                    "unknown metric '{other}': choose latency or ttft"
                )))
            }
        };
    }
    Ok(options)
}

pub fn parse_chart_kind(text: &str) -> Result<ChartKind, ManageError> {
    ChartKind::parse(text).ok_or_else(|| {
        ManageError::Invalid(format!(
            "unknown chart '{text}': choose one of {}",
            ChartKind::NAMES
        ))
    })
}

/// The SVG of chart `kind` for the analytics question in `pairs`.
pub fn chart(
    store: &Store,
    kind: ChartKind,
    pairs: &[(String, String)],
) -> Result<String, ManageError> {
    let parsed = analytics_params(pairs)?;
    let options = chart_options(&parsed.output)?;
    let report = store.analytics(&parsed.query)?;
    switchyard_charts::chart(kind, &report, &options)
        .map_err(|e| ManageError::Invalid(e.to_string()))
}

/// Totals since midnight in the machine's local time zone (rollups where they answer).
pub fn today(store: &Store) -> Result<Metrics, ManageError> {
    let zone = TimeZone::system();
    let range =
        parse_range("today", switchyard_store::now_ms(), &zone).map_err(ManageError::Invalid)?;
    Ok(store
        .analytics(&AnalyticsQuery {
            range,
            bucket: Bucket::None,
            group_by: None,
            filters: Vec::new(),
            top: None,
            zone,
            force_raw: false,
        })?
        .total
        .metrics)
}

/// Spend today and this month, the month's projection and top models.
pub fn summary(store: &Store) -> Result<Summary, ManageError> {
    Ok(store.summary(switchyard_store::now_ms(), &TimeZone::system())?)
}

pub fn retention(store: &Store) -> Result<Retention, ManageError> {
    Ok(store.retention()?)
}

pub fn set_retention(store: &Store, days: u32) -> Result<Retention, ManageError> {
    store.set_retention_days(days)?;
    Ok(store.retention()?)
}

pub fn prune(store: &Store) -> Result<PruneOutcome, ManageError> {
    Ok(store.prune(switchyard_store::now_ms())?)
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_default()
}

/// One CSV line of figures (after the bucket and group columns).
fn csv_figures(row: &ReportRow) -> String {
    let m = &row.metrics;
    let tools: Vec<String> = m
        .tool_calls
        .iter()
        .map(|(t, n)| format!("{t}={n}"))
        .collect();
    format!(
        "{},{},{},{},{},{},{},{:.6},{},{},{},{:.4},{},{},{:.6},{},{},{},{},{},{},{},{},{},{}",
        m.requests,
        m.errors,
        m.input_tokens,
        m.cache_read_tokens,
        m.cache_write_tokens,
        m.output_tokens,
        m.reasoning_tokens,
        m.cost_usd,
        m.unpriced_requests,
        opt(m.avg_latency_ms),
        opt(m.avg_ttft_ms),
        m.error_rate,
        m.cache_write_5m_tokens,
        m.cache_write_1h_tokens,
        m.cache_savings_usd,
        opt(m.latency_p50_ms),
        opt(m.latency_p90_ms),
        opt(m.latency_p95_ms),
        opt(m.latency_p99_ms),
        opt(m.ttft_p50_ms),
        opt(m.ttft_p90_ms),
        opt(m.ttft_p95_ms),
        opt(m.ttft_p99_ms),
        opt(m.output_tokens_per_s),
        csv_field(&tools.join(";")),
    )
}

/// An analytics answer as CSV: one line per row plus a total line. The first columns
/// are the ones `/api/usage?format=csv` always had; a `bucket` column comes first when
/// the answer is both bucketed and grouped.
pub fn usage_csv(report: &Report) -> String {
    let with_bucket = report.bucket != Bucket::None && report.group_by.is_some();
    let mut out = String::new();
    if with_bucket {
        out.push_str("bucket,");
    }
    out.push_str(
        "group,requests,errors,input_tokens,cache_read_tokens,cache_write_tokens,output_tokens,\
         reasoning_tokens,cost_usd,unpriced_requests,avg_latency_ms,avg_ttft_ms,error_rate,\
         cache_write_5m_tokens,cache_write_1h_tokens,cache_savings_usd,latency_p50_ms,\
         latency_p90_ms,latency_p95_ms,latency_p99_ms,ttft_p50_ms,ttft_p90_ms,ttft_p95_ms,\
         ttft_p99_ms,output_tokens_per_s,tool_calls\n",
    );
    for row in report.rows.iter().chain(std::iter::once(&report.total)) {
        if with_bucket {
            out.push_str(&csv_field(row.bucket.as_deref().unwrap_or("")));
            out.push(',');
        }
        out.push_str(&csv_field(&row.group));
        out.push(',');
        out.push_str(&csv_figures(row));
        out.push('\n');
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
    fn usage_groups_by_any_dimension_and_day() {
        assert_eq!(parse_group_by("day").unwrap(), UsageGrouping::Day);
        assert_eq!(
            parse_group_by("repo").unwrap(),
            UsageGrouping::By(Dimension::Repo)
        );
        assert!(parse_group_by("colour").is_err());
    }

    #[test]
    fn analytics_mistakes_are_invalid_requests() {
        let pairs = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(matches!(
            analytics_params(&pairs("modle", "x")),
            Err(ManageError::Invalid(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Too many minute buckets is the store's refusal, still a 400.
        let too_many = vec![
            ("range".to_string(), "30d".to_string()),
            ("bucket".to_string(), "minute".to_string()),
        ];
        assert!(matches!(
            analytics(&store, &too_many),
            Err(ManageError::Invalid(_))
        ));
        assert!(parse_chart_kind("pie").is_err());
        let mut output = std::collections::BTreeMap::new();
        output.insert("theme".to_string(), "neon".to_string());
        assert!(chart_options(&output).is_err());
        output.insert("theme".to_string(), "dark".to_string());
        output.insert("width".to_string(), "1000".to_string());
        output.insert("metric".to_string(), "ttft".to_string());
        let options = chart_options(&output).unwrap();
        assert_eq!(
            (options.width, options.theme, options.timing),
            (1000, Theme::Dark, Timing::Ttft)
        );
        let svg = chart(&store, ChartKind::Spend, &[]).unwrap();
        assert!(svg.contains("No requests in this range"));
    }

    #[test]
    fn csv_has_the_old_columns_first_and_a_bucket_when_grouped_over_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let flat = usage(
            &store,
            std::time::Duration::from_secs(3600),
            UsageGrouping::By(Dimension::Model),
        )
        .unwrap();
        let csv = usage_csv(&flat);
        assert!(csv.starts_with("group,requests,errors,input_tokens,cache_read_tokens,cache_write_tokens,output_tokens,reasoning_tokens,cost_usd,unpriced_requests,avg_latency_ms,avg_ttft_ms,"));
        assert!(csv.lines().nth(1).unwrap().starts_with("total,0,0,"));
        let pairs = vec![
            ("range".to_string(), "2h".to_string()),
            ("bucket".to_string(), "hour".to_string()),
            ("group_by".to_string(), "model".to_string()),
        ];
        let csv = usage_csv(&analytics(&store, &pairs).unwrap());
        assert!(csv.starts_with("bucket,group,requests,"));
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
