//! A mock provider on 127.0.0.1. The requested model picks the behaviour:
//!
//! | model        | behaviour                                                        |
//! |--------------|------------------------------------------------------------------|
//! | `fail-<NNN>` | HTTP NNN with a provider-style error body (and `retry-after: 7`) |
//! | `tool`       | a tool call instead of text (Gemini: also `<name>-tool`)         |
//! | `cut`        | a stream that stops before its end marker                        |
//! | `slow`       | a stream that sends its start, then keep-alives for 30 s          |
//! | `seq:A,B,..` | the n-th request for this exact model gets outcome n (the last    |
//! |              | one repeats): `ok`, an HTTP status such as `500` or `429`, `hang` |
//! |              | (no answer for an hour), `midstream` (a stream that fails after   |
//! |              | its first event)                                                  |
//! | `agent`      | a tiny coding agent's model: asks to read the `.txt` file named in |
//! |              | the conversation with the client's own tool, then reports what the |
//! |              | tool returned (see [`agent`])                                      |
//! | anything else| "Hello from mock" with fixed usage                                |
//!
//! Gemini answers at `POST /v1beta/models/<model>:generateContent` and
//! `:streamGenerateContent?alt=sse`, with the same models (errors in Google's shape),
//! and a thought part first when the request asks for thoughts.
//!
//! `POST /hooks/<name>` receives webhooks; `/hooks/fail<N>` refuses the first N.
//! [`MockUpstream::start_resetting`] gives an address that accepts connections and
//! closes them at once, like a provider resetting connections.
//!
//! Every response carries an unknown field (`x_mock_extra`) so tests can check that
//! the gateway passes unknown fields back to clients.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Captured {
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Captured {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    captured: Mutex<Vec<Captured>>,
    /// Requests seen per model (for `seq:`) and per webhook path.
    counters: Mutex<std::collections::HashMap<String, usize>>,
    hooks: Mutex<Vec<(String, Value)>>,
    /// When set, requests without this provider key (Bearer or x-api-key) get 401.
    required_key: Option<String>,
    /// Answers (hangs and slow streams) whose client, the gateway, went away first.
    cancelled: AtomicUsize,
}

pub struct MockUpstream {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl MockUpstream {
    pub async fn start() -> std::io::Result<MockUpstream> {
        Self::start_on("127.0.0.1:0".parse().map_err(std::io::Error::other)?).await
    }

    pub async fn start_on(addr: SocketAddr) -> std::io::Result<MockUpstream> {
        Self::start_with_key(addr, None).await
    }

    /// Like [`MockUpstream::start_on`], refusing requests that lack `required_key`.
    pub async fn start_with_key(
        addr: SocketAddr,
        required_key: Option<String>,
    ) -> std::io::Result<MockUpstream> {
        let shared = Arc::new(Shared {
            required_key,
            ..Shared::default()
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .route("/v1beta/models/{model_and_method}", post(gemini))
            .route("/v1/responses", post(responses))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .route("/v1/embeddings", post(embeddings))
            .route("/hooks/{name}", post(hook))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockUpstream { addr, shared })
    }

    /// Base URL for OpenAI-style providers (`.../v1`).
    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Base URL for Anthropic providers (the host, as in `ANTHROPIC_BASE_URL`).
    pub fn anthropic_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Base URL for Gemini providers (`.../v1beta`).
    pub fn gemini_base(&self) -> String {
        format!("http://{}/v1beta", self.addr)
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.shared
            .captured
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    pub fn last(&self) -> Option<Captured> {
        self.captured().pop()
    }

    /// Hanging answers and slow streams whose client went away before they ended.
    pub fn cancelled(&self) -> usize {
        self.shared.cancelled.load(Ordering::SeqCst)
    }

    /// Requests received for a model name.
    pub fn count(&self, model: &str) -> usize {
        self.shared
            .counters
            .lock()
            .map(|c| c.get(model).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Webhooks accepted so far: (hook name, body).
    pub fn hooks(&self) -> Vec<(String, Value)> {
        self.shared
            .hooks
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// Webhook calls received for `name`, accepted or refused.
    pub fn hook_calls(&self, name: &str) -> usize {
        self.count(&format!("hook:{name}"))
    }

    /// An address that accepts TCP connections and closes them without answering.
    pub async fn start_resetting() -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
        Ok(addr)
    }
}

/// Counts a request under `name`; returns how many came before it.
fn bump(shared: &Shared, name: &str) -> usize {
    let Ok(mut counters) = shared.counters.lock() else {
        return 0;
    };
    let n = counters.entry(name.to_string()).or_insert(0);
    *n += 1;
    *n - 1
}

async fn hook(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> StatusCode {
    let seen = bump(&shared, &format!("hook:{name}"));
    let refuse: usize = name
        .strip_prefix("fail")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if seen < refuse {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if let Ok(mut hooks) = shared.hooks.lock() {
        hooks.push((name, body));
    }
    StatusCode::NO_CONTENT
}

/// The outcome a `seq:` model scripts for this request, or the model itself.
fn scripted(shared: &Shared, model: &str) -> String {
    let Some(list) = model.strip_prefix("seq:") else {
        bump(shared, model);
        return model.to_string();
    };
    let steps: Vec<&str> = list.split(',').collect();
    let n = bump(shared, model);
    let step = steps[n.min(steps.len() - 1)];
    match step {
        "ok" => "ok".to_string(),
        "hang" | "midstream" | "stall-body" | "stall-400" => step.to_string(),
        code => format!("fail-{code}"),
    }
}

/// No answer for an hour; counts a cancellation if the client goes away first.
async fn hang(shared: Arc<Shared>) -> Response {
    let guard = CancelGuard(shared, false);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    guard.complete();
    StatusCode::GATEWAY_TIMEOUT.into_response()
}

/// The head and the start of a JSON body, then silence for an hour.
fn stalled(status: StatusCode, start: &'static str) -> Response {
    let stream = futures_util::stream::unfold(0, move |step| async move {
        if step == 1 {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return None;
        }
        Some((
            Ok::<_, std::io::Error>(Bytes::from_static(start.as_bytes())),
            1,
        ))
    });
    (
        status,
        [("content-type", "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Counts a cancellation when dropped before [`CancelGuard::complete`].
struct CancelGuard(Arc<Shared>, bool);

impl CancelGuard {
    fn complete(mut self) {
        self.1 = true;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A stream that sends one event, then fails (a moment later, so the event is on the
/// wire before the connection breaks).
fn midstream(first: String) -> Response {
    let stream = futures_util::stream::unfold(0, move |step| {
        let first = first.clone();
        async move {
            match step {
                0 => Some((Ok(Bytes::from(first)), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((Err(std::io::Error::other("mock stream failure")), 2))
                }
                _ => None,
            }
        }
    });
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn capture(shared: &Shared, request: Request) -> (Captured, Value) {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let captured = Captured {
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    let json = captured.json();
    if let Ok(mut list) = shared.captured.lock() {
        list.push(captured.clone());
    }
    (captured, json)
}

fn failure(model: &str, anthropic: bool) -> Option<Response> {
    let code: u16 = model.strip_prefix("fail-")?.parse().ok()?;
    let status = StatusCode::from_u16(code).ok()?;
    let message = format!("mock failure {code}");
    let body = if anthropic {
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": message}})
    } else {
        json!({"error": {"message": message, "type": "requests", "code": "mock_code"}})
    };
    // 429s ask for a 2 s wait, other failures for 7 s (which a client may cap).
    let retry_after = if code == 429 { "2" } else { "7" };
    Some((status, [("retry-after", retry_after)], axum::Json(body)).into_response())
}

fn sse(events: Vec<String>) -> Response {
    let stream = futures_util::stream::iter(
        events
            .into_iter()
            .map(|e| Ok::<_, std::io::Error>(Bytes::from(e))),
    );
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Sends `first`, then an SSE comment every 100 ms for 30 s; counts a cancellation if
/// the receiver goes away first.
fn slow_stream(shared: Arc<Shared>, first: Vec<String>) -> Response {
    let guard = CancelGuard(shared, false);
    let stream =
        futures_util::stream::unfold((0usize, first, guard), |(i, first, guard)| async move {
            if i < first.len() {
                let item = Bytes::from(first[i].clone());
                return Some((Ok::<_, std::io::Error>(item), (i + 1, first, guard)));
            }
            if i >= first.len() + 300 {
                guard.complete();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((
                Ok(Bytes::from_static(b": keep-alive\n\n")),
                (i + 1, first, guard),
            ))
        });
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A 401 when the mock requires a key and the request does not carry it.
fn unauthorized(shared: &Shared, captured: &Captured) -> Option<Response> {
    let required = shared.required_key.as_deref()?;
    let bearer = format!("Bearer {required}");
    let headers = &captured.headers;
    let ok = headers
        .get("authorization")
        .is_some_and(|v| v == bearer.as_str())
        || headers.get("x-api-key").is_some_and(|v| v == required)
        || headers.get("x-goog-api-key").is_some_and(|v| v == required);
    (!ok).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"message": "mock: wrong provider key", "type": "invalid_request_error"}})),
        )
            .into_response()
    })
}

async fn openai(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (captured, body) = capture(&shared, request).await;
    if let Some(r) = unauthorized(&shared, &captured) {
        return r;
    }
    let model = scripted(&shared, body["model"].as_str().unwrap_or(""));
    if let Some(r) = failure(&model, false) {
        return r;
    }
    if model == "agent" {
        return crate::agent::openai(&body);
    }
    if model == "hang" {
        return hang(shared).await;
    }
    if model == "stall-body" {
        return stalled(StatusCode::OK, "{\"id\": \"chatcmpl-mock\", ");
    }
    if model == "stall-400" {
        return stalled(StatusCode::BAD_REQUEST, "{\"error\": {\"message\": ");
    }
    if model == "midstream" {
        return midstream(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": null}]})
        ));
    }
    let stream = body["stream"].as_bool().unwrap_or(false);
    let include_usage = body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let usage = json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 1}});
    let tool = model == "tool";
    if !stream {
        let message = if tool {
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
        } else {
            json!({"role": "assistant", "content": "Hello from mock"})
        };
        return axum::Json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": if tool {"tool_calls"} else {"stop"}}],
            "usage": usage, "x_mock_extra": {"kept": true}
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "x_mock_extra": {"kept": true}})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    if tool {
        events.push(chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
        ));
        events.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
            Value::Null,
        ));
        events.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
            Value::Null,
        ));
        events.push(chunk(json!({}), json!("tool_calls")));
    } else {
        if model == "think" {
            // DeepSeek-style reasoning ahead of the answer.
            events.push(chunk(
                json!({"reasoning_content": "Let me think."}),
                Value::Null,
            ));
        }
        events.push(chunk(json!({"content": "Hello"}), Value::Null));
        events.push(chunk(json!({"content": " from mock"}), Value::Null));
        if model == "slow" {
            return slow_stream(shared, events);
        }
        if model == "cut" {
            return sse(events);
        }
        events.push(chunk(json!({}), json!("stop")));
    }
    if include_usage {
        events.push(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": [], "usage": usage})
        ));
    }
    events.push("data: [DONE]\n\n".to_string());
    sse(events)
}

async fn anthropic(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (captured, body) = capture(&shared, request).await;
    if let Some(r) = unauthorized(&shared, &captured) {
        return r;
    }
    let model = scripted(&shared, body["model"].as_str().unwrap_or(""));
    if let Some(r) = failure(&model, true) {
        return r;
    }
    if model == "agent" {
        return crate::agent::anthropic(&body);
    }
    if model == "hang" {
        return hang(shared).await;
    }
    if model == "midstream" {
        return midstream(format!(
            "event: message_start\ndata: {}\n\n",
            json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant",
                "model": model, "content": [], "usage": {"input_tokens": 20, "output_tokens": 1}}})
        ));
    }
    let stream = body["stream"].as_bool().unwrap_or(false);
    let tool = model == "tool";
    let usage = json!({"input_tokens": 20, "cache_creation_input_tokens": 50, "cache_read_input_tokens": 100,
        "output_tokens": 7});
    if !stream {
        let content = if tool {
            json!([{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}])
        } else {
            json!([{"type": "text", "text": "Hello from mock"}])
        };
        return axum::Json(json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": if tool {"tool_use"} else {"end_turn"}, "stop_sequence": null,
            "usage": usage, "x_mock_extra": {"kept": true}
        }))
        .into_response();
    }
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "usage": {"input_tokens": 20, "cache_creation_input_tokens": 50, "cache_read_input_tokens": 100, "output_tokens": 1}}}),
        ),
        event("ping", json!({"type": "ping"})),
    ];
    if tool {
        events.push(event("content_block_start", json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}})));
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Paris\"}"}}),
        ));
    } else {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ));
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "Hello"}}),
        ));
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": " from mock"}}),
        ));
        if model == "slow" {
            return slow_stream(shared, events);
        }
        if model == "cut" {
            return sse(events);
        }
    }
    events.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(event(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": if tool {"tool_use"} else {"end_turn"}, "stop_sequence": null},
        "usage": {"output_tokens": 7}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    sse(events)
}

/// OpenAI Responses, for requests that pass through to OpenAI itself.
async fn responses(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (captured, body) = capture(&shared, request).await;
    if let Some(r) = unauthorized(&shared, &captured) {
        return r;
    }
    let model = scripted(&shared, body["model"].as_str().unwrap_or(""));
    if let Some(r) = failure(&model, false) {
        return r;
    }
    let usage = json!({"input_tokens": 30, "input_tokens_details": {"cached_tokens": 10},
        "output_tokens": 6, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 36});
    let message = json!({"type": "message", "id": "msg_r", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello from mock", "annotations": []}]});
    let response = json!({"id": "resp_mock", "object": "response", "status": "completed", "model": model,
        "output": [message], "usage": usage, "x_mock_extra": {"kept": true}});
    if !body["stream"].as_bool().unwrap_or(false) {
        return axum::Json(response).into_response();
    }
    let ev = |kind: &str, data: Value| {
        let mut data = data;
        data["type"] = json!(kind);
        format!("event: {kind}\ndata: {data}\n\n")
    };
    sse(vec![
        ev(
            "response.created",
            json!({"response": {"id": "resp_mock", "status": "in_progress", "output": []}}),
        ),
        ev(
            "response.output_text.delta",
            json!({"item_id": "msg_r", "output_index": 0, "content_index": 0, "delta": "Hello from mock"}),
        ),
        ev("response.completed", json!({"response": response})),
    ])
}

/// Gemini `generateContent` and `streamGenerateContent?alt=sse`: the path segment is
/// `<model>:<method>`.
async fn gemini(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(model_and_method): axum::extract::Path<String>,
    request: Request,
) -> Response {
    let (captured, body) = capture(&shared, request).await;
    if let Some(r) = unauthorized(&shared, &captured) {
        return r;
    }
    let (model, method) = model_and_method
        .split_once(':')
        .unwrap_or((model_and_method.as_str(), ""));
    let model = scripted(&shared, model);
    if let Some(r) = gemini_failure(&model) {
        return r;
    }
    if model == "hang" {
        return hang(shared).await;
    }
    let stream = method == "streamGenerateContent";
    let thoughts = body["generationConfig"]["thinkingConfig"]["includeThoughts"] == true;
    // `gemini-2.5-flash-tool` too, so that settings that depend on the model name apply.
    let tool = model == "tool" || model.ends_with("-tool");
    let response = |parts: Value, finish: Option<&str>, usage: Value| {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(reason) = finish {
            candidate["finishReason"] = json!(reason);
        }
        json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model,
            "responseId": "gemini-mock-1", "x_mock_extra": {"kept": true}})
    };
    let usage = json!({"promptTokenCount": 30, "cachedContentTokenCount": 10, "candidatesTokenCount": 5,
        "thoughtsTokenCount": 3, "totalTokenCount": 38});
    let thought = json!({"text": "Thinking about it.", "thought": true});
    let call = json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
        "thoughtSignature": "c2lnbmF0dXJl"});
    if !stream {
        let mut parts = Vec::new();
        if thoughts {
            parts.push(thought);
        }
        parts.push(if tool {
            call
        } else {
            json!({"text": "Hello from mock"})
        });
        return axum::Json(response(Value::Array(parts), Some("STOP"), usage)).into_response();
    }
    let data = |v: Value| format!("data: {v}\r\n\r\n");
    let start_usage = json!({"promptTokenCount": 30, "totalTokenCount": 30});
    if model == "midstream" {
        return midstream(data(response(json!([{"text": "Hel"}]), None, start_usage)));
    }
    let mut events = Vec::new();
    if thoughts {
        events.push(data(response(json!([thought]), None, start_usage.clone())));
    }
    if tool {
        events.push(data(response(json!([call]), Some("STOP"), usage)));
        return sse(events);
    }
    events.push(data(response(
        json!([{"text": "Hello"}]),
        None,
        start_usage.clone(),
    )));
    if model == "slow" {
        return slow_stream(shared, events);
    }
    if model == "cut" {
        return sse(events);
    }
    events.push(data(response(
        json!([{"text": " from mock"}]),
        Some("STOP"),
        usage,
    )));
    sse(events)
}

/// A `fail-<NNN>` model's answer in Google's error shape.
fn gemini_failure(model: &str) -> Option<Response> {
    let code: u16 = model.strip_prefix("fail-")?.parse().ok()?;
    let status = StatusCode::from_u16(code).ok()?;
    let name = match code {
        400 => "INVALID_ARGUMENT",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let body =
        json!({"error": {"code": code, "message": format!("mock failure {code}"), "status": name}});
    let retry_after = if code == 429 { "2" } else { "7" };
    Some((status, [("retry-after", retry_after)], axum::Json(body)).into_response())
}

/// Anthropic's exact token count: a fixed answer the tests recognise.
async fn count_tokens(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (captured, _) = capture(&shared, request).await;
    if let Some(r) = unauthorized(&shared, &captured) {
        return r;
    }
    axum::Json(json!({"input_tokens": 4242})).into_response()
}

/// OpenAI embeddings: one short vector per input.
async fn embeddings(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (captured, body) = capture(&shared, request).await;
    if let Some(r) = unauthorized(&shared, &captured) {
        return r;
    }
    let inputs = match &body["input"] {
        Value::Array(items) => items.len(),
        _ => 1,
    };
    let data: Vec<Value> = (0..inputs)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.25, -0.5, 1.0]}))
        .collect();
    axum::Json(
        json!({"object": "list", "data": data, "model": body["model"],
        "usage": {"prompt_tokens": 8 * inputs, "total_tokens": 8 * inputs}}),
    )
    .into_response()
}
