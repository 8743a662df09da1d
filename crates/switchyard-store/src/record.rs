//! One row of the request log, as the gateway hands it to the writer.

use serde::Serialize;

/// Token counts in disjoint buckets, so that cost is a plain sum of count × price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TokenCounts {
    /// Input tokens read neither from nor into the prompt cache.
    pub input: u64,
    pub cache_read: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    /// All output tokens, reasoning included.
    pub output: u64,
    /// The part of `output` spent on reasoning, kept for display.
    pub reasoning: u64,
}

impl TokenCounts {
    /// Every input-side token, cached or not.
    pub fn total_input(&self) -> u64 {
        self.input + self.cache_read + self.cache_write_5m + self.cache_write_1h
    }
}

/// A finished (or abandoned) model request.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RequestRecord {
    pub request_id: String,
    pub ts_ms: i64,
    pub key_id: Option<i64>,
    /// `openai-chat` or `anthropic-messages`.
    pub client_api: &'static str,
    pub requested_model: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    pub status: u16,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub tokens: TokenCounts,
    /// `None` when the model has no known price: unknown, not free.
    pub cost_usd: Option<f64>,
    /// What the cache-read tokens would have cost at the model's full input price, less
    /// what they cost at the cache-read price; `None` when the model has no known price.
    pub cache_savings_usd: Option<f64>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub upstream_ms: Option<f64>,
    pub overhead_ms: Option<f64>,
    pub user_id: Option<String>,
    pub trace_id: Option<String>,
    pub session_id: Option<String>,
    pub branch: Option<String>,
    pub repo: Option<String>,
    pub agent: Option<String>,
    pub tags: Vec<String>,
    /// Free-form metadata object, stored as JSON text.
    pub extra: Option<String>,
    /// The routing policy that served the request, if any.
    pub policy: Option<String>,
    /// The name of each tool call in the answer, in order (a tool called twice is
    /// listed twice). Empty when the answer called no tools.
    pub tool_calls: Vec<String>,
    /// Every try the request took, in order (empty when it never reached a provider).
    pub attempts: Vec<AttemptRecord>,
}

/// One try of a request at one provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub provider: String,
    pub model: String,
    /// HTTP status, or 0 when no answer came (connection failure, timeout).
    pub status: u16,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub latency_ms: f64,
}
