//! A minimal, fast mock upstream: fixed answers, no parsing, one thread (and a timer
//! thread for the paced streams, see `pacer`).
//!
//! `POST /v1/chat/completions` answers a fixed OpenAI chat completion, or a fixed
//! OpenAI event stream when the body says `"stream":true`; `POST /v1/messages` does the
//! same in Anthropic's format. A body naming the model `bench-slow` gets a stream that
//! stays open for [`SLOW_STREAM_TICKS`] × [`SLOW_STREAM_TICK`] (for the concurrent-streams
//! memory phase); one naming `bench-paced` gets its events spread over [`PACED_SPAN`],
//! as a provider streams tokens, so each reaches the gateway on its own. The mock runs on a
//! single-threaded runtime in its own process, so its cost is bounded and the same for
//! direct and gateway runs.

use crate::pacer::Pacer;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// Chunks of a slow stream after the first one, and the pause between them.
pub const SLOW_STREAM_TICKS: u32 = 12;
pub const SLOW_STREAM_TICK: Duration = Duration::from_millis(250);
/// From the first event of a paced stream to its last: about a millisecond between
/// events, enough for each to leave the mock, and reach the gateway, on its own. The
/// same for both formats, whose streams have a different number of events, so that
/// a translated stream's last byte can be compared with a direct one's.
pub const PACED_SPAN: Duration = Duration::from_millis(12);

/// How a stream's events leave the mock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// All at once, in one write when they fit.
    Burst,
    /// The first event at once, the others spread evenly over [`PACED_SPAN`].
    Paced,
    /// The first event, keep-alives for [`SLOW_STREAM_TICKS`] ticks, then the rest.
    Slow,
}

const OPENAI_COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the benchmark mock. This answer is fixed."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":212,"completion_tokens":12,"total_tokens":224,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp_bench"}"#;

const OPENAI_WORDS: [&str; 8] = [
    "Hello",
    " from",
    " the",
    " benchmark",
    " mock",
    ".",
    " Fixed",
    " answer.",
];

const ANTHROPIC_MESSAGE: &str = r#"{"id":"msg_bench","type":"message","role":"assistant","model":"bench-model","content":[{"type":"text","text":"Hello from the benchmark mock. This answer is fixed."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":212,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":12}}"#;

type MockBody = UnsyncBoxBody<Bytes, Infallible>;

/// The fixed OpenAI stream, one SSE event per chunk: role, words, finish, usage, `[DONE]`.
fn openai_stream_events() -> Vec<Bytes> {
    let mut events = Vec::with_capacity(OPENAI_WORDS.len() + 4);
    let head = r#"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","choices":[{"index":0,"delta":"#;
    events.push(Bytes::from(format!(
        "{head}{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n"
    )));
    for word in OPENAI_WORDS {
        events.push(Bytes::from(format!(
            "{head}{{\"content\":\"{word}\"}},\"finish_reason\":null}}]}}\n\n"
        )));
    }
    events.push(Bytes::from(format!(
        "{head}{{}},\"finish_reason\":\"stop\"}}]}}\n\n"
    )));
    events.push(Bytes::from_static(
        br#"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","choices":[],"usage":{"prompt_tokens":212,"completion_tokens":12,"total_tokens":224}}

"#,
    ));
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

/// The fixed Anthropic stream: message_start, one text block, message_delta, message_stop.
fn anthropic_stream_events() -> Vec<Bytes> {
    let mut events = vec![
        Bytes::from_static(
            br#"event: message_start
data: {"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"bench-model","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":212,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}

"#,
        ),
        Bytes::from_static(
            br#"event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

"#,
        ),
    ];
    for word in OPENAI_WORDS {
        events.push(Bytes::from(format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{word}\"}}}}\n\n"
        )));
    }
    events.push(Bytes::from_static(
        b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    ));
    events.push(Bytes::from_static(
        br#"event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":12}}

"#,
    ));
    events.push(Bytes::from_static(
        b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ));
    events
}

/// How the stream a body asks for leaves the mock, from the model it names: one pass
/// over the body, and only for streams. The mock's work per request is part of every
/// direct baseline, so it must not grow with what the benchmark measures besides (a
/// pass over an agent-sized body for non-streaming requests halved their baseline).
fn pace_of(body: &[u8]) -> Pace {
    const TAG: &[u8] = b"bench-";
    let mut from = 0;
    while let Some(found) = body[from..].windows(TAG.len()).position(|w| w == TAG) {
        let model = &body[from + found + TAG.len()..];
        if model.starts_with(b"slow") {
            return Pace::Slow;
        }
        if model.starts_with(b"paced") {
            return Pace::Paced;
        }
        from += found + TAG.len();
    }
    Pace::Burst
}

/// Everything the mock answers with, built once.
struct Answers {
    openai_json: Bytes,
    openai_stream: Vec<Bytes>,
    anthropic_json: Bytes,
    anthropic_stream: Vec<Bytes>,
    pacer: Pacer,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn full(body: Bytes, content_type: &'static str) -> Response<MockBody> {
    let mut response = Response::new(Full::new(body).boxed_unsync());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn event_stream(answers: &Answers, events: Vec<Bytes>, pace: Pace) -> Response<MockBody> {
    let body: MockBody = match pace {
        Pace::Slow => {
            // The first event at once, then the rest one tick apart, the last one twice
            // as long as the ticks so the stream stays open through the measurement.
            let mut events = events.into_iter();
            let first = events.next();
            let rest: Vec<Bytes> = events.collect();
            let ticks = stream::iter(0..SLOW_STREAM_TICKS).then(|_| async {
                tokio::time::sleep(SLOW_STREAM_TICK).await;
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(b": keep-alive\n\n")))
            });
            let head = stream::iter(first.map(|b| Ok(Frame::data(b))));
            let tail = stream::iter(rest.into_iter().map(|b| Ok(Frame::data(b))));
            StreamBody::new(head.chain(ticks).chain(tail)).boxed_unsync()
        }
        Pace::Paced => {
            // Each event at its own time counted from the first, on a timer finer than
            // the runtime's (see `pacer`). The first leaves at once, with the head.
            let start = Instant::now();
            let gaps = events.len().saturating_sub(1).max(1) as u32;
            let pacer = answers.pacer.clone();
            let timed = events.into_iter().enumerate().map(move |(i, event)| {
                let due = (i > 0).then(|| start + PACED_SPAN * i as u32 / gaps);
                (due, event, pacer.clone())
            });
            StreamBody::new(stream::iter(timed).then(|(due, event, pacer)| async move {
                if let Some(due) = due {
                    pacer.until(due).await;
                }
                Ok::<_, Infallible>(Frame::data(event))
            }))
            .boxed_unsync()
        }
        Pace::Burst => StreamBody::new(stream::iter(
            events
                .into_iter()
                .map(|b| Ok::<_, Infallible>(Frame::data(b))),
        ))
        .boxed_unsync(),
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response
}

async fn answer(
    answers: &Answers,
    request: Request<Incoming>,
) -> Result<Response<MockBody>, Infallible> {
    let path = request.uri().path().to_owned();
    let body = match request.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let mut r = full(Bytes::from_static(b"{}"), "application/json");
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(r);
        }
    };
    let stream = contains(&body, b"\"stream\":true") || contains(&body, b"\"stream\": true");
    let pace = if stream { pace_of(&body) } else { Pace::Burst };
    let response = match (path.as_str(), stream) {
        ("/v1/chat/completions", false) => full(answers.openai_json.clone(), "application/json"),
        ("/v1/chat/completions", true) => {
            event_stream(answers, answers.openai_stream.clone(), pace)
        }
        ("/v1/messages", false) => full(answers.anthropic_json.clone(), "application/json"),
        ("/v1/messages", true) => event_stream(answers, answers.anthropic_stream.clone(), pace),
        _ => {
            let mut r = full(
                Bytes::from_static(br#"{"error":{"message":"not found"}}"#),
                "application/json",
            );
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    };
    Ok(response)
}

/// Binds `listen` and prints `listening on ADDR` (the parent process reads it).
pub async fn bind_and_announce(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(listen).await?;
    announce(listener.local_addr()?)?;
    Ok(listener)
}

/// Prints `listening on ADDR`, the line the parent waits for.
pub fn announce(addr: SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    Ok(())
}

/// The next accepted connection, with TCP_NODELAY set.
pub async fn next_connection(listener: &TcpListener) -> TokioIo<TcpStream> {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                let _ = socket.set_nodelay(true);
                return TokioIo::new(socket);
            }
            // Out of file descriptors or similar: wait and go on.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Serves forever on `listen`, printing `listening on ADDR` first.
pub fn run(listen: SocketAddr) -> anyhow::Result<()> {
    crate::procs::exit_with_parent();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = bind_and_announce(listen).await?;
        let answers: &'static Answers = Box::leak(Box::new(Answers {
            openai_json: Bytes::from_static(OPENAI_COMPLETION.as_bytes()),
            openai_stream: openai_stream_events(),
            anthropic_json: Bytes::from_static(ANTHROPIC_MESSAGE.as_bytes()),
            anthropic_stream: anthropic_stream_events(),
            pacer: Pacer::start()?,
        }));
        loop {
            let io = next_connection(&listener).await;
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| answer(answers, r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    })
}
