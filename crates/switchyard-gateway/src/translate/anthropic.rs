//! Anthropic messages ⟷ the pivot: requests, responses and usage.

use super::*;
use crate::json_text::write_field;
use crate::translate::lenient::Lenient;
use serde_json::json;

/// `max_tokens` sent when the client gave none and the model's limit is unknown.
pub const DEFAULT_MAX_TOKENS: u64 = 8192;
/// Added to the system prompt for OpenAI's `response_format: json_object`.
pub const JSON_OBJECT_INSTRUCTION: &str =
    "Respond with a single valid JSON object and nothing else: no prose, no code fences.";
/// Anthropic's smallest thinking budget.
pub const MIN_THINKING_BUDGET: u64 = 1024;

mod render;
mod request_out;
mod wire;

pub use render::{render_response, Answer};
pub use request_out::RequestOut;

use request_out::{
    ContentOut, MessageOut, Metadata, OutputConfig, RequestOptions, SchemaFormat, ThinkingOut,
    ToolChoiceOut, ToolOut,
};

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
        WireContent::Items(items) => items.into_iter().map(parse_block).collect(),
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
            input: b.input.unwrap_or_else(RawJson::empty_object),
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
            schema: t
                .input_schema
                .unwrap_or_else(|| RawJson::from_value(&json!({"type": "object"}))),
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

/// The pivot as an Anthropic messages request for `model`.
pub fn render_request<'a>(
    request: &'a Request,
    model: &'a str,
    target: &'a Target,
) -> RequestOut<'a> {
    let block = |b: &'a Block| render::block(b, target).map(ContentOut::Block);
    let mut system: Vec<ContentOut<'a>> = request.system.iter().filter_map(block).collect();
    let mut messages: Vec<(Role, Vec<ContentOut<'a>>)> = Vec::new();
    // Tool calls still waiting for a result, to repair conversations Anthropic would refuse.
    let mut open_calls: Vec<&'a str> = Vec::new();
    for m in &request.messages {
        match m.role {
            Role::System => {
                // Anthropic has no mid-conversation system messages: they join the system prompt.
                system.extend(m.content.iter().filter_map(block));
            }
            Role::Assistant => {
                let blocks = m.content.iter().filter_map(block).collect();
                open_calls = m
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        Block::ToolUse { id, .. } => Some(id.as_str()),
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
                        Block::ToolResult { id, content, .. }
                            if !open_calls.contains(&id.as_str()) =>
                        {
                            // A result whose call is missing: keep what it says, as text.
                            let text = joined_text(content);
                            others.push(ContentOut::text(format!(
                                "[result of tool call {id}]\n{text}"
                            )));
                        }
                        Block::ToolResult { id, .. } => {
                            open_calls.retain(|c| c != id);
                            results.extend(block(b));
                        }
                        _ => others.extend(block(b)),
                    }
                }
                // Every tool call needs a result in the next user turn.
                results.extend(open_calls.drain(..).map(ContentOut::missing_result));
                results.extend(others);
                push_merged(&mut messages, Role::User, results);
            }
        }
    }
    if !open_calls.is_empty() {
        let results = open_calls
            .drain(..)
            .map(ContentOut::missing_result)
            .collect();
        push_merged(&mut messages, Role::User, results);
    }
    if messages.first().is_some_and(|(r, _)| *r == Role::Assistant) {
        messages.insert(
            0,
            (
                Role::User,
                vec![ContentOut::text("(conversation continues)")],
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
    let thinking_budget = match request.reasoning {
        Some(Reasoning::Budget(b)) if b > 0 => Some(b),
        Some(Reasoning::Effort(e)) => effort_budget(e, max_output),
        _ => None,
    };
    let (mut thinking, mut temperature, mut top_p) = (None, None, None);
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
        thinking = Some(ThinkingOut {
            kind: "enabled",
            budget_tokens: budget,
        });
    } else {
        // Sampling settings are not allowed together with thinking.
        temperature = request.temperature.map(|t| t.min(1.0));
        top_p = request.top_p;
    }
    let tools: Vec<ToolOut<'a>> = request
        .tools
        .iter()
        .map(|t| ToolOut {
            name: &t.name,
            input_schema: &t.schema,
            description: t.description.as_deref(),
            cache_control: t.cache.as_ref().filter(|_| target.keeps_cache_control),
        })
        .collect();
    let tool_choice = (!tools.is_empty())
        .then(|| {
            let (kind, name) = match &request.tool_choice {
                Some(ToolChoice::Auto) => ("auto", None),
                Some(ToolChoice::Required) => ("any", None),
                Some(ToolChoice::None) => ("none", None),
                Some(ToolChoice::Named(n)) => ("tool", Some(n.as_str())),
                None => ("auto", None),
            };
            let disable_parallel_tool_use = request.parallel_tool_calls == Some(false);
            (request.tool_choice.is_some() || disable_parallel_tool_use).then_some(ToolChoiceOut {
                kind,
                name,
                disable_parallel_tool_use,
            })
        })
        .flatten();
    // Structured output: a JSON schema becomes Anthropic's `output_config.format`;
    // Anthropic has no schema-free JSON mode, so `json_object` becomes an instruction.
    let mut output_config = None;
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
                .map_or_else(|| Cow::Owned(json!({"type": "object"})), Cow::Borrowed);
            output_config = Some(OutputConfig {
                format: SchemaFormat {
                    kind: "json_schema",
                    schema,
                },
            });
        }
        Some("json_object") => system.push(ContentOut::text(JSON_OBJECT_INSTRUCTION)),
        _ => {}
    }
    RequestOut {
        model,
        messages: messages
            .into_iter()
            .map(|(role, content)| MessageOut {
                role: if role == Role::User {
                    "user"
                } else {
                    "assistant"
                },
                content,
            })
            .collect(),
        system,
        options: RequestOptions {
            thinking,
            temperature,
            top_p,
            max_tokens,
            stop_sequences: &request.stop,
            stream: request.stream,
            tools,
            tool_choice,
            output_config,
            metadata: request.user.as_deref().map(|user_id| Metadata { user_id }),
        },
    }
}

/// Anthropic wants alternating roles: consecutive turns of one role are merged.
fn push_merged<'a>(
    messages: &mut Vec<(Role, Vec<ContentOut<'a>>)>,
    role: Role,
    blocks: Vec<ContentOut<'a>>,
) {
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
