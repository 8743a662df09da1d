//! OpenAI chat completions ⟷ the pivot: requests, responses and usage.

use super::*;
use serde_json::json;

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

pub fn usage_json(usage: &TokenCounts) -> Value {
    let prompt = usage.total_input();
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": usage.output,
        "total_tokens": prompt + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    })
}

/// The pivot as an OpenAI chat response.
pub fn render_response(response: &Response, model: &str, created: u64) -> Value {
    let text: Vec<Block> = response
        .content
        .iter()
        .filter(|b| matches!(b, Block::Text { .. }))
        .cloned()
        .collect();
    let calls: Vec<Value> = response
        .content
        .iter()
        .filter_map(|b| match b {
            Block::ToolUse { id, name, input, .. } => Some(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()}
            })),
            _ => None,
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(joined_text(&text)) }});
    if let Some(reasoning) = reasoning_text(&response.content) {
        message["reasoning_content"] = json!(reasoning);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    if response.stop == StopReason::Refusal {
        message["refusal"] = message["content"].clone();
    }
    json!({
        "id": response.id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": stop_name(&response.effective_stop())}],
        "usage": usage_json(&response.usage),
    })
}
