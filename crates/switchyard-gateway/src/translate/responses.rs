//! OpenAI Responses (a client format) ⟷ the pivot: requests in, answers and stream
//! events out. The gateway keeps no conversation state, so `previous_response_id` only
//! works where the request passes through to OpenAI itself.

use super::stream::{Emitter, Event};
use super::*;
use bytes::Bytes;
use serde_json::{json, Map};
use std::collections::VecDeque;

fn parse_content(content: &Value) -> Result<Vec<Block>, ApiError> {
    match content {
        Value::String(text) => Ok(vec![Block::Text {
            text: text.clone(),
            cache: None,
        }]),
        Value::Null => Ok(vec![]),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| {
                let block = match str_field(p, "type").unwrap_or("") {
                    "input_text" | "output_text" | "text" | "summary_text" => Block::Text {
                        text: str_field(p, "text").unwrap_or_default().to_string(),
                        cache: None,
                    },
                    "refusal" => Block::Text {
                        text: str_field(p, "refusal").unwrap_or_default().to_string(),
                        cache: None,
                    },
                    "input_image" => match str_field(p, "image_url") {
                        Some(url) => Block::Image {
                            source: MediaSource::from_url(url),
                            cache: None,
                        },
                        None => return Some(Err(invalid(
                            "input_image parts need an image_url (file ids cannot be translated)",
                        ))),
                    },
                    "input_file" => {
                        match str_field(p, "file_data") {
                            Some(data) => Block::Document {
                                source: MediaSource::from_url(data),
                                cache: None,
                            },
                            None => return Some(Err(invalid(
                                "input_file parts need file_data (file ids cannot be translated)",
                            ))),
                        }
                    }
                    _ => return None,
                };
                Some(Ok(block))
            })
            .collect(),
        _ => Err(invalid("content must be a string or an array of parts")),
    }
}

/// Appends blocks to the last message if it has `role`, else starts a new one.
fn push(messages: &mut Vec<Message>, role: Role, blocks: Vec<Block>) {
    match messages.last_mut() {
        Some(last) if last.role == role && role != Role::System => last.content.extend(blocks),
        _ => messages.push(Message {
            role,
            content: blocks,
        }),
    }
}

/// A Responses request as the pivot.
pub fn parse_request(body: &Value) -> Result<Request, ApiError> {
    if body
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        return Err(invalid(
            "previous_response_id needs the provider to keep the conversation, which only OpenAI \
             does; send the whole conversation in `input` (or use an OpenAI model)",
        )
        .with_code("previous_response_unsupported"));
    }
    let mut request = Request {
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_tokens: body.get("max_output_tokens").and_then(Value::as_u64),
        temperature: body.get("temperature").and_then(Value::as_f64),
        top_p: body.get("top_p").and_then(Value::as_f64),
        parallel_tool_calls: body.get("parallel_tool_calls").and_then(Value::as_bool),
        user: str_field(body, "user").map(str::to_string),
        ..Default::default()
    };
    if let Some(instructions) = str_field(body, "instructions").filter(|i| !i.is_empty()) {
        request.system.push(Block::Text {
            text: instructions.to_string(),
            cache: None,
        });
    }
    request.reasoning = match body.pointer("/reasoning/effort").and_then(Value::as_str) {
        Some("none") | Some("minimal") => Some(Reasoning::Effort(Effort::None)),
        Some("low") => Some(Reasoning::Effort(Effort::Low)),
        Some("medium") => Some(Reasoning::Effort(Effort::Medium)),
        Some("high") => Some(Reasoning::Effort(Effort::High)),
        Some("xhigh") | Some("max") => Some(Reasoning::Effort(Effort::Max)),
        _ => None,
    };
    if let Some(format) = body.pointer("/text/format") {
        request.response_format = match str_field(format, "type") {
            Some("json_schema") => Some(json!({"type": "json_schema", "json_schema": {
                "name": str_field(format, "name").unwrap_or("response"),
                "schema": format.get("schema").cloned().unwrap_or(json!({})),
                "strict": format.get("strict").cloned().unwrap_or(Value::Bool(false)),
            }})),
            Some("json_object") => Some(json!({"type": "json_object"})),
            _ => None,
        };
    }
    let mut messages = Vec::new();
    match body.get("input") {
        Some(Value::String(text)) => push(
            &mut messages,
            Role::User,
            vec![Block::Text {
                text: text.clone(),
                cache: None,
            }],
        ),
        Some(Value::Array(items)) => {
            for item in items {
                let kind = str_field(item, "type").unwrap_or("message");
                match kind {
                    "message" => {
                        let blocks = parse_content(item.get("content").unwrap_or(&Value::Null))?;
                        let role = match str_field(item, "role") {
                            Some("assistant") => Role::Assistant,
                            Some("system") | Some("developer") => {
                                if messages.is_empty() {
                                    request.system.extend(blocks);
                                    continue;
                                }
                                Role::System
                            }
                            _ => Role::User,
                        };
                        push(&mut messages, role, blocks);
                    }
                    "function_call" => {
                        let arguments = str_field(item, "arguments").unwrap_or("");
                        let input = if arguments.trim().is_empty() {
                            json!({})
                        } else {
                            serde_json::from_str(arguments)
                                .unwrap_or_else(|_| json!({"arguments": arguments}))
                        };
                        push(
                            &mut messages,
                            Role::Assistant,
                            vec![Block::ToolUse {
                                id: str_field(item, "call_id").unwrap_or_default().to_string(),
                                name: str_field(item, "name").unwrap_or_default().to_string(),
                                input,
                                cache: None,
                            }],
                        );
                    }
                    "function_call_output" => {
                        let content = match item.get("output") {
                            Some(Value::String(s)) => vec![Block::Text {
                                text: s.clone(),
                                cache: None,
                            }],
                            Some(other) => parse_content(other)?,
                            None => vec![],
                        };
                        push(
                            &mut messages,
                            Role::User,
                            vec![Block::ToolResult {
                                id: str_field(item, "call_id").unwrap_or_default().to_string(),
                                content,
                                is_error: false,
                                cache: None,
                            }],
                        );
                    }
                    "reasoning" => {
                        let text: Vec<&str> = item
                            .get("summary")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|s| str_field(s, "text"))
                            .collect();
                        if !text.is_empty() {
                            push(
                                &mut messages,
                                Role::Assistant,
                                vec![Block::Thinking {
                                    text: text.join("\n"),
                                    signature: None,
                                }],
                            );
                        }
                    }
                    // Built-in tool calls (web search, shell, ...) exist only at OpenAI.
                    _ => {}
                }
            }
        }
        _ => {}
    }
    request.messages = messages;
    for t in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if str_field(t, "type") != Some("function") {
            continue; // built-in tools only OpenAI runs
        }
        request.tools.push(Tool {
            name: str_field(t, "name").unwrap_or_default().to_string(),
            description: str_field(t, "description").map(str::to_string),
            schema: t
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            cache: None,
        });
    }
    request.tool_choice = match body.get("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => None,
        },
        Some(v @ Value::Object(_)) => {
            str_field(v, "name").map(|n| ToolChoice::Named(n.to_string()))
        }
        _ => None,
    };
    Ok(request)
}

pub fn usage_json(usage: &TokenCounts) -> Value {
    let input = usage.total_input();
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": input + usage.output,
    })
}

fn response_shell(id: &str, model: &str, created: u64, status: &str) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("id".into(), json!(id));
    r.insert("object".into(), json!("response"));
    r.insert("created_at".into(), json!(created));
    r.insert("status".into(), json!(status));
    r.insert("model".into(), json!(model));
    r.insert("output".into(), json!([]));
    r.insert("error".into(), Value::Null);
    r.insert("incomplete_details".into(), Value::Null);
    r.insert("parallel_tool_calls".into(), json!(true));
    r.insert("tool_choice".into(), json!("auto"));
    r.insert("tools".into(), json!([]));
    r
}

fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.to_string()
    } else {
        format!(
            "resp_{}",
            id.trim_start_matches("msg_")
                .trim_start_matches("chatcmpl-")
        )
    }
}

/// The pivot as a Responses answer.
pub fn render_response(response: &Response, model: &str, created: u64) -> Value {
    let mut output = Vec::new();
    if let Some(reasoning) = reasoning_text(&response.content) {
        output.push(json!({"type": "reasoning", "id": "rs_0", "summary": [{"type": "summary_text", "text": reasoning}]}));
    }
    let text = joined_text(&response.content);
    if !text.is_empty() {
        output.push(
            json!({"type": "message", "id": "msg_0", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}),
        );
    }
    for (i, b) in response.content.iter().enumerate() {
        if let Block::ToolUse {
            id, name, input, ..
        } = b
        {
            output.push(json!({"type": "function_call", "id": format!("fc_{i}"), "call_id": id, "name": name,
                "arguments": input.to_string(), "status": "completed"}));
        }
    }
    let incomplete = response.stop == StopReason::MaxTokens;
    let mut r = response_shell(
        &response_id(&response.id),
        model,
        created,
        if incomplete {
            "incomplete"
        } else {
            "completed"
        },
    );
    r.insert("output".into(), Value::Array(output));
    if incomplete {
        r.insert(
            "incomplete_details".into(),
            json!({"reason": "max_output_tokens"}),
        );
    }
    r.insert("usage".into(), usage_json(&response.usage));
    Value::Object(r)
}

/// An output item being streamed.
enum OpenItem {
    Message {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        text: String,
    },
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        index: u64,
    },
}

/// Responses stream events for the client, from pivot events.
pub struct ResponsesEmitter {
    id: String,
    model: String,
    created: u64,
    sequence: u64,
    started: bool,
    finished: bool,
    open: Option<OpenItem>,
    done_items: Vec<Value>,
    stop: Option<StopReason>,
    usage: TokenCounts,
}

impl ResponsesEmitter {
    pub fn new(model: &str, created: u64) -> ResponsesEmitter {
        ResponsesEmitter {
            id: "resp_0".into(),
            model: model.to_string(),
            created,
            sequence: 0,
            started: false,
            finished: false,
            open: None,
            done_items: Vec::new(),
            stop: None,
            usage: TokenCounts::default(),
        }
    }

    fn send(&mut self, kind: &str, mut data: Value, out: &mut VecDeque<Bytes>) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.push_back(crate::sse::encode_event(Some(kind), &data));
    }

    fn shell(&self, status: &str) -> Value {
        Value::Object(response_shell(&self.id, &self.model, self.created, status))
    }

    fn start(&mut self, id: Option<&str>, out: &mut VecDeque<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(id) = id {
            self.id = response_id(id);
        }
        let response = self.shell("in_progress");
        self.send("response.created", json!({"response": response}), out);
        let response = self.shell("in_progress");
        self.send("response.in_progress", json!({"response": response}), out);
    }

    fn output_index(&self) -> usize {
        self.done_items.len()
    }

    fn open_item(&mut self, item: OpenItem, out: &mut VecDeque<Bytes>) {
        self.start(None, out);
        self.close(out);
        let index = self.output_index();
        match &item {
            OpenItem::Message { id, .. } => {
                self.send("response.output_item.added", json!({"output_index": index,
                    "item": {"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []}}), out);
                self.send(
                    "response.content_part.added",
                    json!({"item_id": id, "output_index": index, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []}}),
                    out,
                );
            }
            OpenItem::Reasoning { id, .. } => {
                self.send(
                    "response.output_item.added",
                    json!({"output_index": index,
                    "item": {"type": "reasoning", "id": id, "summary": []}}),
                    out,
                );
                self.send(
                    "response.reasoning_summary_part.added",
                    json!({"item_id": id, "output_index": index,
                    "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
                    out,
                );
            }
            OpenItem::Call {
                id, call_id, name, ..
            } => {
                self.send("response.output_item.added", json!({"output_index": index,
                    "item": {"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": "", "status": "in_progress"}}), out);
            }
        }
        self.open = Some(item);
    }

    fn close(&mut self, out: &mut VecDeque<Bytes>) {
        let Some(item) = self.open.take() else {
            return;
        };
        let index = self.output_index();
        let done = match item {
            OpenItem::Message { id, text } => {
                self.send(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text}),
                    out,
                );
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                self.send(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                    out,
                );
                json!({"type": "message", "id": id, "status": "completed", "role": "assistant", "content": [part]})
            }
            OpenItem::Reasoning { id, text } => {
                self.send(
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0, "text": text}),
                    out,
                );
                self.send(
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0,
                    "part": {"type": "summary_text", "text": text}}),
                    out,
                );
                json!({"type": "reasoning", "id": id, "summary": [{"type": "summary_text", "text": text}]})
            }
            OpenItem::Call {
                id,
                call_id,
                name,
                arguments,
                ..
            } => {
                self.send(
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": index, "arguments": arguments}),
                    out,
                );
                json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments, "status": "completed"})
            }
        };
        self.send(
            "response.output_item.done",
            json!({"output_index": index, "item": done}),
            out,
        );
        self.done_items.push(done);
    }
}

impl Emitter for ResponsesEmitter {
    fn emit(&mut self, event: &Event, out: &mut VecDeque<Bytes>) {
        if self.finished {
            return;
        }
        match event {
            Event::Start { id, .. } => self.start(Some(id), out),
            Event::Text(text) if !text.is_empty() => {
                if !matches!(self.open, Some(OpenItem::Message { .. })) {
                    let id = format!("msg_{}", self.output_index());
                    self.open_item(
                        OpenItem::Message {
                            id,
                            text: String::new(),
                        },
                        out,
                    );
                }
                let index = self.output_index();
                if let Some(OpenItem::Message { id, text: all }) = &mut self.open {
                    all.push_str(text);
                    let id = id.clone();
                    self.send("response.output_text.delta", json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text}), out);
                }
            }
            Event::Thinking(text) if !text.is_empty() => {
                if !matches!(self.open, Some(OpenItem::Reasoning { .. })) {
                    let id = format!("rs_{}", self.output_index());
                    self.open_item(
                        OpenItem::Reasoning {
                            id,
                            text: String::new(),
                        },
                        out,
                    );
                }
                let index = self.output_index();
                if let Some(OpenItem::Reasoning { id, text: all }) = &mut self.open {
                    all.push_str(text);
                    let id = id.clone();
                    self.send("response.reasoning_summary_text.delta", json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": text}), out);
                }
            }
            Event::ToolStart { index, id, name } => {
                let item_id = format!("fc_{}", self.output_index());
                self.open_item(
                    OpenItem::Call {
                        id: item_id,
                        call_id: id.clone(),
                        name: name.clone(),
                        arguments: String::new(),
                        index: *index,
                    },
                    out,
                );
            }
            Event::ToolArgs { index, fragment } => {
                let output_index = self.output_index();
                if let Some(OpenItem::Call {
                    id,
                    arguments,
                    index: open_index,
                    ..
                }) = &mut self.open
                {
                    if open_index == index {
                        arguments.push_str(fragment);
                        let id = id.clone();
                        self.send(
                            "response.function_call_arguments.delta",
                            json!({"item_id": id, "output_index": output_index, "delta": fragment}),
                            out,
                        );
                    }
                }
            }
            Event::Usage(u) => self.usage = *u,
            Event::Stop(reason) => self.stop = Some(reason.clone()),
            Event::Error(message) => self.finish(Some(message), out),
            Event::Done => self.finish(None, out),
            Event::Text(_) | Event::Thinking(_) | Event::Signature(_) => {}
        }
    }

    fn finish(&mut self, error: Option<&str>, out: &mut VecDeque<Bytes>) {
        if self.finished {
            return;
        }
        self.start(None, out);
        self.close(out);
        self.finished = true;
        if let Some(message) = error {
            let mut response = self.shell("failed");
            response["output"] = Value::Array(self.done_items.clone());
            response["error"] = json!({"code": "server_error", "message": message});
            self.send("response.failed", json!({"response": response}), out);
            return;
        }
        let incomplete = self.stop == Some(StopReason::MaxTokens);
        let mut response = self.shell(if incomplete {
            "incomplete"
        } else {
            "completed"
        });
        response["output"] = Value::Array(self.done_items.clone());
        response["usage"] = usage_json(&self.usage);
        if incomplete {
            response["incomplete_details"] = json!({"reason": "max_output_tokens"});
        }
        let kind = if incomplete {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.send(kind, json!({"response": response}), out);
    }
}
