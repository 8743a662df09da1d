//! Building one request-log record over the life of a request and handing it to the
//! store's writer exactly once: when the request finishes, fails, or is abandoned
//! (a client that disconnects still leaves a record of what was used).

mod after_reply;

pub(crate) use after_reply::hold_records;

use crate::errors::ApiError;
use crate::metadata::RequestMeta;
use crate::pricing::{cache_savings_usd, cost_usd, ModelPrice};
use crate::providers::WireFormat;
use crate::spend::SpendTracker;
use crate::usage::complete_answer_usage;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use switchyard_store::{AttemptRecord, LogSender, RequestRecord, TokenCounts};

/// `error_kind` of a request whose client went away before the answer was complete.
pub const CLIENT_DISCONNECTED: &str = "client_disconnected";

/// A request's log record while the request runs.
///
/// Boxed: the record and its bookkeeping are about a kilobyte, and they travel inside
/// every future of the request (the handler's, the proxy's, the retry loop's). Each
/// layer copies what it holds when it is created or moved, so a pointer is moved
/// instead of the kilobyte.
pub struct PendingRecord {
    state: Box<RecordState>,
}

struct RecordState {
    record: RequestRecord,
    started: Instant,
    /// The first time the request left for a provider.
    first_dispatch: Option<Instant>,
    /// The latest time it left (the try that answered).
    dispatched: Option<Instant>,
    upstream_done: Option<Instant>,
    /// Time the gateway itself spent: before the first dispatch, and from the
    /// provider's answer to the response being handed back.
    overhead: Option<std::time::Duration>,
    price: Option<ModelPrice>,
    spend: Arc<SpendTracker>,
    /// Kept apart until the record is sent, so body metadata can still be merged in.
    meta: RequestMeta,
    sink: LogSender,
    sent: bool,
    /// A complete answer whose usage and tool calls are read when the record is sent
    /// (see [`PendingRecord::read_answer_later`]).
    answer: Option<(WireFormat, Bytes)>,
}

thread_local! {
    /// State of this thread's id generator, seeded once from the OS.
    static ID_STATE: std::cell::Cell<u64> = std::cell::Cell::new(id_seed());
}

fn id_seed() -> u64 {
    let mut bytes = [0u8; 8];
    // Without OS randomness the clock and the thread tell ids apart well enough: ids
    // only need to be unique, not unguessable.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let thread = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            std::thread::current().id(),
        );
        return nanos ^ thread;
    }
    u64::from_le_bytes(bytes)
}

/// The next 64 bits of this thread's SplitMix64 sequence: a system call for every
/// request id cost more than the rest of the id.
fn next_id_bits() -> u64 {
    ID_STATE.with(|state| {
        let next = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// `req_` + the time in milliseconds + 96 random bits, all in hex.
fn new_request_id(now_ms: i64) -> String {
    let mut id = String::with_capacity(40);
    id.push_str("req_");
    push_hex(&mut id, now_ms as u64, 1);
    push_hex(&mut id, next_id_bits(), 16);
    push_hex(&mut id, next_id_bits() & 0xffff_ffff, 8);
    id
}

/// Appends `value` in lowercase hex, zero-padded to `width` digits, as `{:0width$x}`
/// does at a tenth of the cost (this runs for every request).
fn push_hex(out: &mut String, value: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let significant = 16 - value.leading_zeros() as usize / 4;
    for digit in (0..significant.max(width)).rev() {
        let nibble = value.checked_shr(digit as u32 * 4).unwrap_or(0) & 0xf;
        out.push(char::from(DIGITS[nibble as usize]));
    }
}

impl PendingRecord {
    pub fn new(
        sink: LogSender,
        spend: Arc<SpendTracker>,
        client_api: WireFormat,
        started: Instant,
    ) -> PendingRecord {
        let now_ms = switchyard_store::now_ms();
        PendingRecord {
            state: Box::new(RecordState {
                record: RequestRecord {
                    request_id: new_request_id(now_ms),
                    ts_ms: now_ms,
                    client_api: client_api.label(),
                    ..Default::default()
                },
                started,
                first_dispatch: None,
                dispatched: None,
                upstream_done: None,
                overhead: None,
                price: None,
                spend,
                meta: RequestMeta::default(),
                sink,
                sent: false,
                answer: None,
            }),
        }
    }

    pub fn request_id(&self) -> &str {
        &self.state.record.request_id
    }

    /// What load balancing sticks on: the trace id, else the user id, else the
    /// request id (so a request without either is still placed consistently).
    pub fn sticky_id(&self) -> &str {
        self.state
            .meta
            .trace_id
            .as_deref()
            .or(self.state.meta.user_id.as_deref())
            .unwrap_or(&self.state.record.request_id)
    }

    pub fn upstream_model(&self) -> Option<&str> {
        self.state.record.upstream_model.as_deref()
    }

    pub fn set_key(&mut self, key_id: i64) {
        self.state.record.key_id = Some(key_id);
    }

    /// The request's metadata, for headers first and the body's metadata object later.
    pub fn meta_mut(&mut self) -> &mut RequestMeta {
        &mut self.state.meta
    }

    pub fn set_policy(&mut self, policy: Option<String>) {
        self.state.record.policy = policy;
    }

    pub fn add_attempt(&mut self, attempt: AttemptRecord) {
        self.state.record.attempts.push(attempt);
    }

    pub fn set_requested_model(&mut self, model: &str, stream: bool) {
        self.state.record.requested_model = Some(model.to_string());
        self.state.record.stream = stream;
    }

    pub fn set_route(&mut self, provider: &str, upstream_model: &str, price: Option<ModelPrice>) {
        self.state.record.provider = Some(provider.to_string());
        self.state.record.upstream_model = Some(upstream_model.to_string());
        self.state.price = price;
    }

    /// The request is about to leave for the provider.
    pub fn mark_dispatched(&mut self) {
        let now = Instant::now();
        self.state.first_dispatch.get_or_insert(now);
        self.state.dispatched = Some(now);
    }

    /// The answer is ready to go back to the client, the provider having answered at
    /// `answered`. Returns the gateway's own time so far, in milliseconds.
    pub fn mark_handed_back(&mut self, answered: Instant) -> f64 {
        let now = Instant::now();
        let before = self
            .state
            .first_dispatch
            .map(|d| d.saturating_duration_since(self.state.started))
            .unwrap_or_default();
        let overhead = before + now.saturating_duration_since(answered);
        self.state.overhead = Some(overhead);
        overhead.as_secs_f64() * 1000.0
    }

    /// The provider's answer is complete.
    pub fn mark_upstream_done(&mut self) {
        self.state.upstream_done.get_or_insert_with(Instant::now);
    }

    /// The first byte of the answer is going to the client.
    pub fn mark_first_byte(&mut self) {
        if self.state.record.ttft_ms.is_none() {
            self.state.record.ttft_ms = Some(ms_since(self.state.started));
        }
    }

    pub fn set_tokens(&mut self, tokens: TokenCounts) {
        self.state.record.tokens = tokens;
    }

    /// The names of the tool calls in the answer, in order.
    pub fn set_tool_calls(&mut self, names: Vec<String>) {
        self.state.record.tool_calls = names;
    }

    pub fn set_error(&mut self, kind: &str, message: impl Into<String>) {
        self.state.record.error_kind = Some(kind.to_string());
        self.state.record.error_message = Some(truncate(message.into(), 500));
    }

    /// Reads the tokens and tool calls from `answer`, a complete answer in `format`,
    /// when the record is sent rather than now: after the answer has gone back, when
    /// the record is finished inside [`hold_records`].
    pub fn read_answer_later(&mut self, format: WireFormat, answer: Bytes) {
        self.state.answer = Some((format, answer));
    }

    /// Records the request as answered with `status` (sent after the reply, see
    /// [`hold_records`]).
    pub fn finish(self, status: u16) {
        after_reply::send_after_reply(self, status);
    }

    /// Records a failed request (sent after the reply, see [`hold_records`]).
    pub fn fail(mut self, error: &ApiError) {
        self.set_error(error.kind.log_name(), error.message.clone());
        let status = error.status.as_u16();
        after_reply::send_after_reply(self, status);
    }

    fn send(&mut self, status: u16) {
        if self.state.sent {
            return;
        }
        self.state.sent = true;
        let now = Instant::now();
        if let Some((format, answer)) = self.state.answer.take() {
            if let Some(tokens) = complete_answer_usage(format, &answer) {
                self.state.record.tokens = tokens;
            }
            self.state.record.tool_calls = crate::tool_names::in_answer(format, &answer);
        }
        let meta = std::mem::take(&mut self.state.meta);
        let r = &mut self.state.record;
        r.user_id = meta.user_id;
        r.trace_id = meta.trace_id;
        r.session_id = meta.session_id;
        r.branch = meta.branch;
        r.repo = meta.repo;
        r.agent = meta.agent;
        r.tags = meta.tags;
        r.extra = meta.extra;
        r.status = status;
        r.latency_ms = ms_between(self.state.started, now);
        if let (Some(d), Some(u)) = (self.state.dispatched, self.state.upstream_done) {
            r.upstream_ms = Some(ms_between(d, u));
        }
        r.overhead_ms = match (self.state.overhead, self.state.first_dispatch) {
            (Some(o), _) => Some(o.as_secs_f64() * 1000.0),
            // Failed after reaching a provider: the time before the first dispatch.
            (None, Some(d)) => Some(ms_between(self.state.started, d)),
            // Answered by the gateway itself: all of it was overhead.
            (None, None) => Some(r.latency_ms),
        };
        r.cost_usd = self
            .state
            .price
            .as_ref()
            .and_then(|p| cost_usd(p, &r.tokens));
        r.cache_savings_usd = self
            .state
            .price
            .as_ref()
            .and_then(|p| cache_savings_usd(p, &r.tokens));
        if let Some(cost) = r.cost_usd {
            self.state.spend.add(r.key_id, cost);
        }
        self.state.sink.send(std::mem::take(&mut self.state.record));
    }
}

impl Drop for PendingRecord {
    /// A request dropped before it finished: its client went away.
    fn drop(&mut self) {
        if !self.state.sent {
            if self.state.record.error_kind.is_none() {
                self.set_error(CLIENT_DISCONNECTED, "the client closed the connection");
            }
            let status = if self.state.record.status == 0 {
                499
            } else {
                self.state.record.status
            };
            self.mark_upstream_done();
            self.send(status);
        }
    }
}

impl PendingRecord {
    /// For streams: the HTTP status already sent, kept if the client disconnects later.
    pub fn set_status_sent(&mut self, status: u16) {
        self.state.record.status = status;
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn ms_between(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64() * 1000.0
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn request_ids_are_unique_within_and_across_threads() {
        let batch = || {
            (0..20_000)
                .map(|_| new_request_id(1_700_000_000_000))
                .collect::<Vec<_>>()
        };
        let others = std::thread::spawn(batch);
        let mut seen: HashSet<String> = batch().into_iter().collect();
        let ours = seen.len();
        seen.extend(others.join().unwrap());
        assert_eq!(ours, 20_000);
        assert_eq!(seen.len(), 40_000, "an id repeated");
    }

    #[test]
    fn requests_stick_on_the_trace_id_then_the_user_id_then_their_own_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = switchyard_store::Store::open(dir.path()).unwrap();
        let writer = switchyard_store::LogWriter::start(&store, 16).unwrap();
        let (alerts, _) = tokio::sync::mpsc::unbounded_channel();
        let spend = Arc::new(SpendTracker::load(&store, alerts).unwrap());
        let mut record = PendingRecord::new(
            writer.sender(),
            spend,
            WireFormat::OpenAiChat,
            Instant::now(),
        );
        assert_eq!(record.sticky_id(), record.request_id());
        record.meta_mut().user_id = Some("ada".into());
        assert_eq!(record.sticky_id(), "ada");
        record.meta_mut().trace_id = Some("trace-7".into());
        assert_eq!(record.sticky_id(), "trace-7");
    }

    #[test]
    fn hex_digits_match_the_formatter() {
        for value in [0, 1, 0xf, 0x10, 0x18b_cfe5_6800, u32::MAX as u64, u64::MAX] {
            for width in [1, 8, 16, 20] {
                let mut out = String::new();
                push_hex(&mut out, value, width);
                assert_eq!(out, format!("{value:0width$x}"), "{value} at {width}");
            }
        }
    }

    #[test]
    fn request_ids_carry_the_time_then_96_random_bits() {
        let id = new_request_id(0x18b_cfe5_6800);
        let rest = id.strip_prefix("req_18bcfe56800").unwrap();
        assert_eq!(rest.len(), 24, "{id}");
        assert!(rest.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
}
