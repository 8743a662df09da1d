//! Anthropic messages ⟷ the pivot: requests, responses and usage.

use super::*;
use crate::json_text::write_field;
use crate::translate::lenient::Lenient;
use serde_json::{json, Map};

/// `max_tokens` sent when the client gave none and the model's limit is unknown.
pub const DEFAULT_MAX_TOKENS: u64 = 8192;
/// Added to the system prompt for OpenAI's `response_format: json_object`.
pub const JSON_OBJECT_INSTRUCTION: &str =
    "Respond with a single valid JSON object and nothing else: no prose, no code fences.";
/// Anthropic's smallest thinking budget.
pub const MIN_THINKING_BUDGET: u64 = 1024;

mod render;
mod wire;

pub use render::{render_response, Answer};

use serde::Deserialize;
use wire::{WireBlock, WireContent, WireRequest, WireSource};

fn parse_source(kind: &str, source: WireSource) -> Result<MediaSource, ApiError> {
    match source.kind.0.as_deref() {
        Some("base64") => Ok(MediaSource::Base64 {
            media_type: source
                .media_type
                .0
                .unwrap_or_else(|| "application/octet-stream".to_string()),
            data: source.data.0.unwrap_or_default(),
        }),
        Some("url") => Ok(MediaSource::Url(source.url.0.unwrap_or_default())),
        other => Err(invalid(format!(
            "unsupported {kind} source type {:?} for translation",
            other.unwrap_or("none")
        ))),
    }
}

fn parse_blocks(content: WireContent) -> Result<Vec<Block>, ApiError> {
    match content {
        WireContent::Text(text) => Ok(vec![Block::Text { text, cache: None }]),
        WireContent::Blocks(items) => items.into_iter().map(parse_block).collect(),
        WireContent::Absent => Ok(vec![]),
        WireContent::Invalid => Err(invalid(
            "message content must be a string or an array of blocks",
        )),
    }
}

fn parse_block(b: WireBlock) -> Result<Block, ApiError> {
    let cache = b.cache_control;
    Ok(match b.kind.0.as_deref().unwrap_or("") {
        "text" => Block::Text {
            text: b.text.0.unwrap_or_default(),
            cache,
        },
        "image" => Block::Image {
            source: parse_source("image", b.source)?,
            cache,
        },
        "document" => Block::Document {
            source: parse_source("document", b.source)?,
            cache,
        },
        "tool_use" => Block::ToolUse {
            id: b.id.0.unwrap_or_default(),
            name: b.name.0.unwrap_or_default(),
            input: b.input.unwrap_or_else(|| json!({})),
            cache,
        },
        "tool_result" => Block::ToolResult {
            id: b.tool_use_id.0.unwrap_or_default(),
            content: parse_blocks(b.content)?,
            is_error: b.is_error.0.unwrap_or(false),
            cache,
        },
        "thinking" => Block::Thinking {
            text: b.thinking.0.unwrap_or_default(),
            signature: b.signature.0,
        },
        "redacted_thinking" => Block::RedactedThinking {
            data: b.data.0.unwrap_or_default(),
        },
        other => {
            return Err(invalid(format!(
                "content blocks of type '{other}' cannot be translated for this provider"
            )))
        }
    })
}

/// An Anthropic messages request body as the pivot, read straight from its bytes.
pub fn parse_request_body(body: &[u8]) -> Result<Request, ApiError> {
    let wire: WireRequest = crate::json_body::parse_json(body).map_err(unreadable_request)?;
    from_wire(wire)
}

/// An Anthropic messages request as the pivot.
pub fn parse_request(body: Value) -> Result<Request, ApiError> {
    let wire = WireRequest::deserialize(body).map_err(unreadable_request)?;
    from_wire(wire)
}

/// A body that is not JSON, or JSON that is not a messages request.
fn unreadable_request(e: serde_json::Error) -> ApiError {
    if e.is_data() {
        invalid(format!(
            "the request does not follow the Anthropic messages format: {e}"
        ))
    } else {
        not_json(&e)
    }
}

fn from_wire(wire: WireRequest) -> Result<Request, ApiError> {
    let mut request = Request {
        system: parse_blocks(wire.system)?,
        stream: wire.stream.0.unwrap_or(false),
        max_tokens: wire.max_tokens.0,
        temperature: wire.temperature.0,
        top_p: wire.top_p.0,
        user: wire
            .metadata
            .and_then(|mut m| m.get_mut("user_id").map(Value::take))
            .and_then(|id| match id {
                Value::String(s) => Some(s),
                _ => None,
            }),
        ..Default::default()
    };
    if let Some(Value::Array(stops)) = wire.stop_sequences {
        request.stop = stops
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect();
    }
    request.messages.reserve(wire.messages.len());
    for m in wire.messages {
        let role = match m.role.0.as_deref() {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some("system") => Role::System,
            other => {
                return Err(invalid(format!(
                    "unknown message role {:?}",
                    other.unwrap_or("none")
                )))
            }
        };
        request.messages.push(Message {
            role,
            content: parse_blocks(m.content)?,
        });
    }
    for t in wire.tools {
        // Server tools (web search, code execution, ...) only exist at Anthropic.
        if t.kind.0.as_deref().is_some_and(|ty| ty != "custom") {
            continue;
        }
        request.tools.push(Tool {
            name: t.name.0.unwrap_or_default(),
            description: t.description.0,
            schema: t.input_schema.unwrap_or_else(|| json!({"type": "object"})),
            cache: t.cache_control,
        });
    }
    if let Some(choice) = &wire.tool_choice {
        request.tool_choice = match str_field(choice, "type") {
            Some("auto") => Some(ToolChoice::Auto),
            Some("any") => Some(ToolChoice::Required),
            Some("none") => Some(ToolChoice::None),
            Some("tool") => Some(ToolChoice::Named(
                str_field(choice, "name").unwrap_or_default().to_string(),
            )),
            _ => None,
        };
        if let Some(disable) = choice
            .get("disable_parallel_tool_use")
            .and_then(Value::as_bool)
        {
            request.parallel_tool_calls = Some(!disable);
        }
    }
    if let Some(schema) = wire
        .output_config
        .and_then(|mut c| c.pointer_mut("/format/schema").map(Value::take))
    {
        request.response_format = Some(json!({"type": "json_schema",
            "json_schema": {"name": "response", "schema": schema, "strict": true}}));
    }
    if let Some(thinking) = &wire.thinking {
        match str_field(thinking, "type") {
            Some("enabled") => {
                let budget = thinking
                    .get("budget_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(MIN_THINKING_BUDGET);
                request.reasoning = Some(Reasoning::Budget(budget));
            }
            Some("disabled") => request.reasoning = Some(Reasoning::Effort(Effort::None)),
            _ => {}
        }
    }
    Ok(request)
}

fn with_cache(mut v: Value, cache: &CacheControl, target: &Target) -> Value {
    if let (Some(c), true) = (cache, target.keeps_cache_control) {
        v["cache_control"] = c.clone();
    }
    v
}

/// A pivot block as a JSON value, for the request being assembled around it.
fn render_block(b: &Block, target: &Target) -> Option<Value> {
    render::block(b, target).and_then(|b| serde_json::to_value(b).ok())
}

/// The pivot as an Anthropic messages request for `model`.
pub fn render_request(request: &Request, model: &str, target: &Target) -> Value {
    let mut system: Vec<Value> = request
        .system
        .iter()
        .filter_map(|b| render_block(b, target))
        .collect();
    let mut messages: Vec<(Role, Vec<Value>)> = Vec::new();
    // Tool calls still waiting for a result, to repair conversations Anthropic would refuse.
    let mut open_calls: Vec<String> = Vec::new();
    for m in &request.messages {
        match m.role {
            Role::System => {
                // Anthropic has no mid-conversation system messages: they join the system prompt.
                system.extend(m.content.iter().filter_map(|b| render_block(b, target)));
            }
            Role::Assistant => {
                let blocks: Vec<Value> = m
                    .content
                    .iter()
                    .filter_map(|b| render_block(b, target))
                    .collect();
                open_calls = m
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        Block::ToolUse { id, .. } => Some(id.clone()),
                        _ => None,
                    })
                    .collect();
                push_merged(&mut messages, Role::Assistant, blocks);
            }
            Role::User => {
                let mut results = Vec::new();
                let mut others = Vec::new();
                for b in &m.content {
                    match b {
                        Block::ToolResult { id, content, .. } if !open_calls.contains(id) => {
                            // A result whose call is missing: keep what it says, as text.
                            let text = joined_text(content);
                            others.push(json!({"type": "text", "text": format!("[result of tool call {id}]\n{text}")}));
                        }
                        Block::ToolResult { id, .. } => {
                            open_calls.retain(|c| c != id);
                            results.extend(render_block(b, target));
                        }
                        _ => others.extend(render_block(b, target)),
                    }
                }
                // Every tool call needs a result in the next user turn.
                for id in open_calls.drain(..) {
                    results.push(json!({"type": "tool_result", "tool_use_id": id, "content": "(no result)", "is_error": true}));
                }
                results.extend(others);
                push_merged(&mut messages, Role::User, results);
            }
        }
    }
    if !open_calls.is_empty() {
        let results = open_calls
            .drain(..)
            .map(|id| json!({"type": "tool_result", "tool_use_id": id, "content": "(no result)", "is_error": true}))
            .collect();
        push_merged(&mut messages, Role::User, results);
    }
    if messages.first().is_some_and(|(r, _)| *r == Role::Assistant) {
        messages.insert(
            0,
            (
                Role::User,
                vec![json!({"type": "text", "text": "(conversation continues)"})],
            ),
        );
    }

    let max_output = target.max_output_tokens;
    let mut max_tokens = request
        .max_tokens
        .unwrap_or(max_output.unwrap_or(DEFAULT_MAX_TOKENS));
    if let Some(limit) = max_output {
        max_tokens = max_tokens.min(limit);
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert(
        "messages".into(),
        Value::Array(
            messages
                .into_iter()
                .map(|(role, content)| json!({"role": if role == Role::User {"user"} else {"assistant"}, "content": content}))
                .collect(),
        ),
    );
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let thinking_budget = match request.reasoning {
        Some(Reasoning::Budget(b)) if b > 0 => Some(b),
        Some(Reasoning::Effort(e)) => effort_budget(e, max_output),
        _ => None,
    };
    if let Some(budget) = thinking_budget {
        // The budget must be at least 1024 and below max_tokens.
        let budget = budget.max(MIN_THINKING_BUDGET);
        if max_tokens <= budget {
            max_tokens = match max_output {
                Some(limit) => (budget + 1).min(limit),
                None => budget + DEFAULT_MAX_TOKENS,
            };
        }
        let budget = budget
            .min(max_tokens.saturating_sub(1))
            .max(MIN_THINKING_BUDGET);
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    } else {
        // Sampling settings are not allowed together with thinking.
        if let Some(t) = request.temperature {
            body.insert("temperature".into(), json!(t.min(1.0)));
        }
        if let Some(p) = request.top_p {
            body.insert("top_p".into(), json!(p));
        }
    }
    body.insert("max_tokens".into(), json!(max_tokens));
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                let mut v = json!({"name": t.name, "input_schema": t.schema});
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                with_cache(v, &t.cache, target)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let mut choice = match &request.tool_choice {
        Some(ToolChoice::Auto) => Some(json!({"type": "auto"})),
        Some(ToolChoice::Required) => Some(json!({"type": "any"})),
        Some(ToolChoice::None) => Some(json!({"type": "none"})),
        Some(ToolChoice::Named(n)) => Some(json!({"type": "tool", "name": n})),
        None => None,
    };
    if request.parallel_tool_calls == Some(false) && !request.tools.is_empty() {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        c["disable_parallel_tool_use"] = json!(true);
    }
    if let Some(c) = choice.filter(|_| !request.tools.is_empty()) {
        body.insert("tool_choice".into(), c);
    }
    // Structured output: a JSON schema becomes Anthropic's `output_config.format`;
    // Anthropic has no schema-free JSON mode, so `json_object` becomes an instruction.
    match request
        .response_format
        .as_ref()
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
    {
        Some("json_schema") => {
            let schema = request
                .response_format
                .as_ref()
                .and_then(|f| f.pointer("/json_schema/schema"))
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"}));
            body.insert(
                "output_config".into(),
                json!({"format": {"type": "json_schema", "schema": schema}}),
            );
        }
        Some("json_object") => {
            let system = body.entry("system").or_insert_with(|| json!([]));
            if let Some(blocks) = system.as_array_mut() {
                blocks.push(json!({"type": "text", "text": JSON_OBJECT_INSTRUCTION}));
            }
        }
        _ => {}
    }
    if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    Value::Object(body)
}

/// Anthropic wants alternating roles: consecutive turns of one role are merged.
fn push_merged(messages: &mut Vec<(Role, Vec<Value>)>, role: Role, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some((last, content)) if *last == role => content.extend(blocks),
        _ => messages.push((role, blocks)),
    }
}

pub fn parse_stop(reason: Option<&str>, sequence: Option<&str>) -> StopReason {
    match reason {
        Some("max_tokens") => StopReason::MaxTokens,
        Some("tool_use") => StopReason::ToolUse,
        Some("stop_sequence") => StopReason::StopSequence(sequence.map(str::to_string)),
        Some("refusal") => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

pub fn stop_name(stop: &StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::StopSequence(_) => "stop_sequence",
        StopReason::Refusal | StopReason::ContentFilter => "refusal",
    }
}

/// An Anthropic response as the pivot.
pub fn parse_response(mut body: Value) -> Result<Response, ApiError> {
    let content = WireContent::deserialize(take(&mut body, "content"))
        .map_err(|e| invalid(format!("the provider's answer has unreadable content: {e}")))?;
    let body = &body;
    let usage = body
        .get("usage")
        .and_then(|u| <crate::usage::AnthropicUsage as serde::Deserialize>::deserialize(u).ok())
        .map(|u| u.to_counts())
        .unwrap_or_default();
    answer_pivot(
        str_field(body, "id"),
        str_field(body, "model"),
        content,
        parse_stop(
            str_field(body, "stop_reason"),
            str_field(body, "stop_sequence"),
        ),
        usage,
    )
}

/// An Anthropic answer as it arrives, read straight from its bytes.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireAnswer<'a> {
    id: Lenient<String>,
    model: Lenient<String>,
    content: WireContent,
    stop_reason: Lenient<String>,
    stop_sequence: Lenient<String>,
    /// Read on its own, so that a malformed usage costs the usage, not the answer.
    #[serde(borrow)]
    usage: Option<&'a serde_json::value::RawValue>,
}

/// An Anthropic answer's bytes as the pivot, read into typed fields rather than a
/// `Value` tree first (which cost more than the rest of translating a short answer).
/// `None` when the answer is not an object of the documented shape: [`parse_response`]
/// then reads it, and words what is wrong with it.
pub fn parse_response_bytes(body: &[u8]) -> Option<Result<Response, ApiError>> {
    // Only objects: derived structs would also read a JSON array, field by field.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let answer: WireAnswer = crate::json_body::parse_json(body).ok()?;
    let usage = answer
        .usage
        .and_then(|u| crate::usage::read_usage::<crate::usage::AnthropicUsage>(u.get().as_bytes()))
        .map(|u| u.to_counts())
        .unwrap_or_default();
    Some(answer_pivot(
        answer.id.0.as_deref(),
        answer.model.0.as_deref(),
        answer.content,
        parse_stop(
            answer.stop_reason.0.as_deref(),
            answer.stop_sequence.0.as_deref(),
        ),
        usage,
    ))
}

fn answer_pivot(
    id: Option<&str>,
    model: Option<&str>,
    content: WireContent,
    stop: StopReason,
    usage: TokenCounts,
) -> Result<Response, ApiError> {
    Ok(Response {
        id: id.unwrap_or("msg").to_string(),
        model: model.unwrap_or_default().to_string(),
        content: parse_blocks(content)?,
        stop,
        usage,
    })
}

/// Anthropic's usage object, as its streams and answers carry it.
///
/// Written by hand as well (`Usage::write_json`): a field added here goes there too; the
/// tests that compare the two catch one that is missed only if they set it.
#[derive(serde::Serialize)]
pub struct Usage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

/// Appends the opening of a message object, `{"id":…,"type":…,"role":…,"model":…`, as
/// serializing a complete answer or a stream's `message_start` writes it.
pub fn write_message_head(out: &mut Vec<u8>, id: &str, kind: &str, role: &str, model: &str) {
    write_field(out, b"{\"id\":", id);
    write_field(out, b",\"type\":", kind);
    write_field(out, b",\"role\":", role);
    write_field(out, b",\"model\":", model);
}

impl Usage {
    /// Appends the usage object as serializing it writes it: streams write one in
    /// their first and last events.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut number = itoa::Buffer::new();
        out.extend_from_slice(b"{\"input_tokens\":");
        out.extend_from_slice(number.format(self.input_tokens).as_bytes());
        out.extend_from_slice(b",\"cache_creation_input_tokens\":");
        out.extend_from_slice(number.format(self.cache_creation_input_tokens).as_bytes());
        out.extend_from_slice(b",\"cache_read_input_tokens\":");
        out.extend_from_slice(number.format(self.cache_read_input_tokens).as_bytes());
        out.extend_from_slice(b",\"output_tokens\":");
        out.extend_from_slice(number.format(self.output_tokens).as_bytes());
        out.push(b'}');
    }
}

impl From<&TokenCounts> for Usage {
    fn from(usage: &TokenCounts) -> Usage {
        Usage {
            input_tokens: usage.input,
            cache_creation_input_tokens: usage.cache_write_5m + usage.cache_write_1h,
            cache_read_input_tokens: usage.cache_read,
            output_tokens: usage.output,
        }
    }
}
