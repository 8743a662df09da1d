//! Analytics over the request log: the questions (range, bucket, grouping, filters),
//! the answers (rows of metrics with percentiles), and how they are computed.
//!
//! Long ranges are answered from rollups (per UTC hour and per local day, one row per
//! dimension value) that the writer thread keeps up to date in the same transaction as
//! the records; only the ragged edges of a range, minute buckets, and groupings or
//! filters the rollups cannot answer read raw rows. Both paths feed the same
//! accumulator, so they agree to the last token.

mod agg;
mod hist;
mod params;
mod query;
mod raw;
pub(crate) mod rollup;
mod summary;
mod timeq;
mod wildcard;

#[cfg(test)]
mod tests;

pub use agg::Metrics;
/// The time zone type queries take (re-exported so callers need not depend on jiff).
pub use jiff::tz::TimeZone;
pub use params::{parse_params, ParsedParams, RESERVED_PARAMS};
pub use summary::{Summary, TopModel};
pub use timeq::{parse_instant, parse_range, Bucket, TimeRange};
pub use wildcard::Pattern;

pub(crate) use agg::Obs;
pub(crate) use query::raw_horizon;
pub(crate) use timeq::floor_hour_utc;

use serde::Serialize;

/// What requests can be grouped and filtered by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The model the client asked for (`provider/model`, an alias or `policy/<name>`).
    Model,
    Provider,
    /// The gateway key, by name.
    Key,
    Policy,
    User,
    /// Each of a request's tags (a request with two tags is in two groups).
    Tag,
    Trace,
    Session,
    Branch,
    Repo,
    Agent,
    /// The HTTP status answered, e.g. `200`, `429`, `499` (client went away).
    Status,
    /// A field of the request's `extra` metadata object.
    Extra(String),
}

impl Dimension {
    /// The names accepted by [`Dimension::parse`], for help texts and errors.
    pub const NAMES: &'static str =
        "model, provider, key, policy, user, tag, trace, session, branch, repo, agent, status, extra.<field>";

    pub fn parse(text: &str) -> Option<Dimension> {
        Some(match text {
            "model" => Dimension::Model,
            "provider" => Dimension::Provider,
            "key" => Dimension::Key,
            "policy" => Dimension::Policy,
            "user" => Dimension::User,
            "tag" => Dimension::Tag,
            "trace" => Dimension::Trace,
            "session" => Dimension::Session,
            "branch" => Dimension::Branch,
            "repo" => Dimension::Repo,
            "agent" => Dimension::Agent,
            "status" => Dimension::Status,
            other => {
                let field = other.strip_prefix("extra.")?;
                // Kept to a safe alphabet: the name becomes part of a JSON path.
                let valid = !field.is_empty()
                    && field.len() <= 64
                    && field
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
                if !valid {
                    return None;
                }
                Dimension::Extra(field.to_string())
            }
        })
    }

    pub fn name(&self) -> String {
        match self {
            Dimension::Model => "model".into(),
            Dimension::Provider => "provider".into(),
            Dimension::Key => "key".into(),
            Dimension::Policy => "policy".into(),
            Dimension::User => "user".into(),
            Dimension::Tag => "tag".into(),
            Dimension::Trace => "trace".into(),
            Dimension::Session => "session".into(),
            Dimension::Branch => "branch".into(),
            Dimension::Repo => "repo".into(),
            Dimension::Agent => "agent".into(),
            Dimension::Status => "status".into(),
            Dimension::Extra(field) => format!("extra.{field}"),
        }
    }

    /// The rollup tables' code for this dimension, if it is rolled up. Trace and
    /// session ids are unique per conversation, and `extra` fields are free-form, so
    /// rolling them up would cost as much as the raw rows.
    pub(crate) fn rollup_code(&self) -> Option<u8> {
        Some(match self {
            Dimension::Model => 1,
            Dimension::Provider => 2,
            Dimension::Key => 3,
            Dimension::Policy => 4,
            Dimension::User => 5,
            Dimension::Branch => 6,
            Dimension::Repo => 7,
            Dimension::Agent => 8,
            Dimension::Status => 9,
            Dimension::Tag => 10,
            Dimension::Trace | Dimension::Session | Dimension::Extra(_) => return None,
        })
    }

    /// A request has several values only for tags.
    pub(crate) fn multi_valued(&self) -> bool {
        matches!(self, Dimension::Tag)
    }

    /// How a request without a value is shown.
    pub(crate) fn none_label(&self) -> &'static str {
        match self {
            Dimension::Key => "(no key)",
            _ => "(none)",
        }
    }
}

/// Requests whose `field` matches any of `patterns` (`*` is a wildcard).
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub field: Dimension,
    pub patterns: Vec<Pattern>,
}

impl Filter {
    pub(crate) fn matches(&self, value: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(value))
    }
}

/// An analytics question.
#[derive(Clone, Debug)]
pub struct AnalyticsQuery {
    pub range: TimeRange,
    pub bucket: Bucket,
    pub group_by: Option<Dimension>,
    /// All must match (and within one, any pattern).
    pub filters: Vec<Filter>,
    /// Keep the `top` groups by cost (then requests); fold the rest into `(other)`.
    pub top: Option<usize>,
    /// The time zone buckets follow (the machine's local zone for users).
    pub zone: jiff::tz::TimeZone,
    /// Read raw rows even where rollups could answer (for checks and benchmarks).
    pub force_raw: bool,
}

/// One bucket of the time axis (all of them, with or without data).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BucketInfo {
    pub start_ms: i64,
    pub label: String,
}

/// One (bucket, group) cell of an answer, or one group's or the whole range's total.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReportRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_start_ms: Option<i64>,
    /// The group's value; the bucket's label when not grouped; `total` for totals.
    pub group: String,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// The answer to an [`AnalyticsQuery`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub from_ms: i64,
    pub to_ms: i64,
    pub bucket: Bucket,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// `rollups` when only rollups were read, `raw` when only raw rows were,
    /// `rollups+raw` for rollups with raw rows at the range's edges.
    pub source: &'static str,
    /// Every bucket of the range, for time axes (empty when not bucketed).
    pub buckets: Vec<BucketInfo>,
    /// Non-empty cells: by bucket, then groups in rank order.
    pub rows: Vec<ReportRow>,
    /// Each group over the whole range, most expensive first.
    pub groups: Vec<ReportRow>,
    pub total: ReportRow,
}

/// The group that collects groups beyond `top`.
pub const OTHER_GROUP: &str = "(other)";
