//! OpenAI chat completions ⟷ the pivot: requests, responses and usage.

use super::*;
use serde::Serialize;
use serde_json::json;
use std::borrow::Cow;

mod answer;
mod render;
pub use answer::parse_response;
pub use render::{render_request, ChatRequest};

/// One entry of an assistant message's `tool_calls`, fields missing as empty.
struct ToolCall<'a> {
    id: &'a str,
    name: &'a str,
    arguments: &'a str,
}

fn tool_calls(message: &Value) -> impl Iterator<Item = ToolCall<'_>> {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|call| {
            let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str).unwrap_or("");
            ToolCall {
                id: text("/id"),
                name: text("/function/name"),
                arguments: text("/function/arguments"),
            }
        })
}

fn parse_parts(content: &Value) -> Result<Vec<Block>, ApiError> {
    match content {
        Value::String(text) => Ok(vec![Block::Text {
            text: text.clone(),
            cache: None,
        }]),
        Value::Null => Ok(vec![]),
        Value::Array(parts) => parts
            .iter()
            .map(|p| {
                Ok(match str_field(p, "type").unwrap_or("") {
                    "text" | "input_text" | "output_text" => Block::Text {
                        text: str_field(p, "text").unwrap_or_default().to_string(),
                        cache: p.get("cache_control").cloned(),
                    },
                    "image_url" => {
                        let url = p
                            .get("image_url")
                            .and_then(|i| i.get("url").and_then(Value::as_str).or(i.as_str()))
                            .unwrap_or_default();
                        Block::Image {
                            source: MediaSource::from_url(url),
                            cache: p.get("cache_control").cloned(),
                        }
                    }
                    "file" => {
                        let data = p
                            .pointer("/file/file_data")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        Block::Document {
                            source: MediaSource::from_url(data),
                            cache: p.get("cache_control").cloned(),
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
        _ => Err(invalid(
            "message content must be a string or an array of parts",
        )),
    }
}

/// An OpenAI chat request as the pivot.
pub fn parse_request(body: &Value) -> Result<Request, ApiError> {
    let mut request = Request {
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_tokens: body
            .get("max_completion_tokens")
            .or_else(|| body.get("max_tokens"))
            .and_then(Value::as_u64),
        temperature: body.get("temperature").and_then(Value::as_f64),
        top_p: body.get("top_p").and_then(Value::as_f64),
        parallel_tool_calls: body.get("parallel_tool_calls").and_then(Value::as_bool),
        response_format: body
            .get("response_format")
            .cloned()
            .filter(|v| !v.is_null()),
        user: str_field(body, "user").map(str::to_string),
        ..Default::default()
    };
    match body.get("stop") {
        Some(Value::String(s)) => request.stop = vec![s.clone()],
        Some(Value::Array(a)) => {
            request.stop = a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        }
        _ => {}
    }
    request.reasoning = match str_field(body, "reasoning_effort") {
        Some("none") | Some("minimal") | Some("min") => Some(Reasoning::Effort(Effort::None)),
        Some("low") => Some(Reasoning::Effort(Effort::Low)),
        Some("medium") => Some(Reasoning::Effort(Effort::Medium)),
        Some("high") => Some(Reasoning::Effort(Effort::High)),
        Some("max") | Some("xhigh") => Some(Reasoning::Effort(Effort::Max)),
        _ => body
            .get("reasoning_effort")
            .and_then(Value::as_u64)
            .map(Reasoning::Budget),
    };
    let mut seen_conversation = false;
    for m in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = str_field(m, "role").unwrap_or("");
        let content = parse_parts(m.get("content").unwrap_or(&Value::Null))?;
        match role {
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
                if let Some(reasoning) = str_field(m, "reasoning_content").filter(|r| !r.is_empty())
                {
                    blocks.push(Block::Thinking {
                        text: reasoning.to_string(),
                        signature: None,
                    });
                }
                blocks.extend(content);
                if let Some(refusal) = str_field(m, "refusal") {
                    blocks.push(Block::Text {
                        text: refusal.to_string(),
                        cache: None,
                    });
                }
                for call in tool_calls(m) {
                    let input = if call.arguments.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(call.arguments)
                            .unwrap_or_else(|_| json!({"arguments": call.arguments}))
                    };
                    blocks.push(Block::ToolUse {
                        id: call.id.to_string(),
                        name: call.name.to_string(),
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
                    id: str_field(m, "tool_call_id").unwrap_or_default().to_string(),
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
    for t in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if str_field(t, "type").is_some_and(|ty| ty != "function") {
            continue;
        }
        let f = t.get("function").unwrap_or(t);
        request.tools.push(Tool {
            name: str_field(f, "name").unwrap_or_default().to_string(),
            description: str_field(f, "description").map(str::to_string),
            schema: f
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            cache: t.get("cache_control").cloned(),
        });
    }
    request.tool_choice = match body.get("tool_choice") {
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

#[derive(Serialize)]
struct CachedTokens {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct ReasoningTokens {
    reasoning_tokens: u64,
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
                    arguments: input.to_string(),
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
                    input: json!({"city": "Paris"}),
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
