//! Raw request-log rows as the analytics read them.

use super::agg::Obs;
use crate::TokenCounts;

/// The columns [`RawRow::from_row`] reads, in order (the table is aliased `r`).
pub(crate) const RAW_COLUMNS: &str = "r.ts_ms, r.key_id, r.requested_model, r.provider, r.policy,
    r.user_id, r.trace_id, r.session_id, r.branch, r.repo, r.agent, r.status,
    r.error_kind IS NOT NULL, r.input_tokens, r.cache_read_tokens, r.cache_write_5m_tokens,
    r.cache_write_1h_tokens, r.output_tokens, r.reasoning_tokens, r.cost_usd,
    r.cache_savings_usd, r.latency_ms, r.ttft_ms, r.stream, r.tags, r.extra, r.tool_calls";

pub(crate) struct RawRow {
    ts_ms: i64,
    key_id: Option<i64>,
    model: Option<String>,
    provider: Option<String>,
    policy: Option<String>,
    user: Option<String>,
    trace: Option<String>,
    session: Option<String>,
    branch: Option<String>,
    repo: Option<String>,
    agent: Option<String>,
    status: u16,
    has_error_kind: bool,
    tokens: TokenCounts,
    cost_usd: Option<f64>,
    savings_usd: Option<f64>,
    latency_ms: f64,
    ttft_ms: Option<f64>,
    stream: bool,
    tags: Vec<String>,
    extra: Option<String>,
    tool_calls: Vec<String>,
}

fn json_list(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

impl RawRow {
    pub(crate) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
        let count = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
        Ok(RawRow {
            ts_ms: r.get(0)?,
            key_id: r.get(1)?,
            model: r.get(2)?,
            provider: r.get(3)?,
            policy: r.get(4)?,
            user: r.get(5)?,
            trace: r.get(6)?,
            session: r.get(7)?,
            branch: r.get(8)?,
            repo: r.get(9)?,
            agent: r.get(10)?,
            status: u16::try_from(r.get::<_, i64>(11)?).unwrap_or(0),
            has_error_kind: r.get(12)?,
            tokens: TokenCounts {
                input: count(13)?,
                cache_read: count(14)?,
                cache_write_5m: count(15)?,
                cache_write_1h: count(16)?,
                output: count(17)?,
                reasoning: count(18)?,
            },
            cost_usd: r.get(19)?,
            savings_usd: r.get(20)?,
            latency_ms: r.get(21)?,
            ttft_ms: r.get(22)?,
            stream: r.get(23)?,
            tags: json_list(r.get(24)?),
            extra: r.get(25)?,
            tool_calls: json_list(r.get(26)?),
        })
    }

    pub(crate) fn obs(&self) -> Obs<'_> {
        Obs {
            ts_ms: self.ts_ms,
            key_id: self.key_id,
            model: self.model.as_deref(),
            provider: self.provider.as_deref(),
            policy: self.policy.as_deref(),
            user: self.user.as_deref(),
            trace: self.trace.as_deref(),
            session: self.session.as_deref(),
            branch: self.branch.as_deref(),
            repo: self.repo.as_deref(),
            agent: self.agent.as_deref(),
            status: self.status,
            failed: self.status >= 400 || self.has_error_kind,
            tags: &self.tags,
            extra: self.extra.as_deref(),
            tokens: self.tokens,
            cost_usd: self.cost_usd,
            savings_usd: self.savings_usd,
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
            stream: self.stream,
            tool_calls: &self.tool_calls,
        }
    }
}
