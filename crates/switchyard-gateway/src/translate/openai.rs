//! OpenAI chat completions ⟷ the pivot: requests, responses and usage.

use super::*;
use serde::Serialize;
use serde_json::json;
use std::borrow::Cow;

mod answer;
mod render;
mod wire;
pub use answer::parse_response;
pub use render::{render_request, ChatRequest};

use wire::{WireChat, WireContent};

fn parse_parts(content: WireContent) -> Result<Vec<Block>, ApiError> {
    match content {
        WireContent::Text(text) => Ok(vec![Block::Text { text, cache: None }]),
        WireContent::Absent => Ok(vec![]),
        WireContent::Items(parts) => parts
            .into_iter()
            .map(|p| {
                Ok(match p.kind.as_deref().unwrap_or("") {
                    "text" | "input_text" | "output_text" => Block::Text {
                        text: p.text.unwrap_or_default(),
                        cache: p.cache_control,
                    },
                    "image_url" => {
                        let url = p
                            .image_url
                            .as_ref()
                            .and_then(|i| i.get("url").and_then(Value::as_str).or(i.as_str()))
                            .unwrap_or_default();
                        Block::Image {
                            source: MediaSource::from_url(url),
                            cache: p.cache_control,
                        }
                    }
                    "file" => {
                        let data = p
                            .file
                            .as_ref()
                            .and_then(|f| f.get("file_data"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        Block::Document {
                            source: MediaSource::from_url(data),
                            cache: p.cache_control,
                        }
                    }
                    other => {
                        return Err(invalid(format!(
                        "message parts of type '{other}' cannot be translated for this provider"
                    )))
                    }
                })
            })
            .collect(),
        WireContent::Invalid => Err(invalid(
            "message content must be a string or an array of parts",
        )),
    }
}

/// An OpenAI chat request body as the pivot: read straight from its bytes when it has
/// the documented shape, through a `Value` tree otherwise.
pub fn parse_request_body(body: &[u8]) -> Result<Request, ApiError> {
    match WireChat::read(body) {
        Some(wire) => request_from_wire(wire),
        None => {
            let value = crate::json_body::parse_json::<Value>(body).map_err(|e| not_json(&e))?;
            parse_request(&value)
        }
    }
}

/// An OpenAI chat request, already parsed, as the pivot.
pub fn parse_request(body: &Value) -> Result<Request, ApiError> {
    request_from_wire(WireChat::from_value(body))
}

fn request_from_wire(body: WireChat) -> Result<Request, ApiError> {
    let mut request = Request {
        stream: body.stream.unwrap_or(false),
        max_tokens: match body.max_completion_tokens {
            Some(limit) => limit,
            None => body.max_tokens,
        },
        temperature: body.temperature,
        top_p: body.top_p,
        parallel_tool_calls: body.parallel_tool_calls,
        response_format: body.response_format.filter(|v| !v.is_null()),
        user: body.user,
        ..Default::default()
    };
    match body.stop {
        Some(Value::String(s)) => request.stop = vec![s],
        Some(Value::Array(a)) => {
            request.stop = a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        }
        _ => {}
    }
    let effort = body.reasoning_effort.as_ref();
    request.reasoning = match effort.and_then(Value::as_str) {
        Some("none") | Some("minimal") | Some("min") => Some(Reasoning::Effort(Effort::None)),
        Some("low") => Some(Reasoning::Effort(Effort::Low)),
        Some("medium") => Some(Reasoning::Effort(Effort::Medium)),
        Some("high") => Some(Reasoning::Effort(Effort::High)),
        Some("max") | Some("xhigh") => Some(Reasoning::Effort(Effort::Max)),
        _ => effort.and_then(Value::as_u64).map(Reasoning::Budget),
    };
    let mut seen_conversation = false;
    for m in body.messages.into_iter().flatten() {
        let content = parse_parts(m.content)?;
        match m.role.as_deref().unwrap_or("") {
            "system" | "developer" if !seen_conversation => request.system.extend(content),
            "system" | "developer" => request.messages.push(Message {
                role: Role::System,
                content,
            }),
            "user" => {
                seen_conversation = true;
                request.messages.push(Message {
                    role: Role::User,
                    content,
                });
            }
            "assistant" => {
                seen_conversation = true;
                let mut blocks = Vec::new();
                if let Some(reasoning) = m.reasoning_content.filter(|r| !r.is_empty()) {
                    blocks.push(Block::Thinking {
                        text: reasoning,
                        signature: None,
                    });
                }
                blocks.extend(content);
                if let Some(refusal) = m.refusal {
                    blocks.push(Block::Text {
                        text: refusal,
                        cache: None,
                    });
                }
                for call in m.tool_calls.into_iter().flatten() {
                    let function = call.function.unwrap_or_default();
                    let input =
                        RawJson::from_arguments(function.arguments.as_deref().unwrap_or(""));
                    blocks.push(Block::ToolUse {
                        id: call.id.unwrap_or_default(),
                        name: function.name.unwrap_or_default(),
                        input,
                        cache: None,
                    });
                }
                request.messages.push(Message {
                    role: Role::Assistant,
                    content: blocks,
                });
            }
            "tool" | "function" => {
                seen_conversation = true;
                let result = Block::ToolResult {
                    id: m.tool_call_id.unwrap_or_default(),
                    content,
                    is_error: false,
                    cache: None,
                };
                // Results of one turn's calls travel together in one user message.
                match request.messages.last_mut() {
                    Some(last)
                        if last.role == Role::User
                            && last
                                .content
                                .iter()
                                .all(|b| matches!(b, Block::ToolResult { .. })) =>
                    {
                        last.content.push(result)
                    }
                    _ => request.messages.push(Message {
                        role: Role::User,
                        content: vec![result],
                    }),
                }
            }
            other => return Err(invalid(format!("unknown message role '{other}'"))),
        }
    }
    for t in body.tools.into_iter().flatten() {
        if t.kind.as_deref().is_some_and(|ty| ty != "function") {
            continue;
        }
        let (f, cache) = t.into_parts();
        request.tools.push(Tool {
            name: f.name.unwrap_or_default(),
            description: f.description,
            schema: f.parameters.unwrap_or_else(|| {
                RawJson::from_value(&json!({"type": "object", "properties": {}}))
            }),
            cache,
        });
    }
    request.tool_choice = match body.tool_choice {
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => None,
        },
        Some(v @ Value::Object(_)) => v
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|n| ToolChoice::Named(n.to_string())),
        _ => None,
    };
    Ok(request)
}

pub fn parse_stop(reason: Option<&str>) -> StopReason {
    match reason {
        Some("length") => StopReason::MaxTokens,
        Some("tool_calls") | Some("function_call") => StopReason::ToolUse,
        Some("content_filter") => StopReason::ContentFilter,
        _ => StopReason::EndTurn,
    }
}

pub fn stop_name(stop: &StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn | StopReason::StopSequence(_) | StopReason::Refusal => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter => "content_filter",
    }
}

/// A complete OpenAI chat answer, borrowing the pivot's text. Typed rather than built as
/// a `Value`: a tree of a short answer cost more to build (an ordered map per object,
/// its keys hashed) and write than the rest of translating it.
#[derive(Serialize)]
pub struct ChatAnswer<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [AnswerChoice<'a>; 1],
    usage: ChatUsage,
}

#[derive(Serialize)]
struct AnswerChoice<'a> {
    index: u64,
    message: AnswerMessage<'a>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AnswerMessage<'a> {
    role: &'static str,
    /// `null` when the answer has no text (only tool calls).
    content: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<AnswerToolCall<'a>>,
    /// A refused answer repeats its text here (`null` when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<Cow<'a, str>>>,
}

#[derive(Serialize)]
struct AnswerToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: AnswerFunction<'a>,
}

#[derive(Serialize)]
struct AnswerFunction<'a> {
    name: &'a str,
    /// The input as a JSON document in a string, as chat completions carry it.
    arguments: String,
}

/// Usage as chat completions report it, in answers and in a stream's last chunk.
#[derive(Serialize)]
pub struct ChatUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: CachedTokens,
    completion_tokens_details: ReasoningTokens,
}

/// Cached input tokens, as OpenAI's chat and Responses usage both detail them.
#[derive(Serialize)]
pub(crate) struct CachedTokens {
    pub cached_tokens: u64,
}

/// Reasoning output tokens, as OpenAI's chat and Responses usage both detail them.
#[derive(Serialize)]
pub(crate) struct ReasoningTokens {
    pub reasoning_tokens: u64,
}

impl From<&TokenCounts> for ChatUsage {
    fn from(usage: &TokenCounts) -> ChatUsage {
        let prompt = usage.total_input();
        ChatUsage {
            prompt_tokens: prompt,
            completion_tokens: usage.output,
            total_tokens: prompt + usage.output,
            prompt_tokens_details: CachedTokens {
                cached_tokens: usage.cache_read,
            },
            completion_tokens_details: ReasoningTokens {
                reasoning_tokens: usage.reasoning,
            },
        }
    }
}

/// The pivot as an OpenAI chat response.
pub fn render_response<'a>(response: &'a Response, model: &'a str, created: u64) -> ChatAnswer<'a> {
    let has_text = response
        .content
        .iter()
        .any(|b| matches!(b, Block::Text { .. }));
    let content = has_text.then(|| text_content(&response.content));
    let tool_calls = response
        .content
        .iter()
        .filter_map(|b| match b {
            Block::ToolUse {
                id, name, input, ..
            } => Some(AnswerToolCall {
                id,
                kind: "function",
                function: AnswerFunction {
                    name,
                    arguments: input.json().to_string(),
                },
            }),
            _ => None,
        })
        .collect();
    let refusal = (response.stop == StopReason::Refusal).then(|| content.clone());
    ChatAnswer {
        id: &response.id,
        object: "chat.completion",
        created,
        model,
        choices: [AnswerChoice {
            index: 0,
            message: AnswerMessage {
                role: "assistant",
                content,
                reasoning_content: reasoning_text(&response.content),
                tool_calls,
                refusal,
            },
            finish_reason: stop_name(&response.effective_stop()),
        }],
        usage: ChatUsage::from(&response.usage),
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    /// The answer's exact text: field order and `null`s as clients have always had them.
    #[test]
    fn answers_are_written_field_for_field_as_before() {
        let response = Response {
            id: "msg_1".into(),
            model: "claude".into(),
            content: vec![
                Block::Thinking {
                    text: "hmm".into(),
                    signature: Some("s".into()),
                },
                Block::Text {
                    text: "I can't \"help\".".into(),
                    cache: None,
                },
                Block::ToolUse {
                    id: "toolu_1".into(),
                    name: "get_weather".into(),
                    input: json!({"city": "Paris"}).into(),
                    cache: None,
                },
            ],
            stop: StopReason::Refusal,
            usage: TokenCounts {
                input: 10,
                cache_read: 100,
                cache_write_5m: 50,
                cache_write_1h: 0,
                output: 7,
                reasoning: 2,
            },
        };
        let written = serde_json::to_string(&render_response(&response, "ant/claude", 1)).unwrap();
        let expected = concat!(
            r#"{"id":"msg_1","object":"chat.completion","created":1,"model":"ant/claude","#,
            r#""choices":[{"index":0,"message":{"role":"assistant","content":"I can't \"help\".","#,
            r#""reasoning_content":"hmm","tool_calls":[{"id":"toolu_1","type":"function","#,
            r#""function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}],"#,
            r#""refusal":"I can't \"help\"."},"finish_reason":"stop"}],"#,
            r#""usage":{"prompt_tokens":160,"completion_tokens":7,"total_tokens":167,"#,
            r#""prompt_tokens_details":{"cached_tokens":100},"#,
            r#""completion_tokens_details":{"reasoning_tokens":2}}}"#
        );
        assert_eq!(written, expected);

        // Tool calls alone: no text is `null`, and a refusal without text is `null` too.
        let calls_only = Response {
            content: response.content[2..].to_vec(),
            ..response
        };
        let value = serde_json::to_value(render_response(&calls_only, "m", 1)).unwrap();
        let message = &value["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(message.get("refusal"), Some(&Value::Null));
        assert!(message.get("reasoning_content").is_none());
    }
}
