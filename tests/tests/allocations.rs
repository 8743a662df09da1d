//! Allocations per proxied request, held under a budget on every route.
//!
//! The gateway's fast paths (the pass-through's targeted scan of a request body, the
//! stream readers that skip `serde_json` for the usual chunk shapes, the typed
//! translators) change nothing a client sees: every other test passes the same whether
//! a request takes them or falls back to a full parse. What changes is the work done
//! per request, and its steadiest sign is the number of allocations: unlike time it
//! does not depend on the machine or its load, and unlike an instruction count not on
//! the compiler. Reading an agent's request, its answer or every chunk of a stream
//! into a `serde_json::Value` tree where a targeted or typed reading does costs dozens
//! to hundreds of allocations per request.
//!
//! This binary counts every allocation in its process (its own global allocator)
//! while a client and a provider that allocate nothing per request exchange requests
//! through an in-process gateway, so the count is the gateway's: its request workers
//! and its log writer. One test runs every route in turn, as the count is global.

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use switchyard_gateway::secrets::{MemorySecretStore, SecretStore};
use switchyard_gateway::{manage, GatewayOptions, ServeThreads};
use switchyard_store::Store;

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Requests that warm a route up (connections, buffers, caches) before counting.
const WARM_UP: usize = 40;
/// Requests counted per route.
const COUNTED: usize = 300;

/// The API a client speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    /// OpenAI chat completions.
    Chat,
    /// Anthropic messages (Claude Code).
    Messages,
    /// OpenAI Responses (Codex CLI).
    Responses,
}

impl Api {
    fn path(self) -> &'static str {
        match self {
            Api::Chat => "/v1/chat/completions",
            Api::Messages => "/v1/messages",
            Api::Responses => "/v1/responses",
        }
    }

    /// What the client must see in the answer: its end, and the tool call.
    fn expected(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Api::Chat, false) => "\"finish_reason\":\"tool_calls\"",
            (Api::Chat, true) => "data: [DONE]",
            (Api::Messages, false) => "\"stop_reason\":\"tool_use\"",
            (Api::Messages, true) => "event: message_stop",
            (Api::Responses, false) => "\"type\":\"function_call\"",
            (Api::Responses, true) => "response.completed",
        }
    }
}

/// A route through the gateway and the most allocations a request on it may make.
struct Route {
    name: &'static str,
    client: Api,
    /// `provider/model`: `chat/…` (chat completions only), `openai/…` (chat and
    /// Responses), `anthropic/…` or `gemini/…`.
    model: &'static str,
    stream: bool,
    /// Allocations per request, log writer included, when this was last measured: a
    /// request may make a fifth more ([`MARGIN`]), so that a change of a few
    /// allocations passes and a fast path given up does not.
    measured: f64,
}

/// How far above its measured count a route's allocations may go.
const MARGIN: f64 = 1.2;

const fn route(
    name: &'static str,
    client: Api,
    model: &'static str,
    stream: bool,
    measured: f64,
) -> Route {
    Route {
        name,
        client,
        model,
        stream,
        measured,
    }
}

const ROUTES: [Route; 15] = [
    route(
        "OpenAI pass-through",
        Api::Chat,
        "chat/agent-model",
        false,
        56.5,
    ),
    route(
        "OpenAI pass-through, streaming",
        Api::Chat,
        "chat/agent-model",
        true,
        68.3,
    ),
    route(
        "Anthropic pass-through",
        Api::Messages,
        "anthropic/agent-model",
        false,
        61.5,
    ),
    route(
        "Anthropic pass-through, streaming",
        Api::Messages,
        "anthropic/agent-model",
        true,
        65.3,
    ),
    route(
        "Responses pass-through",
        Api::Responses,
        "openai/agent-model",
        false,
        59.6,
    ),
    route(
        "Responses pass-through, streaming",
        Api::Responses,
        "openai/agent-model",
        true,
        65.3,
    ),
    route(
        "Anthropic client to OpenAI",
        Api::Messages,
        "chat/agent-model",
        false,
        115.5,
    ),
    route(
        "Anthropic client to OpenAI, streaming",
        Api::Messages,
        "chat/agent-model",
        true,
        214.4,
    ),
    route(
        "OpenAI client to Anthropic",
        Api::Chat,
        "anthropic/agent-model",
        false,
        127.5,
    ),
    route(
        "OpenAI client to Anthropic, streaming",
        Api::Chat,
        "anthropic/agent-model",
        true,
        195.3,
    ),
    route(
        "Responses client to OpenAI chat, streaming",
        Api::Responses,
        "chat/agent-model",
        true,
        274.1,
    ),
    route(
        "Responses client to Anthropic, streaming",
        Api::Responses,
        "anthropic/agent-model",
        true,
        256.1,
    ),
    route(
        "Anthropic client to Gemini",
        Api::Messages,
        "gemini/agent-model",
        false,
        250.3,
    ),
    route(
        "Anthropic client to Gemini, streaming",
        Api::Messages,
        "gemini/agent-model",
        true,
        404.1,
    ),
    route(
        "OpenAI client to Gemini, streaming",
        Api::Chat,
        "gemini/agent-model",
        true,
        403.1,
    ),
];

#[test]
fn requests_stay_within_their_allocation_budgets() {
    let provider = FixedProvider::start().expect("provider starts");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store opens");
    manage::apply_config(&store, &config(provider.addr)).expect("config applies");
    let key = manage::create_key(&store, "allocations").expect("key").key;
    let secrets = Arc::new(MemorySecretStore::default());
    secrets.set("provider", "provider-key").expect("secret");
    let gateway = runtime
        .block_on(switchyard_gateway::launch(GatewayOptions {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            secrets,
            threads: ServeThreads::PerCore,
        }))
        .expect("gateway starts");
    let log = gateway.state().log.clone();

    let mut report = String::new();
    let mut over = Vec::new();
    for route in &ROUTES {
        let mut client = Client::connect(gateway.local_addr(), route, &key);
        for _ in 0..WARM_UP {
            client.exchange(route);
        }
        log.flush();
        let before = allocator_calls();
        for _ in 0..COUNTED {
            client.exchange(route);
        }
        // A stream's record is queued just after the client saw its end; one not yet
        // queued here would move the figure by a few hundredths.
        log.flush();
        let per_request = (allocator_calls() - before) as f64 / COUNTED as f64;
        let budget = route.measured * MARGIN;
        let _ = writeln!(
            report,
            "{:<44} {per_request:>6.1} (measured {:.1}, budget {budget:.0})",
            route.name, route.measured
        );
        if per_request > budget {
            over.push(route.name);
        }
    }
    println!("Allocations per request:\n{report}");
    runtime.block_on(gateway.shutdown());
    assert!(
        over.is_empty(),
        "over budget: {over:?}\nAllocations per request:\n{report}"
    );
}

fn allocator_calls() -> usize {
    let stats = ALLOCATOR.stats();
    stats.allocations + stats.reallocations
}

fn config(provider: SocketAddr) -> String {
    format!(
        r#"
[[providers]]
name = "chat"
kind = "openai-compatible"
base_url = "http://{provider}/v1"
api_key = {{ keyring = "provider" }}
models = ["agent-model"]

[[providers]]
name = "openai"
kind = "openai"
base_url = "http://{provider}/v1"
api_key = {{ keyring = "provider" }}

[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "http://{provider}"
api_key = {{ keyring = "provider" }}

[[providers]]
name = "gemini"
kind = "gemini"
base_url = "http://{provider}/v1beta"
api_key = {{ keyring = "provider" }}
"#
    )
}

/// A coding agent's request: a system prompt, a tool call and its result, three tools.
fn request_body(client: Api, model: &str, stream: bool) -> String {
    let system = "You are a coding agent in a Rust repository. Read files before editing them; keep answers short.";
    let source = "fn main() {\n    let mut v = vec![1, 2, 3];\n    for x in &v {\n        v.push(*x);\n    }\n}\n";
    let schema = |field: &str| serde_json::json!({"type": "object", "properties": {field: {"type": "string", "description": "Relative to the repository"}}, "required": [field]});
    let tools = [
        ("read_file", "Reads a file", schema("path")),
        ("write_file", "Writes a file", schema("path")),
        ("run", "Runs a shell command", schema("command")),
    ];
    let ask = "The build fails with E0502 in src/main.rs. Fix it.";
    let body = match client {
        Api::Messages => serde_json::json!({
            "model": model, "max_tokens": 1024, "stream": stream, "system": system,
            "messages": [
                {"role": "user", "content": ask},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Reading the file."},
                    {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "src/main.rs"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": source}]},
            ],
            "tools": tools.iter().map(|(name, description, schema)| serde_json::json!(
                {"name": name, "description": description, "input_schema": schema})).collect::<Vec<_>>(),
        }),
        Api::Chat => serde_json::json!({
            "model": model, "max_tokens": 1024, "stream": stream,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": ask},
                {"role": "assistant", "content": "Reading the file.", "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "read_file", "arguments": "{\"path\":\"src/main.rs\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": source},
            ],
            "tools": tools.iter().map(|(name, description, schema)| serde_json::json!(
                {"type": "function", "function": {"name": name, "description": description, "parameters": schema}})).collect::<Vec<_>>(),
        }),
        Api::Responses => serde_json::json!({
            "model": model, "stream": stream, "store": false, "instructions": system,
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": ask}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Reading the file."}]},
                {"type": "function_call", "call_id": "call_1", "name": "read_file", "arguments": "{\"path\":\"src/main.rs\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": source},
            ],
            "tools": tools.iter().map(|(name, description, schema)| serde_json::json!(
                {"type": "function", "name": name, "description": description, "parameters": schema})).collect::<Vec<_>>(),
        }),
    };
    body.to_string()
}

/// The words of every answer, each a chunk or a delta of its own in a stream.
const WORDS: [&str; 16] = [
    "The", " loop", " borrows", " `v`", " while", " it", " pushes", " to", " it;", " I", " will",
    " collect", " the", " items", " first", ".",
];
const ARGUMENTS: [&str; 2] = ["{\"path\":", "\"src/main.rs\"}"];

/// The provider's answers, as whole HTTP responses: each format's message and stream,
/// text then a tool call, with usage.
struct Answers {
    openai: Vec<u8>,
    openai_stream: Vec<u8>,
    anthropic: Vec<u8>,
    anthropic_stream: Vec<u8>,
    responses: Vec<u8>,
    responses_stream: Vec<u8>,
    gemini: Vec<u8>,
    gemini_stream: Vec<u8>,
}

impl Answers {
    fn new() -> Answers {
        let text: String = WORDS.concat();
        let openai = serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "agent-model",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": text,
                "tool_calls": [{"id": "call_2", "type": "function", "function": {"name": "write_file", "arguments": ARGUMENTS.concat()}}]}}],
            "usage": {"prompt_tokens": 412, "completion_tokens": 40, "total_tokens": 452,
                "prompt_tokens_details": {"cached_tokens": 256}},
        });
        let anthropic = serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "agent-model",
            "content": [{"type": "text", "text": text},
                {"type": "tool_use", "id": "toolu_2", "name": "write_file", "input": {"path": "src/main.rs"}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 156, "cache_read_input_tokens": 256, "cache_creation_input_tokens": 0, "output_tokens": 40},
        });
        Answers {
            openai: whole("application/json", &openai.to_string()),
            openai_stream: chunked(&openai_events()),
            anthropic: whole("application/json", &anthropic.to_string()),
            anthropic_stream: chunked(&anthropic_events()),
            responses: whole("application/json", &responses_answer().to_string()),
            responses_stream: chunked(&responses_events()),
            gemini: whole(
                "application/json",
                &gemini_answer(&gemini_parts(), true).to_string(),
            ),
            gemini_stream: chunked(&gemini_events()),
        }
    }

    fn to(&self, request_head: &[u8], request_body: &[u8]) -> &[u8] {
        // Gemini says which in the path, the others in the body.
        if request_head.starts_with(b"POST /v1beta/models/") {
            let line = request_head
                .split(|&b| b == b'\n')
                .next()
                .unwrap_or_default();
            return if contains(line, b":streamGenerateContent") {
                &self.gemini_stream
            } else {
                &self.gemini
            };
        }
        let stream = contains(request_body, b"\"stream\":true");
        let api = if request_head.starts_with(b"POST /v1/messages") {
            Api::Messages
        } else if request_head.starts_with(b"POST /v1/responses") {
            Api::Responses
        } else {
            Api::Chat
        };
        match (api, stream) {
            (Api::Chat, false) => &self.openai,
            (Api::Chat, true) => &self.openai_stream,
            (Api::Messages, false) => &self.anthropic,
            (Api::Messages, true) => &self.anthropic_stream,
            (Api::Responses, false) => &self.responses,
            (Api::Responses, true) => &self.responses_stream,
        }
    }
}

fn openai_events() -> String {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        let chunk = serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "agent-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {chunk}\n\n")
    };
    let mut events = chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    );
    for word in WORDS {
        events += &chunk(serde_json::json!({"content": word}), None);
    }
    events += &chunk(
        serde_json::json!({"tool_calls": [{"index": 0, "id": "call_2", "type": "function",
            "function": {"name": "write_file", "arguments": ""}}]}),
        None,
    );
    for part in ARGUMENTS {
        events += &chunk(
            serde_json::json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}),
            None,
        );
    }
    events += &chunk(serde_json::json!({}), Some("tool_calls"));
    let usage = serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": "agent-model", "choices": [], "usage": {"prompt_tokens": 412, "completion_tokens": 40,
        "total_tokens": 452, "prompt_tokens_details": {"cached_tokens": 256}}});
    events + &format!("data: {usage}\n\ndata: [DONE]\n\n")
}

fn anthropic_events() -> String {
    let event = |data: serde_json::Value| {
        format!(
            "event: {}\ndata: {data}\n\n",
            data["type"].as_str().unwrap_or("")
        )
    };
    let mut events = event(
        serde_json::json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
        "role": "assistant", "model": "agent-model", "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 156, "cache_read_input_tokens": 256, "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
    );
    events += &event(
        serde_json::json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    for word in WORDS {
        events += &event(
            serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": word}}),
        );
    }
    events += &event(serde_json::json!({"type": "content_block_stop", "index": 0}));
    events += &event(
        serde_json::json!({"type": "content_block_start", "index": 1,
        "content_block": {"type": "tool_use", "id": "toolu_2", "name": "write_file", "input": {}}}),
    );
    for part in ARGUMENTS {
        events += &event(
            serde_json::json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": part}}),
        );
    }
    events += &event(serde_json::json!({"type": "content_block_stop", "index": 1}));
    events += &event(serde_json::json!({"type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 40}}));
    events + &event(serde_json::json!({"type": "message_stop"}))
}

/// A Responses answer: a message, then a function call.
fn responses_answer() -> serde_json::Value {
    serde_json::json!({
        "id": "resp_1", "object": "response", "created_at": 1_700_000_000, "status": "completed", "model": "agent-model",
        "output": [responses_message(), responses_call()],
        "usage": {"input_tokens": 412, "input_tokens_details": {"cached_tokens": 256}, "output_tokens": 40,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 452},
    })
}

fn responses_message() -> serde_json::Value {
    serde_json::json!({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": WORDS.concat(), "annotations": []}]})
}

fn responses_call() -> serde_json::Value {
    serde_json::json!({"type": "function_call", "id": "fc_1", "call_id": "call_2", "name": "write_file",
        "arguments": ARGUMENTS.concat(), "status": "completed"})
}

fn responses_events() -> String {
    let event = |data: serde_json::Value| {
        format!(
            "event: {}\ndata: {data}\n\n",
            data["type"].as_str().unwrap_or("")
        )
    };
    let mut in_progress = responses_answer();
    in_progress["status"] = "in_progress".into();
    in_progress["output"] = serde_json::json!([]);
    let mut events =
        event(serde_json::json!({"type": "response.created", "response": in_progress}));
    let mut message = responses_message();
    message["status"] = "in_progress".into();
    message["content"] = serde_json::json!([]);
    events += &event(
        serde_json::json!({"type": "response.output_item.added", "output_index": 0, "item": message}),
    );
    events += &event(
        serde_json::json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0,
        "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
    );
    for word in WORDS {
        events += &event(
            serde_json::json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "delta": word}),
        );
    }
    events += &event(
        serde_json::json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0,
        "content_index": 0, "text": WORDS.concat()}),
    );
    events += &event(
        serde_json::json!({"type": "response.output_item.done", "output_index": 0, "item": responses_message()}),
    );
    let mut call = responses_call();
    call["status"] = "in_progress".into();
    call["arguments"] = "".into();
    events += &event(
        serde_json::json!({"type": "response.output_item.added", "output_index": 1, "item": call}),
    );
    for part in ARGUMENTS {
        events += &event(
            serde_json::json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1",
            "output_index": 1, "delta": part}),
        );
    }
    events += &event(
        serde_json::json!({"type": "response.output_item.done", "output_index": 1, "item": responses_call()}),
    );
    events
        + &event(serde_json::json!({"type": "response.completed", "response": responses_answer()}))
}

/// A Gemini answer's parts: the text, then a function call.
fn gemini_parts() -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({"text": WORDS.concat()}),
        serde_json::json!({"functionCall": {"name": "write_file", "args": {"path": "src/main.rs"}}}),
    ]
}

/// A Gemini answer, or one chunk of a stream (`last` carries the finish reason and the
/// whole usage).
fn gemini_answer(parts: &[serde_json::Value], last: bool) -> serde_json::Value {
    let mut candidate =
        serde_json::json!({"content": {"role": "model", "parts": parts}, "index": 0});
    let usage = if last {
        candidate["finishReason"] = "STOP".into();
        serde_json::json!({"promptTokenCount": 412, "cachedContentTokenCount": 256,
            "candidatesTokenCount": 40, "totalTokenCount": 452})
    } else {
        serde_json::json!({"promptTokenCount": 412, "totalTokenCount": 412})
    };
    serde_json::json!({"candidates": [candidate], "usageMetadata": usage,
        "modelVersion": "agent-model", "responseId": "gemini-1"})
}

fn gemini_events() -> String {
    let mut events = String::new();
    for word in WORDS {
        let chunk = gemini_answer(&[serde_json::json!({ "text": word })], false);
        events += &format!("data: {chunk}\r\n\r\n");
    }
    let call = gemini_answer(&gemini_parts()[1..], true);
    events + &format!("data: {call}\r\n\r\n")
}

fn whole(content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An event stream in one chunk, as a provider's answer arrives when it is short.
fn chunked(events: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{events}\r\n0\r\n\r\n",
        events.len()
    )
    .into_bytes()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A provider on 127.0.0.1 that answers every request with a fixed answer, a thread
/// per connection, from buffers it reuses: nothing allocated per request.
struct FixedProvider {
    addr: SocketAddr,
}

impl FixedProvider {
    fn start() -> io::Result<FixedProvider> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let answers = Arc::new(Answers::new());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answers = answers.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &answers);
                });
            }
        });
        Ok(FixedProvider { addr })
    }
}

fn serve(stream: TcpStream, answers: &Answers) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = MessageReader::new(stream);
    while reader.next()? {
        writer.write_all(answers.to(&reader.head, &reader.body))?;
    }
    Ok(())
}

/// A client on one keep-alive connection, sending one route's request again and again.
struct Client {
    writer: TcpStream,
    reader: MessageReader,
    request: Vec<u8>,
}

impl Client {
    fn connect(gateway: SocketAddr, route: &Route, key: &str) -> Client {
        let stream = TcpStream::connect(gateway).expect("connects to the gateway");
        stream.set_nodelay(true).expect("nodelay");
        // A gateway that stops answering fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .expect("timeout");
        let body = request_body(route.client, route.model, route.stream);
        let auth = match route.client {
            Api::Messages => format!("x-api-key: {key}\r\nanthropic-version: 2023-06-01"),
            Api::Chat | Api::Responses => format!("authorization: Bearer {key}"),
        };
        let request = format!(
            "POST {} HTTP/1.1\r\nhost: {gateway}\r\ncontent-type: application/json\r\n{auth}\r\ncontent-length: {}\r\n\r\n{body}",
            route.client.path(),
            body.len()
        );
        Client {
            writer: stream.try_clone().expect("clone"),
            reader: MessageReader::new(stream),
            request: request.into_bytes(),
        }
    }

    fn exchange(&mut self, route: &Route) {
        let expected = route.client.expected(route.stream);
        self.writer.write_all(&self.request).expect("request sent");
        let answered = self.reader.next().expect("answer read");
        let (head, body) = (&self.reader.head, &self.reader.body);
        if !answered || !head.starts_with(b"HTTP/1.1 200") || !contains(body, expected.as_bytes()) {
            panic!(
                "{}: expected a 200 with {:?}, got:\n{}{}",
                route.name,
                expected,
                String::from_utf8_lossy(head),
                String::from_utf8_lossy(body)
            );
        }
    }
}

/// Reads HTTP/1.1 messages (requests or responses) off a connection into buffers it
/// reuses, the body framed by `content-length` or chunked.
struct MessageReader {
    reader: BufReader<TcpStream>,
    head: Vec<u8>,
    body: Vec<u8>,
    line: Vec<u8>,
}

impl MessageReader {
    fn new(stream: TcpStream) -> MessageReader {
        MessageReader {
            reader: BufReader::new(stream),
            head: Vec::new(),
            body: Vec::new(),
            line: Vec::new(),
        }
    }

    /// The next message; false when the connection closed between messages.
    fn next(&mut self) -> io::Result<bool> {
        self.head.clear();
        self.body.clear();
        loop {
            let start = self.head.len();
            if self.reader.read_until(b'\n', &mut self.head)? == 0 {
                return if self.head.is_empty() {
                    Ok(false)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
            if self.head[start..] == *b"\r\n" {
                break;
            }
        }
        if let Some(length) = header(&self.head, "content-length") {
            let length = number(length, 10)?;
            self.body.resize(length, 0);
            self.reader.read_exact(&mut self.body)?;
        } else if header(&self.head, "transfer-encoding").is_some_and(|v| v == b"chunked") {
            loop {
                self.line.clear();
                self.reader.read_until(b'\n', &mut self.line)?;
                let size_end = self
                    .line
                    .iter()
                    .position(|&b| b == b';' || b == b'\r')
                    .unwrap_or(self.line.len());
                let size = number(&self.line[..size_end], 16)?;
                let start = self.body.len();
                self.body.resize(start + size, 0);
                self.reader.read_exact(&mut self.body[start..])?;
                let mut crlf = [0; 2];
                self.reader.read_exact(&mut crlf)?;
                if size == 0 {
                    break;
                }
            }
        }
        Ok(true)
    }
}

/// A header's value in a message head, its name matched without regard to case.
fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(name.as_bytes())
            .then(|| line[colon + 1..].trim_ascii())
    })
}

fn number(digits: &[u8], radix: u32) -> io::Result<usize> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| usize::from_str_radix(d.trim(), radix).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad number in HTTP framing"))
}
