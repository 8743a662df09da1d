//! The accumulator behind every figure: what one request contributes, how two
//! accumulations merge, and the metrics (averages, percentiles, rates) they give.

use super::hist::Hist;
use super::Dimension;
use crate::{RequestRecord, TokenCounts};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One request as the analytics see it, borrowed from a record being written or a
/// row being read.
pub(crate) struct Obs<'a> {
    pub ts_ms: i64,
    pub key_id: Option<i64>,
    pub model: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub policy: Option<&'a str>,
    pub user: Option<&'a str>,
    pub trace: Option<&'a str>,
    pub session: Option<&'a str>,
    pub branch: Option<&'a str>,
    pub repo: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub status: u16,
    pub failed: bool,
    pub tags: &'a [String],
    pub extra: Option<&'a str>,
    pub tokens: TokenCounts,
    pub cost_usd: Option<f64>,
    pub savings_usd: Option<f64>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub stream: bool,
    pub tool_calls: &'a [String],
}

impl<'a> Obs<'a> {
    pub(crate) fn from_record(r: &'a RequestRecord) -> Obs<'a> {
        Obs {
            ts_ms: r.ts_ms,
            key_id: r.key_id,
            model: r.requested_model.as_deref(),
            provider: r.provider.as_deref(),
            policy: r.policy.as_deref(),
            user: r.user_id.as_deref(),
            trace: r.trace_id.as_deref(),
            session: r.session_id.as_deref(),
            branch: r.branch.as_deref(),
            repo: r.repo.as_deref(),
            agent: r.agent.as_deref(),
            status: r.status,
            failed: r.status >= 400 || r.error_kind.is_some(),
            tags: &r.tags,
            extra: r.extra.as_deref(),
            tokens: r.tokens,
            cost_usd: r.cost_usd,
            savings_usd: r.cache_savings_usd,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            stream: r.stream,
            tool_calls: &r.tool_calls,
        }
    }

    /// The stored value(s) of `dim` for this request: `""` when it has none. Keys are
    /// stored by id (names are joined in when answering; a name can be reused).
    pub(crate) fn values(&self, dim: &Dimension) -> Vec<Cow<'a, str>> {
        let one = |v: Option<&'a str>| vec![Cow::Borrowed(v.unwrap_or(""))];
        match dim {
            Dimension::Model => one(self.model),
            Dimension::Provider => one(self.provider),
            Dimension::Policy => one(self.policy),
            Dimension::User => one(self.user),
            Dimension::Trace => one(self.trace),
            Dimension::Session => one(self.session),
            Dimension::Branch => one(self.branch),
            Dimension::Repo => one(self.repo),
            Dimension::Agent => one(self.agent),
            Dimension::Key => vec![Cow::Owned(
                self.key_id.map(|k| k.to_string()).unwrap_or_default(),
            )],
            Dimension::Status => vec![Cow::Owned(self.status.to_string())],
            Dimension::Tag => {
                if self.tags.is_empty() {
                    vec![Cow::Borrowed("")]
                } else {
                    let mut tags: Vec<Cow<'a, str>> = self
                        .tags
                        .iter()
                        .map(|t| Cow::Borrowed(t.as_str()))
                        .collect();
                    // A tag given twice still counts the request once in its group.
                    tags.sort();
                    tags.dedup();
                    tags
                }
            }
            Dimension::Extra(field) => {
                let value = self
                    .extra
                    .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
                    .and_then(|v| v.get(field).cloned());
                vec![Cow::Owned(match value {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s,
                    Some(other) => other.to_string(),
                })]
            }
        }
    }
}

/// Count, sum, extremes and histogram of one timing.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Dist {
    pub count: u64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub hist: Hist,
}

impl Dist {
    fn add(&mut self, value: f64) {
        let value = if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        };
        self.count += 1;
        self.sum += value;
        self.min = Some(self.min.map_or(value, |m| m.min(value)));
        self.max = Some(self.max.map_or(value, |m| m.max(value)));
        self.hist.add(value);
    }

    pub(crate) fn merge(&mut self, other: &Dist) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        // An empty distribution has an empty histogram (most often: time to first
        // token of non-streaming requests), and a merge walks every bucket.
        if other.count > 0 {
            self.hist.merge(&other.hist);
        }
    }

    /// A percentile, kept within the exact extremes (so p100 is the true maximum and
    /// a bucket's middle never reports more than was seen).
    fn quantile(&self, q: f64) -> Option<f64> {
        if q >= 1.0 {
            return self.max;
        }
        let estimate = self.hist.quantile(q)?;
        let low = self.min.unwrap_or(estimate);
        let high = self.max.unwrap_or(estimate);
        Some(estimate.clamp(low.min(high), high))
    }

    fn avg(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Everything the metrics are computed from; what a rollup row stores.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Agg {
    pub requests: u64,
    pub errors: u64,
    pub tokens: TokenCounts,
    pub cost_usd: f64,
    pub unpriced: u64,
    pub savings_usd: f64,
    pub latency: Dist,
    pub ttft: Dist,
    /// Output tokens and generation time of successful answers with output, for
    /// output tokens per second.
    pub tps_tokens: u64,
    pub tps_ms: f64,
    pub tools: BTreeMap<String, u64>,
}

impl Agg {
    pub(crate) fn add(&mut self, o: &Obs<'_>) {
        self.requests += 1;
        self.errors += u64::from(o.failed);
        let t = &mut self.tokens;
        t.input += o.tokens.input;
        t.cache_read += o.tokens.cache_read;
        t.cache_write_5m += o.tokens.cache_write_5m;
        t.cache_write_1h += o.tokens.cache_write_1h;
        t.output += o.tokens.output;
        t.reasoning += o.tokens.reasoning;
        match o.cost_usd {
            Some(c) => self.cost_usd += c,
            // A failed request with no price cost nothing; a successful one is unknown.
            None if o.status < 400 => self.unpriced += 1,
            None => {}
        }
        self.savings_usd += o.savings_usd.unwrap_or(0.0);
        self.latency.add(o.latency_ms);
        if let Some(ttft) = o.ttft_ms {
            self.ttft.add(ttft);
        }
        if !o.failed && o.tokens.output > 0 {
            // For streams, generation starts at the first token; before it is waiting.
            let generating = match o.ttft_ms {
                Some(t) if o.stream && o.latency_ms > t => o.latency_ms - t,
                _ => o.latency_ms,
            };
            if generating > 0.0 {
                self.tps_tokens += o.tokens.output;
                self.tps_ms += generating;
            }
        }
        for tool in o.tool_calls.iter() {
            *self.tools.entry(tool.clone()).or_default() += 1;
        }
    }

    pub(crate) fn merge(&mut self, other: &Agg) {
        self.requests += other.requests;
        self.errors += other.errors;
        let (t, u) = (&mut self.tokens, &other.tokens);
        t.input += u.input;
        t.cache_read += u.cache_read;
        t.cache_write_5m += u.cache_write_5m;
        t.cache_write_1h += u.cache_write_1h;
        t.output += u.output;
        t.reasoning += u.reasoning;
        self.cost_usd += other.cost_usd;
        self.unpriced += other.unpriced;
        self.savings_usd += other.savings_usd;
        self.latency.merge(&other.latency);
        self.ttft.merge(&other.ttft);
        self.tps_tokens += other.tps_tokens;
        self.tps_ms += other.tps_ms;
        for (tool, n) in &other.tools {
            *self.tools.entry(tool.clone()).or_default() += n;
        }
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let t = &self.tokens;
        Metrics {
            requests: self.requests,
            errors: self.errors,
            error_rate: if self.requests > 0 {
                self.errors as f64 / self.requests as f64
            } else {
                0.0
            },
            input_tokens: t.input,
            cache_read_tokens: t.cache_read,
            cache_write_tokens: t.cache_write_5m + t.cache_write_1h,
            cache_write_5m_tokens: t.cache_write_5m,
            cache_write_1h_tokens: t.cache_write_1h,
            output_tokens: t.output,
            reasoning_tokens: t.reasoning,
            cost_usd: self.cost_usd,
            unpriced_requests: self.unpriced,
            cache_savings_usd: self.savings_usd,
            avg_latency_ms: self.latency.avg(),
            latency_p50_ms: self.latency.quantile(0.50),
            latency_p90_ms: self.latency.quantile(0.90),
            latency_p95_ms: self.latency.quantile(0.95),
            latency_p99_ms: self.latency.quantile(0.99),
            max_latency_ms: self.latency.max,
            avg_ttft_ms: self.ttft.avg(),
            ttft_p50_ms: self.ttft.quantile(0.50),
            ttft_p90_ms: self.ttft.quantile(0.90),
            ttft_p95_ms: self.ttft.quantile(0.95),
            ttft_p99_ms: self.ttft.quantile(0.99),
            output_tokens_per_s: (self.tps_ms > 0.0)
                .then(|| self.tps_tokens as f64 / (self.tps_ms / 1000.0)),
            tool_calls: self.tools.clone(),
        }
    }
}

/// The figures for one cell, group or total. Field names up to `avg_ttft_ms` are the
/// ones `/api/usage` always had.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Metrics {
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    /// 5-minute plus 1-hour cache writes.
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    /// Sum over requests with a known price.
    pub cost_usd: f64,
    /// Successful requests whose model had no known price (not in `cost_usd`).
    pub unpriced_requests: u64,
    pub avg_latency_ms: Option<f64>,
    pub avg_ttft_ms: Option<f64>,
    pub error_rate: f64,
    pub cache_write_5m_tokens: u64,
    pub cache_write_1h_tokens: u64,
    /// What the cache-read tokens would have cost at the full input price, less what
    /// they did cost.
    pub cache_savings_usd: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p90_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub max_latency_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p90_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    /// Output tokens per second of generation (after the first token, for streams).
    pub output_tokens_per_s: Option<f64>,
    /// Tool calls in the answers, per tool name.
    pub tool_calls: BTreeMap<String, u64>,
}

/// A timing's histogram as stored in a rollup row (`NULL` when nothing was timed).
pub(crate) fn encode_hist(d: &Dist) -> Option<Vec<u8>> {
    (d.count > 0).then(|| d.hist.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(latency: f64, ttft: Option<f64>, output: u64, status: u16) -> RequestRecord {
        RequestRecord {
            status,
            latency_ms: latency,
            ttft_ms: ttft,
            stream: ttft.is_some(),
            tokens: TokenCounts {
                output,
                ..Default::default()
            },
            tool_calls: vec!["Read".into(), "Read".into(), "Bash".into()],
            ..Default::default()
        }
    }

    #[test]
    fn rates_and_tools_add_up() {
        let mut agg = Agg::default();
        // 100 tokens in 1 s after a 500 ms first token; 50 tokens in 0.5 s.
        agg.add(&Obs::from_record(&obs(1500.0, Some(500.0), 100, 200)));
        agg.add(&Obs::from_record(&obs(500.0, None, 50, 200)));
        agg.add(&Obs::from_record(&obs(10.0, None, 0, 500)));
        let m = agg.metrics();
        assert_eq!(m.requests, 3);
        assert_eq!(m.errors, 1);
        assert!((m.error_rate - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.output_tokens_per_s.unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(m.tool_calls["Read"], 6);
        assert_eq!(m.tool_calls["Bash"], 3);
        assert_eq!(m.max_latency_ms, Some(1500.0));
        let p99 = m.latency_p99_ms.unwrap();
        assert!((p99 - 1500.0).abs() / 1500.0 < 0.022, "{p99}");
        assert_eq!(m.unpriced_requests, 2, "the failed request is not unpriced");
    }

    #[test]
    fn merging_equals_adding_everything_to_one() {
        let records: Vec<RequestRecord> = (0..50)
            .map(|i| obs(i as f64 * 7.0, (i % 2 == 0).then_some(3.0), i, 200))
            .collect();
        let mut one = Agg::default();
        let (mut a, mut b) = (Agg::default(), Agg::default());
        for (i, r) in records.iter().enumerate() {
            one.add(&Obs::from_record(r));
            if i % 3 == 0 { &mut a } else { &mut b }.add(&Obs::from_record(r));
        }
        a.merge(&b);
        assert_eq!(a.metrics(), one.metrics());
    }
}
