//! Forwarding a provider's event stream to the client as it arrives, while reading
//! usage from it and recording the request when the stream ends, fails, or the
//! client goes away (dropping this stream also drops, and so cancels, the upstream).

use crate::errors::{ApiError, Dialect, ErrorKind};
use crate::recorder::{PendingRecord, CLIENT_DISCONNECTED};
use crate::sse::{contains, event_data, SseSplitter};
use crate::usage::{AnthropicUsage, OpenAiUsage};
use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::Stream;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use switchyard_store::TokenCounts;

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
}

#[derive(Deserialize)]
struct OpenAiChunk {
    #[serde(default)]
    choices: Vec<IgnoredAny>,
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct AnthropicEvent {
    #[serde(rename = "type")]
    kind: String,
    message: Option<AnthropicMessage>,
    usage: Option<AnthropicUsage>,
    error: Option<AnthropicError>,
}

#[derive(Deserialize)]
struct AnthropicMessage {
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicError {
    message: Option<String>,
}

impl StreamObserver {
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
                let Some(data) = event_data(event) else {
                    return true;
                };
                if data.trim_ascii() == b"[DONE]" {
                    *done = true;
                    return true;
                }
                // Only chunks that mention usage are worth parsing.
                if !contains(&data, b"\"usage\"") {
                    return true;
                }
                match serde_json::from_slice::<OpenAiChunk>(&data) {
                    Ok(OpenAiChunk {
                        choices,
                        usage: Some(u),
                    }) => {
                        *usage = Some(u.to_counts());
                        // The usage-only chunk the gateway asked for on the client's behalf.
                        *client_wants_usage || !choices.is_empty()
                    }
                    _ => true,
                }
            }
            StreamObserver::Anthropic { usage, done, error } => {
                let Some(data) = event_data(event) else {
                    return true;
                };
                let interesting = contains(&data, b"\"message_start\"")
                    || contains(&data, b"\"message_delta\"")
                    || contains(&data, b"\"message_stop\"")
                    || contains(&data, b"\"error\"");
                if !interesting {
                    return true;
                }
                if let Ok(e) = serde_json::from_slice::<AnthropicEvent>(&data) {
                    let reported = match e.kind.as_str() {
                        "message_start" => e.message.and_then(|m| m.usage),
                        "message_delta" => e.usage,
                        "message_stop" => {
                            *done = true;
                            None
                        }
                        "error" => {
                            *error = Some(
                                e.error
                                    .and_then(|e| e.message)
                                    .unwrap_or_else(|| "provider reported an error".into()),
                            );
                            None
                        }
                        _ => None,
                    };
                    if let Some(r) = reported {
                        usage.get_or_insert_with(AnthropicUsage::default).update(r);
                    }
                }
                true
            }
        }
    }

    fn tokens(&self) -> Option<TokenCounts> {
        match self {
            StreamObserver::OpenAi { usage, .. } => *usage,
            StreamObserver::Anthropic { usage, .. } => usage.as_ref().map(|u| u.to_counts()),
        }
    }

    /// Whether the provider ended the stream properly.
    fn completed(&self) -> bool {
        match self {
            StreamObserver::OpenAi { done, .. } => *done,
            StreamObserver::Anthropic { done, error, .. } => *done || error.is_some(),
        }
    }

    fn provider_error(&self) -> Option<&str> {
        match self {
            StreamObserver::Anthropic { error, .. } => error.as_deref(),
            StreamObserver::OpenAi { .. } => None,
        }
    }
}

pub type UpstreamStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

pub struct ProxyStream {
    upstream: UpstreamStream,
    splitter: SseSplitter,
    observer: StreamObserver,
    recorder: Option<PendingRecord>,
    out: VecDeque<Bytes>,
    dialect: Dialect,
    provider: String,
    ended: bool,
}

impl ProxyStream {
    pub fn new(
        upstream: UpstreamStream,
        observer: StreamObserver,
        mut recorder: PendingRecord,
        dialect: Dialect,
        provider: String,
        status: u16,
    ) -> ProxyStream {
        recorder.set_status_sent(status);
        ProxyStream {
            upstream,
            splitter: SseSplitter::default(),
            observer,
            recorder: Some(recorder),
            out: VecDeque::new(),
            dialect,
            provider,
            ended: false,
        }
    }

    fn take_events(&mut self) {
        while let Some(event) = self.splitter.next_event() {
            if self.observer.observe(&event) {
                self.out.push_back(event);
            }
        }
    }

    /// The upstream ended (cleanly or not): tell the client if it was cut short, record.
    fn end(&mut self, failure: Option<String>) {
        self.ended = true;
        if let Some(rest) = self.splitter.take_rest() {
            if self.observer.observe(&rest) {
                self.out.push_back(rest);
            }
        }
        let Some(mut recorder) = self.recorder.take() else {
            return;
        };
        recorder.mark_upstream_done();
        if let Some(tokens) = self.observer.tokens() {
            recorder.set_tokens(tokens);
        }
        let cut = failure.or_else(|| {
            (!self.observer.completed())
                .then(|| "the provider closed the stream before it was complete".to_string())
        });
        if let Some(reason) = cut {
            let error = ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorKind::Upstream,
                format!("Provider '{}' stream failed: {reason}", self.provider),
            );
            self.out.push_back(error.sse_event(self.dialect));
            recorder.set_error("upstream_stream_error", error.message);
        } else if let Some(message) = self.observer.provider_error() {
            recorder.set_error("upstream_stream_error", message.to_string());
        }
        recorder.finish(200);
    }
}

impl Stream for ProxyStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(bytes) = this.out.pop_front() {
                if let Some(r) = this.recorder.as_mut() {
                    r.mark_first_byte();
                }
                return Poll::Ready(Some(Ok(bytes)));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.splitter.push(&chunk);
                    this.take_events();
                }
                Poll::Ready(Some(Err(e))) => this.end(Some(e.to_string())),
                Poll::Ready(None) => this.end(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for ProxyStream {
    /// The client went away mid-stream: record what was used so far.
    fn drop(&mut self) {
        if let Some(mut recorder) = self.recorder.take() {
            if let Some(tokens) = self.observer.tokens() {
                recorder.set_tokens(tokens);
            }
            recorder.set_error(CLIENT_DISCONNECTED, "the client closed the stream early");
            recorder.mark_upstream_done();
            // `PendingRecord`'s drop records it with the status already sent.
            drop(recorder);
        }
    }
}
