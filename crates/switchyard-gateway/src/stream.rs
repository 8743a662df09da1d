//! Forwarding a provider's event stream to the client as it arrives, while reading
//! usage from it and recording the request when the stream ends, fails, or the
//! client goes away (dropping this stream also drops, and so cancels, the upstream).

mod anthropic_news;

use crate::errors::{ApiError, Dialect, ErrorKind};
use crate::json_body::last_field;
use crate::providers::WireFormat;
use crate::recorder::{PendingRecord, CLIENT_DISCONNECTED};
use crate::sse::{event_data, event_ranges, Marker, SseSplitter};
use crate::upstream::UpstreamBody;
use crate::usage::{usage_field, AnthropicUsage, OpenAiUsage};
use anthropic_news::News;
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use switchyard_store::TokenCounts;

// What makes an event worth parsing, by the field or event type it must mention.
static USAGE: Marker = Marker::new(b"\"usage\"");
static DONE: Marker = Marker::new(b"[DONE]");
static ERROR: Marker = Marker::new(b"\"error\"");
/// `message_start`, `message_delta` and `message_stop` in one search: an event it lets
/// through for nothing (another `message_…` type, or text quoting one) is read and
/// ignored, as one quoting any marker in its text always was.
static MESSAGE_EVENT: Marker = Marker::new(b"\"message_");
static RESPONSE_COMPLETED: Marker = Marker::new(b"\"response.completed\"");
static RESPONSE_INCOMPLETE: Marker = Marker::new(b"\"response.incomplete\"");
static RESPONSE_FAILED: Marker = Marker::new(b"\"response.failed\"");

/// Reads one provider format's events: usage, the end-of-stream marker, errors.
pub enum StreamObserver {
    OpenAi {
        /// The client asked for the usage chunk itself (`stream_options.include_usage`).
        client_wants_usage: bool,
        usage: Option<TokenCounts>,
        done: bool,
    },
    Anthropic {
        usage: Option<AnthropicUsage>,
        done: bool,
        error: Option<String>,
    },
    /// OpenAI Responses: usage arrives in `response.completed`.
    Responses {
        usage: Option<TokenCounts>,
        done: bool,
        error: Option<String>,
    },
}

#[derive(Deserialize)]
struct ResponsesEvent {
    #[serde(rename = "type")]
    kind: String,
    response: Option<ResponsesBody>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct ResponsesBody {
    usage: Option<crate::usage::ResponsesUsage>,
    error: Option<AnthropicError>,
}

#[derive(Deserialize)]
struct AnthropicError {
    message: Option<String>,
}

/// Whether an OpenAI chunk's `choices` holds anything; an absent or empty array does
/// not. Anything but an array is not the gateway's usage-only chunk.
fn chunk_has_choices(data: &[u8]) -> bool {
    match last_field(data, "choices") {
        None => false,
        Some(raw) => match raw.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) {
            Some(inside) => !inside.trim_ascii().is_empty(),
            None => true,
        },
    }
}

impl StreamObserver {
    /// The observer for a pass-through stream of `format`.
    pub fn for_format(format: WireFormat, client_wants_usage: bool) -> StreamObserver {
        match format {
            WireFormat::AnthropicMessages => StreamObserver::anthropic(),
            WireFormat::OpenAiResponses => StreamObserver::Responses {
                usage: None,
                done: false,
                error: None,
            },
            WireFormat::OpenAiChat | WireFormat::Gemini | WireFormat::OpenAiEmbeddings => {
                StreamObserver::openai(client_wants_usage)
            }
        }
    }

    pub fn openai(client_wants_usage: bool) -> StreamObserver {
        StreamObserver::OpenAi {
            client_wants_usage,
            usage: None,
            done: false,
        }
    }

    pub fn anthropic() -> StreamObserver {
        StreamObserver::Anthropic {
            usage: None,
            done: false,
            error: None,
        }
    }

    /// Looks at one whole event; returns whether to forward it to the client.
    fn observe(&mut self, event: &[u8]) -> bool {
        match self {
            StreamObserver::OpenAi {
                client_wants_usage,
                usage,
                done,
            } => {
                // Most chunks are neither: they are told apart by their raw bytes, which
                // hold every data line's text, before their data lines are gathered.
                if !USAGE.is_in(event) && !DONE.is_in(event) {
                    return true;
                }
                let Some(data) = event_data(event) else {
                    return true;
                };
                if data.trim_ascii() == b"[DONE]" {
                    *done = true;
                    return true;
                }
                // Only chunks that mention usage are worth parsing.
                if !USAGE.is_in(&data) {
                    return true;
                }
                // Only the usage and the choices are read, from the chunk's end, where
                // providers put them; the id, model and text before are skipped.
                let Some(reported) = usage_field::<OpenAiUsage>(&data) else {
                    return true;
                };
                *usage = Some(reported.to_counts());
                let has_choices = chunk_has_choices(&data);
                // The usage-only chunk the gateway asked for on the client's behalf.
                *client_wants_usage || has_choices
            }
            StreamObserver::Anthropic { usage, done, error } => {
                // Most events are a block's: told apart by their raw bytes first. Both
                // markers open a JSON string, which no line break can split, so an event
                // whose data holds one has it in its raw bytes too (its `event:` line,
                // unquoted, never matches); a comment line may, hence the second look.
                if !MESSAGE_EVENT.is_in(event) && !ERROR.is_in(event) {
                    return true;
                }
                let Some(data) = event_data(event) else {
                    return true;
                };
                let interesting = MESSAGE_EVENT.is_in(&data) || ERROR.is_in(&data);
                if !interesting {
                    return true;
                }
                match anthropic_news::read(&data) {
                    News::Usage(reported) => usage
                        .get_or_insert_with(AnthropicUsage::default)
                        .update(reported),
                    News::Stop => *done = true,
                    News::Error(message) => *error = Some(message),
                    News::Nothing => {}
                }
                true
            }
            StreamObserver::Responses { usage, done, error } => {
                let Some(data) = event_data(event) else {
                    return true;
                };
                let terminal = RESPONSE_COMPLETED.is_in(&data)
                    || RESPONSE_INCOMPLETE.is_in(&data)
                    || RESPONSE_FAILED.is_in(&data)
                    || ERROR.is_in(&data);
                if !terminal {
                    return true;
                }
                if let Ok(e) = serde_json::from_slice::<ResponsesEvent>(&data) {
                    let body = e.response;
                    match e.kind.as_str() {
                        "response.completed" | "response.incomplete" => *done = true,
                        "response.failed" => {
                            *error = body
                                .as_ref()
                                .and_then(|b| b.error.as_ref())
                                .and_then(|e| e.message.clone())
                                .or_else(|| Some("the response failed".into()));
                        }
                        "error" => {
                            *error = e
                                .message
                                .or_else(|| Some("provider reported an error".into()))
                        }
                        _ => {}
                    }
                    if let Some(u) = body.and_then(|b| b.usage) {
                        *usage = Some(u.to_counts());
                    }
                }
                true
            }
        }
    }

    fn tokens(&self) -> Option<TokenCounts> {
        match self {
            StreamObserver::OpenAi { usage, .. } | StreamObserver::Responses { usage, .. } => {
                *usage
            }
            StreamObserver::Anthropic { usage, .. } => usage.as_ref().map(|u| u.to_counts()),
        }
    }

    /// Whether the provider ended the stream properly.
    fn completed(&self) -> bool {
        match self {
            StreamObserver::OpenAi { done, .. } => *done,
            StreamObserver::Anthropic { done, error, .. }
            | StreamObserver::Responses { done, error, .. } => *done || error.is_some(),
        }
    }

    fn provider_error(&self) -> Option<&str> {
        match self {
            StreamObserver::Anthropic { error, .. } | StreamObserver::Responses { error, .. } => {
                error.as_deref()
            }
            StreamObserver::OpenAi { .. } => None,
        }
    }
}

/// Turns a provider's whole events into what the client receives: forwarded as they
/// are (same format), or translated.
pub trait EventHandler: Send {
    /// One whole upstream event; pushes what the client should get.
    fn event(&mut self, event: Bytes, out: &mut VecDeque<Bytes>);
    /// A run of whole events as they arrived together; by default one at a time.
    fn events(&mut self, run: Bytes, out: &mut VecDeque<Bytes>) {
        for range in event_ranges(&run) {
            self.event(run.slice(range), out);
        }
    }
    /// The upstream ended; `failure` is set when it was cut short. Pushes whatever
    /// closes the client's stream properly.
    fn end(&mut self, failure: Option<&ApiError>, out: &mut VecDeque<Bytes>);
    /// Usage seen so far, in the log's buckets.
    fn tokens(&self) -> Option<TokenCounts>;
    /// Whether the provider ended its stream properly.
    fn completed(&self) -> bool;
    /// An error the provider reported inside the stream.
    fn provider_error(&self) -> Option<String>;
    /// The names of the tool calls seen so far, in order.
    fn tool_calls(&self) -> Vec<String>;
}

/// A pass-through stream's observer, plus the tool calls it has seen.
pub struct PassThrough {
    observer: StreamObserver,
    tool_calls: Vec<String>,
}

impl PassThrough {
    pub fn new(observer: StreamObserver) -> PassThrough {
        PassThrough {
            observer,
            tool_calls: Vec::new(),
        }
    }

    /// Names of tool calls starting in this event.
    fn collect_tool_calls(&mut self, event: &[u8]) {
        let format = match self.observer {
            StreamObserver::OpenAi { .. } => WireFormat::OpenAiChat,
            StreamObserver::Anthropic { .. } => WireFormat::AnthropicMessages,
            StreamObserver::Responses { .. } => WireFormat::OpenAiResponses,
        };
        crate::tool_names::in_event(format, event, &mut self.tool_calls);
    }
}

impl EventHandler for PassThrough {
    fn event(&mut self, event: Bytes, out: &mut VecDeque<Bytes>) {
        self.collect_tool_calls(&event);
        self.observer.event(event, out);
    }

    /// Forwards the kept events as stretches of the run: the whole run as it arrived,
    /// without a copy, unless an event is dropped (the usage chunk the gateway asked
    /// for on the client's behalf).
    fn events(&mut self, run: Bytes, out: &mut VecDeque<Bytes>) {
        let mut kept_from = 0;
        for range in event_ranges(&run) {
            let event = &run[range.clone()];
            self.collect_tool_calls(event);
            if !self.observer.observe(event) {
                if kept_from < range.start {
                    out.push_back(run.slice(kept_from..range.start));
                }
                kept_from = range.end;
            }
        }
        if kept_from < run.len() {
            out.push_back(run.slice(kept_from..));
        }
    }

    fn end(&mut self, failure: Option<&ApiError>, out: &mut VecDeque<Bytes>) {
        self.observer.end(failure, out);
    }

    fn tokens(&self) -> Option<TokenCounts> {
        StreamObserver::tokens(&self.observer)
    }

    fn completed(&self) -> bool {
        StreamObserver::completed(&self.observer)
    }

    fn provider_error(&self) -> Option<String> {
        StreamObserver::provider_error(&self.observer).map(str::to_string)
    }

    fn tool_calls(&self) -> Vec<String> {
        self.tool_calls.clone()
    }
}

impl StreamObserver {
    fn event(&mut self, event: Bytes, out: &mut VecDeque<Bytes>) {
        if self.observe(&event) {
            out.push_back(event);
        }
    }

    fn end(&mut self, failure: Option<&ApiError>, out: &mut VecDeque<Bytes>) {
        if let Some(error) = failure {
            let dialect = match self {
                StreamObserver::OpenAi { .. } | StreamObserver::Responses { .. } => Dialect::OpenAi,
                StreamObserver::Anthropic { .. } => Dialect::Anthropic,
            };
            out.push_back(error.sse_event(dialect));
        }
    }
}

pub struct ProxyStream {
    upstream: UpstreamBody,
    splitter: SseSplitter,
    handler: Box<dyn EventHandler>,
    recorder: Option<PendingRecord>,
    out: VecDeque<Bytes>,
    provider: String,
    ended: bool,
    /// Polls in a row that took no chunk from the provider; see `poll_next`.
    quiet_polls: u8,
    /// Bytes the provider's chunks have queued since the last frame left (kept rather
    /// than summed, since a frame held over many polls would sum `out` at each).
    gathered: usize,
    /// What the next poll returns, taken before the answer's head went out (see
    /// [`ProxyStream::gather_first_frame`]).
    primed: Option<Option<Result<Bytes, std::io::Error>>>,
}

impl ProxyStream {
    pub fn new(
        upstream: UpstreamBody,
        handler: Box<dyn EventHandler>,
        mut recorder: PendingRecord,
        provider: String,
        status: u16,
    ) -> ProxyStream {
        recorder.set_status_sent(status);
        ProxyStream {
            upstream,
            splitter: SseSplitter::default(),
            handler,
            recorder: Some(recorder),
            // Room for a burst of events without regrowing.
            out: VecDeque::with_capacity(16),
            provider,
            ended: false,
            quiet_polls: 0,
            gathered: 0,
            primed: None,
        }
    }

    /// Gathers the stream's first frame (or its end) from what the provider has
    /// already sent, so that the answer's head leaves in the same write as it. The
    /// HTTP server writes the head, polls the body, and sends the head alone when the
    /// body is not ready, which costs a write, a packet and a wake-up of the client.
    /// Returns as soon as the stream would wait on the provider with nothing to send:
    /// the head never waits for the provider.
    pub async fn gather_first_frame(&mut self) {
        std::future::poll_fn(|cx| match Pin::new(&mut *self).poll_next(cx) {
            Poll::Ready(item) => {
                self.primed = Some(item);
                Poll::Ready(())
            }
            // Waiting on the provider: the first chunk brought no event to send.
            Poll::Pending if self.out.is_empty() => Poll::Ready(()),
            // Holding a frame while the provider's chunks keep coming.
            Poll::Pending => Poll::Pending,
        })
        .await
    }

    /// Everything queued for the client, as one frame: a frame per event would cost a
    /// chunk header and a pass through the HTTP stack each.
    fn next_frame(&mut self) -> Option<Bytes> {
        self.gathered = 0;
        let first = self.out.pop_front()?;
        if self.out.is_empty() {
            return Some(first);
        }
        let len = first.len() + self.out.iter().map(Bytes::len).sum::<usize>();
        let mut frame = BytesMut::with_capacity(len);
        frame.extend_from_slice(&first);
        for part in self.out.drain(..) {
            frame.extend_from_slice(&part);
        }
        Some(frame.freeze())
    }

    /// The upstream ended (cleanly or not): close the client's stream properly, record.
    fn end(&mut self, failure: Option<String>) {
        self.ended = true;
        if let Some(rest) = self.splitter.take_rest() {
            self.handler.event(rest, &mut self.out);
        }
        // The answer's first bytes may still be queued, to leave with its end in one
        // frame: they leave now, before the record is finished.
        if !self.out.is_empty() {
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.mark_first_byte();
            }
        }
        let cut = failure.or_else(|| {
            (!self.handler.completed())
                .then(|| "the provider closed the stream before it was complete".to_string())
        });
        let error = cut.map(|reason| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorKind::Upstream,
                format!("Provider '{}' stream failed: {reason}", self.provider),
            )
        });
        self.handler.end(error.as_ref(), &mut self.out);
        let Some(mut recorder) = self.recorder.take() else {
            return;
        };
        recorder.mark_upstream_done();
        if let Some(tokens) = self.handler.tokens() {
            recorder.set_tokens(tokens);
        }
        recorder.set_tool_calls(self.handler.tool_calls());
        if let Some(error) = error {
            recorder.set_error("upstream_stream_error", error.message);
        } else if let Some(message) = self.handler.provider_error() {
            recorder.set_error("upstream_stream_error", message);
        }
        recorder.finish(200);
    }
}

/// The most a frame gathers from chunks the provider has already delivered before it
/// goes to the client.
const MAX_GATHERED: usize = 64 * 1024;
/// Polls without a new chunk after which a held frame leaves (see `poll_next`).
const QUIET_POLLS_BEFORE_SENDING: u8 = 2;

impl Stream for ProxyStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(item) = this.primed.take() {
            return Poll::Ready(item);
        }
        // Take every chunk the provider has already delivered, so events that arrived
        // together leave in one frame: one write to the client, and one wake-up of it,
        // instead of one per chunk. Nothing waits: gathering stops at the first chunk
        // not there yet.
        let mut took_a_chunk = false;
        while !this.ended && this.gathered < MAX_GATHERED {
            // With events queued, this poll ends in a frame sent or a wake-up of its
            // own, and the next poll comes soon: the idle limit is armed only by a poll
            // that may leave the stream waiting on the provider.
            let polled = if this.out.is_empty() {
                Pin::new(&mut this.upstream).poll_next(cx)
            } else {
                this.upstream.poll_unwatched(cx)
            };
            match polled {
                Poll::Ready(Some(Ok(chunk))) => {
                    took_a_chunk = true;
                    if let Some(run) = this.splitter.push_run(chunk) {
                        let before = this.out.len();
                        this.handler.events(run, &mut this.out);
                        this.gathered += this.out.range(before..).map(Bytes::len).sum::<usize>();
                    }
                }
                Poll::Ready(Some(Err(e))) => this.end(Some(e.to_string())),
                Poll::Ready(None) => this.end(None),
                Poll::Pending => break,
            }
        }
        // A provider connection that is a task of its own (behind a proxy) hands its
        // body over one chunk at a time, and decodes the next only when it next runs:
        // a stream it has already received whole still comes out here as a chunk per
        // poll. So while chunks keep coming, hold the frame and wake this task behind
        // that one, to take what it hands over next. The frame leaves after two polls
        // in a row that bring nothing: the HTTP server polls a body that was not ready
        // once more straight away, before the connection's task has had its turn, so
        // the first proves nothing. When chunks come one by one, the cost is those two
        // polls. A direct connection is read here (see `upstream::http1`), so nothing
        // from it means nothing has arrived.
        if took_a_chunk {
            this.quiet_polls = 0;
        } else {
            this.quiet_polls = this.quiet_polls.saturating_add(1);
        }
        if !this.ended
            && !this.out.is_empty()
            && this.gathered < MAX_GATHERED
            && this.upstream.arrives_a_chunk_per_turn()
            && this.quiet_polls < QUIET_POLLS_BEFORE_SENDING
        {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if let Some(frame) = this.next_frame() {
            if let Some(r) = this.recorder.as_mut() {
                r.mark_first_byte();
            }
            return Poll::Ready(Some(Ok(frame)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        // The upstream returned Pending, so it will wake this task.
        Poll::Pending
    }
}

impl Drop for ProxyStream {
    /// The client went away mid-stream: record what was used so far.
    fn drop(&mut self) {
        if let Some(mut recorder) = self.recorder.take() {
            if let Some(tokens) = self.handler.tokens() {
                recorder.set_tokens(tokens);
            }
            recorder.set_tool_calls(self.handler.tool_calls());
            recorder.set_error(CLIENT_DISCONNECTED, "the client closed the stream early");
            recorder.mark_upstream_done();
            // `PendingRecord`'s drop records it with the status already sent.
            drop(recorder);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &[u8] =
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n";
    const TEXT: &[u8] = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    const USAGE: &[u8] =
        b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n";
    const DONE: &[u8] = b"data: [DONE]\n\n";

    #[test]
    fn only_a_usage_chunk_with_no_choices_is_cut_and_every_usage_is_read() {
        let cases: [(&[u8], bool, Option<u64>); 6] = [
            (USAGE, false, Some(7)),
            (b"data: {\"choices\": [ ] ,\"usage\":{\"prompt_tokens\":3}}\n\n", false, Some(3)),
            (b"data: {\"usage\":{\"prompt_tokens\":4},\"choices\":[]}\n\n", false, Some(4)),
            (b"data: {\"usage\":{\"prompt_tokens\":5}}\n\n", false, Some(5)),
            // A provider that sends usage with the last choice: nothing is cut.
            (b"data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":6}}\n\n", true, Some(6)),
            // Text that quotes a usage object is not one.
            (b"data: {\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\":{\\\"prompt_tokens\\\":9}\"}}]}\n\n", true, None),
        ];
        for (event, forwarded, input) in cases {
            let mut observer = StreamObserver::openai(false);
            let text = String::from_utf8_lossy(event);
            assert_eq!(observer.observe(event), forwarded, "{text}");
            assert_eq!(observer.tokens().map(|t| t.input), input, "{text}");
        }
        let mut wanted = StreamObserver::openai(true);
        assert!(
            wanted.observe(USAGE),
            "a client that asked for usage keeps it"
        );
    }

    #[test]
    fn an_anthropic_stream_is_observed_from_its_message_events_wherever_their_data_lines_break() {
        let events: [&[u8]; 7] = [
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":30,\"output_tokens\":1}}}\n\n",
            // A comment that names a message event is not one.
            b": \"message_delta\" follows\nevent: ping\ndata: {\"type\":\"ping\"}\n\n",
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"no \\\"message_delta\\\" here\"}}\n\n",
            // Data split over lines, as a pretty-printer would write it.
            b"event: message_delta\ndata: {\"type\":\ndata: \"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\ndata: \"usage\":{\"output_tokens\":9}}\n\n",
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        ];
        let mut observer = StreamObserver::anthropic();
        for event in events {
            assert!(
                observer.observe(event),
                "{}",
                String::from_utf8_lossy(event)
            );
        }
        let tokens = observer.tokens().expect("usage");
        assert_eq!(
            (tokens.input, tokens.cache_read, tokens.output),
            (12, 30, 9)
        );
        assert!(observer.completed());
        assert_eq!(observer.provider_error(), Some("Overloaded"));
    }

    #[test]
    fn an_anthropic_stream_is_complete_once_its_message_stops() {
        let start: &[u8] = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n";
        let stop: &[u8] = b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let mut observer = StreamObserver::anthropic();
        assert!(observer.observe(start));
        assert!(!observer.completed(), "a stream cut before its end");
        assert!(observer.observe(stop));
        assert!(observer.completed());
        assert_eq!(observer.provider_error(), None);
        assert_eq!(observer.tokens().map(|t| t.input), Some(3));
    }

    fn run_of(events: &[&[u8]]) -> Bytes {
        Bytes::from(events.concat())
    }

    fn forwarded(client_wants_usage: bool, run: Bytes) -> (Vec<Bytes>, PassThrough) {
        let mut handler = PassThrough::new(StreamObserver::openai(client_wants_usage));
        let mut out = VecDeque::new();
        handler.events(run, &mut out);
        (out.into_iter().collect(), handler)
    }

    /// A pass-through `ProxyStream` over `chunks`, recording into a throwaway store.
    fn proxy_stream<S>(chunks: S) -> (ProxyStream, tempfile::TempDir, switchyard_store::LogWriter)
    where
        S: futures_util::TryStream<Ok = Bytes, Error = std::io::Error> + Send + 'static,
    {
        proxy_stream_over(UpstreamBody::from_stream(chunks))
    }

    /// A pass-through `ProxyStream` over `upstream`, recording into a throwaway store.
    fn proxy_stream_over(
        upstream: UpstreamBody,
    ) -> (ProxyStream, tempfile::TempDir, switchyard_store::LogWriter) {
        let dir = tempfile::tempdir().unwrap();
        let store = switchyard_store::Store::open(dir.path()).unwrap();
        let writer = switchyard_store::LogWriter::start(&store, 16).unwrap();
        let (alerts, _) = tokio::sync::mpsc::unbounded_channel();
        let spend = std::sync::Arc::new(crate::spend::SpendTracker::load(&store, alerts).unwrap());
        let record = PendingRecord::new(
            writer.sender(),
            spend,
            WireFormat::OpenAiChat,
            std::time::Instant::now(),
        );
        let stream = ProxyStream::new(
            upstream,
            Box::new(PassThrough::new(StreamObserver::openai(true))),
            record,
            "mock".into(),
            200,
        );
        (stream, dir, writer)
    }

    /// A pass-through `ProxyStream` whose provider chunks are the ones sent on `tx`;
    /// dropping `tx` ends the provider's answer.
    fn stream_fed_by_hand() -> (
        tokio::sync::mpsc::UnboundedSender<Bytes>,
        ProxyStream,
        tempfile::TempDir,
        switchyard_store::LogWriter,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (Ok(chunk), rx))
        });
        let (stream, dir, writer) = proxy_stream(chunks);
        (tx, stream, dir, writer)
    }

    #[tokio::test]
    async fn chunks_already_delivered_leave_as_one_frame() {
        use futures_util::StreamExt;
        let chunks = [ROLE, TEXT, USAGE, DONE].map(|c| Ok(Bytes::from_static(c)));
        let (stream, _dir, _writer) = proxy_stream(futures_util::stream::iter(chunks));
        let frames: Vec<Bytes> = stream.map(|f| f.unwrap()).collect().await;
        assert_eq!(frames, [[ROLE, TEXT, USAGE, DONE].concat()]);
    }

    /// Polls a body the way hyper's HTTP/1.1 server does: a body that was not ready
    /// is polled once more straight away, in the same turn.
    struct PolledLikeTheServer(ProxyStream);

    impl Stream for PolledLikeTheServer {
        type Item = <ProxyStream as Stream>::Item;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match Pin::new(&mut self.0).poll_next(cx) {
                Poll::Pending => Pin::new(&mut self.0).poll_next(cx),
                ready => ready,
            }
        }
    }

    /// A provider that writes `events` as a chunked stream in one write, closing the
    /// stream or not, then holds the connection open; read by the real upstream client
    /// with `idle_limit` and passed through a `ProxyStream`.
    async fn stream_from_a_provider_writing_at_once(
        events: &[&[u8]],
        close: bool,
        idle_limit: std::time::Duration,
    ) -> (ProxyStream, tempfile::TempDir, switchyard_store::LogWriter) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
            transfer-encoding: chunked\r\n\r\n"
            .to_vec();
        for event in events {
            answer.extend_from_slice(format!("{:x}\r\n", event.len()).as_bytes());
            answer.extend_from_slice(event);
            answer.extend_from_slice(b"\r\n");
        }
        if close {
            answer.extend_from_slice(b"0\r\n\r\n");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 64 * 1024];
            let _ = socket.read(&mut request).await;
            socket.write_all(&answer).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        });
        // The real client: its connection task hands the body over a chunk per turn.
        let client = crate::upstream::UpstreamClient::direct()
            .unwrap()
            .with_idle_limit(idle_limit);
        let url = crate::upstream::parse_url(&format!("http://{addr}/v1/chat/completions"));
        let request = axum::http::Request::post(url.unwrap())
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let response = client.send(request).await.unwrap();
        proxy_stream_over(response.into_body())
    }

    #[tokio::test]
    async fn a_stream_the_provider_sent_at_once_leaves_in_one_frame() {
        use futures_util::StreamExt;
        let events = [ROLE, TEXT, USAGE, DONE];
        let (stream, _dir, _writer) =
            stream_from_a_provider_writing_at_once(&events, true, crate::upstream::IDLE_LIMIT)
                .await;
        let frames: Vec<Bytes> = PolledLikeTheServer(stream)
            .map(|f| f.unwrap())
            .collect()
            .await;
        assert_eq!(frames, [events.concat()]);
    }

    #[tokio::test]
    async fn a_stream_sent_at_once_is_ready_whole_before_its_head_leaves() {
        use futures_util::{FutureExt, StreamExt};
        let events = [ROLE, TEXT, USAGE, DONE];
        let (mut stream, _dir, _writer) =
            stream_from_a_provider_writing_at_once(&events, true, crate::upstream::IDLE_LIMIT)
                .await;
        stream.gather_first_frame().await;
        // What the HTTP server finds when it polls the body right after the head:
        // everything, then the end, so head and body leave in one write.
        let first = stream.next().now_or_never().expect("ready with the head");
        assert_eq!(first.unwrap().unwrap(), events.concat());
        assert!(matches!(stream.next().now_or_never(), Some(None)));
    }

    #[tokio::test]
    async fn the_head_waits_for_the_first_frame_but_never_for_the_provider() {
        use futures_util::{FutureExt, StreamExt};
        let (tx, mut stream, _dir, _writer) = stream_fed_by_hand();
        assert!(
            stream.gather_first_frame().now_or_never().is_some(),
            "nothing has arrived: the head goes without waiting"
        );
        tx.send(Bytes::from_static(ROLE)).unwrap();
        let gathered = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream.gather_first_frame(),
        );
        gathered
            .await
            .expect("gathering stops when the provider pauses");
        let first = stream.next().now_or_never().expect("ready with the head");
        assert_eq!(first.unwrap().unwrap(), ROLE);
        assert!(
            stream.next().now_or_never().is_none(),
            "the rest is to come"
        );
        tx.send(Bytes::from_static(DONE)).unwrap();
        drop(tx);
        assert_eq!(stream.next().await.unwrap().unwrap(), DONE);
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_that_goes_quiet_after_a_burst_still_ends_at_the_idle_limit() {
        use futures_util::StreamExt;
        // The burst is gathered without watching the idle limit; the wait after it is
        // watched.
        let idle_limit = std::time::Duration::from_millis(300);
        let (stream, _dir, _writer) =
            stream_from_a_provider_writing_at_once(&[ROLE, TEXT], false, idle_limit).await;
        let collected = PolledLikeTheServer(stream).map(|f| f.unwrap()).collect();
        let frames: Vec<Bytes> =
            tokio::time::timeout(std::time::Duration::from_secs(10), collected)
                .await
                .expect("the stream ended at the idle limit");
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(frames[0], [ROLE, TEXT].concat());
        let error = String::from_utf8_lossy(&frames[1]);
        assert!(error.contains("sent nothing for"), "{error}");
    }

    #[tokio::test]
    async fn a_frame_goes_out_without_waiting_for_chunks_still_to_come() {
        use futures_util::{FutureExt, StreamExt};
        let (tx, mut stream, _dir, _writer) = stream_fed_by_hand();
        tx.send(Bytes::from_static(ROLE)).unwrap();
        tx.send(Bytes::from_static(TEXT)).unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), [ROLE, TEXT].concat());
        assert!(
            stream.next().now_or_never().is_none(),
            "nothing more has arrived"
        );
        tx.send(Bytes::from_static(USAGE)).unwrap();
        tx.send(Bytes::from_static(DONE)).unwrap();
        drop(tx);
        assert_eq!(
            stream.next().await.unwrap().unwrap(),
            [USAGE, DONE].concat()
        );
        assert!(stream.next().await.is_none());
    }

    #[test]
    fn a_run_of_kept_events_is_forwarded_as_it_arrived() {
        let run = run_of(&[ROLE, TEXT, USAGE, DONE]);
        let (out, handler) = forwarded(true, run.clone());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ptr(), run.as_ptr(), "copied instead of forwarded");
        assert_eq!(out[0], run);
        assert_eq!(handler.tokens().map(|t| t.output), Some(2));
        assert!(handler.completed());
    }

    #[test]
    fn the_usage_chunk_the_client_did_not_ask_for_is_cut_out_of_the_run() {
        let (out, handler) = forwarded(false, run_of(&[ROLE, TEXT, USAGE, DONE]));
        assert_eq!(out.concat(), [ROLE, TEXT, DONE].concat());
        // Usage is still read for the log.
        assert_eq!(handler.tokens().map(|t| t.output), Some(2));

        let (out, _) = forwarded(false, run_of(&[USAGE]));
        assert!(out.is_empty());
        let (out, _) = forwarded(false, run_of(&[USAGE, DONE]));
        assert_eq!(out.concat(), DONE);
    }
}
