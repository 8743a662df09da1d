//! OpenAI Responses (a client format) ⟷ the pivot: requests in, answers and stream
//! events out. The gateway keeps no conversation state, so `previous_response_id` only
//! works where the request passes through to OpenAI itself.

mod output;

use super::stream::{Emitter, Event};
use super::*;
use bytes::Bytes;
use output::{
    encode_event, Incomplete, Item, ItemEvent, OutputText, Part, PartEvent, ResponseBody,
    ResponseError, ResponseEvent, SummaryText, Usage,
};
use serde::Serialize;
use serde_json::json;
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
pub fn render_response<'a>(response: &'a Response, model: &'a str, created: u64) -> Answer<'a> {
    let mut output = Vec::new();
    if let Some(reasoning) = reasoning_text(&response.content) {
        output.push(Item::Reasoning {
            id: "rs_0".into(),
            summary: Some(SummaryText::new(reasoning)),
        });
    }
    let text = joined_text(&response.content);
    if !text.is_empty() {
        output.push(Item::Message {
            id: "msg_0".into(),
            status: "completed",
            role: "assistant",
            content: Some(OutputText::new(text)),
        });
    }
    for (i, b) in response.content.iter().enumerate() {
        if let Block::ToolUse {
            id, name, input, ..
        } = b
        {
            output.push(Item::FunctionCall {
                id: format!("fc_{i}").into(),
                call_id: id.as_str().into(),
                name: name.as_str().into(),
                arguments: input.to_string().into(),
                status: "completed",
            });
        }
    }
    let incomplete = response.stop == StopReason::MaxTokens;
    Answer {
        id: response_id(&response.id),
        model,
        created,
        incomplete,
        output,
        usage: Usage::from(&response.usage),
    }
}

/// A complete Responses answer, ready to be written.
pub struct Answer<'a> {
    id: String,
    model: &'a str,
    created: u64,
    incomplete: bool,
    output: Vec<Item<'a>>,
    usage: Usage,
}

impl Answer<'_> {
    pub fn to_json(self) -> serde_json::Result<Vec<u8>> {
        let status = if self.incomplete {
            "incomplete"
        } else {
            "completed"
        };
        let mut body = ResponseBody::new(&self.id, self.model, self.created, status);
        body.output = self.output;
        body.incomplete_details = self.incomplete.then_some(Incomplete::MAX_OUTPUT_TOKENS);
        body.usage = Some(self.usage);
        serde_json::to_vec(&body)
    }
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
    done_items: Vec<Item<'static>>,
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

    fn send(&mut self, kind: &'static str, data: &impl Serialize, out: &mut VecDeque<Bytes>) {
        push_event(out, &mut self.sequence, kind, data);
    }

    fn start(&mut self, id: Option<&str>, out: &mut VecDeque<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(id) = id {
            self.id = response_id(id);
        }
        let (id, model) = (self.id.clone(), self.model.clone());
        let response = ResponseBody::new(&id, &model, self.created, "in_progress");
        self.send(
            "response.created",
            &ResponseEvent {
                response: &response,
            },
            out,
        );
        self.send(
            "response.in_progress",
            &ResponseEvent {
                response: &response,
            },
            out,
        );
    }

    fn output_index(&self) -> usize {
        self.done_items.len()
    }

    fn open_item(&mut self, item: OpenItem, out: &mut VecDeque<Bytes>) {
        self.start(None, out);
        self.close(out);
        let output_index = self.output_index();
        match &item {
            OpenItem::Message { id, .. } => {
                let added = Item::Message {
                    id: id.as_str().into(),
                    status: "in_progress",
                    role: "assistant",
                    content: None,
                };
                self.send(
                    "response.output_item.added",
                    &ItemEvent {
                        output_index,
                        item: &added,
                    },
                    out,
                );
                let part = PartEvent {
                    part: Some(Part::Text(OutputText::new(""))),
                    ..PartEvent::content(id, output_index)
                };
                self.send("response.content_part.added", &part, out);
            }
            OpenItem::Reasoning { id, .. } => {
                let added = Item::Reasoning {
                    id: id.as_str().into(),
                    summary: None,
                };
                self.send(
                    "response.output_item.added",
                    &ItemEvent {
                        output_index,
                        item: &added,
                    },
                    out,
                );
                let part = PartEvent {
                    part: Some(Part::Summary(SummaryText::new(""))),
                    ..PartEvent::summary(id, output_index)
                };
                self.send("response.reasoning_summary_part.added", &part, out);
            }
            OpenItem::Call {
                id, call_id, name, ..
            } => {
                let added = Item::FunctionCall {
                    id: id.as_str().into(),
                    call_id: call_id.as_str().into(),
                    name: name.as_str().into(),
                    arguments: "".into(),
                    status: "in_progress",
                };
                self.send(
                    "response.output_item.added",
                    &ItemEvent {
                        output_index,
                        item: &added,
                    },
                    out,
                );
            }
        }
        self.open = Some(item);
    }

    fn close(&mut self, out: &mut VecDeque<Bytes>) {
        let Some(item) = self.open.take() else {
            return;
        };
        let output_index = self.output_index();
        let done = match item {
            OpenItem::Message { id, text } => {
                let done = PartEvent {
                    text: Some(&text),
                    ..PartEvent::content(&id, output_index)
                };
                self.send("response.output_text.done", &done, out);
                let part = PartEvent {
                    part: Some(Part::Text(OutputText::new(text.as_str()))),
                    ..PartEvent::content(&id, output_index)
                };
                self.send("response.content_part.done", &part, out);
                Item::Message {
                    id: id.into(),
                    status: "completed",
                    role: "assistant",
                    content: Some(OutputText::new(text)),
                }
            }
            OpenItem::Reasoning { id, text } => {
                let done = PartEvent {
                    text: Some(&text),
                    ..PartEvent::summary(&id, output_index)
                };
                self.send("response.reasoning_summary_text.done", &done, out);
                let part = PartEvent {
                    part: Some(Part::Summary(SummaryText::new(text.as_str()))),
                    ..PartEvent::summary(&id, output_index)
                };
                self.send("response.reasoning_summary_part.done", &part, out);
                Item::Reasoning {
                    id: id.into(),
                    summary: Some(SummaryText::new(text)),
                }
            }
            OpenItem::Call {
                id,
                call_id,
                name,
                arguments,
                ..
            } => {
                let done = PartEvent {
                    arguments: Some(&arguments),
                    ..PartEvent::of(&id, output_index)
                };
                self.send("response.function_call_arguments.done", &done, out);
                Item::FunctionCall {
                    id: id.into(),
                    call_id: call_id.into(),
                    name: name.into(),
                    arguments: arguments.into(),
                    status: "completed",
                }
            }
        };
        self.send(
            "response.output_item.done",
            &ItemEvent {
                output_index,
                item: &done,
            },
            out,
        );
        self.done_items.push(done);
    }
}

/// Queues one event, numbered.
fn push_event(
    out: &mut VecDeque<Bytes>,
    sequence: &mut u64,
    kind: &'static str,
    data: &impl Serialize,
) {
    out.push_back(encode_event(kind, *sequence, data));
    *sequence += 1;
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
                let output_index = self.output_index();
                if let Some(OpenItem::Message { id, text: all }) = &mut self.open {
                    all.push_str(text);
                    let delta = PartEvent {
                        delta: Some(text),
                        ..PartEvent::content(id, output_index)
                    };
                    push_event(
                        out,
                        &mut self.sequence,
                        "response.output_text.delta",
                        &delta,
                    );
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
                let output_index = self.output_index();
                if let Some(OpenItem::Reasoning { id, text: all }) = &mut self.open {
                    all.push_str(text);
                    let delta = PartEvent {
                        delta: Some(text),
                        ..PartEvent::summary(id, output_index)
                    };
                    push_event(
                        out,
                        &mut self.sequence,
                        "response.reasoning_summary_text.delta",
                        &delta,
                    );
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
                        let delta = PartEvent {
                            delta: Some(fragment),
                            ..PartEvent::of(id, output_index)
                        };
                        push_event(
                            out,
                            &mut self.sequence,
                            "response.function_call_arguments.delta",
                            &delta,
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
        let (id, model) = (
            std::mem::take(&mut self.id),
            std::mem::take(&mut self.model),
        );
        let output = std::mem::take(&mut self.done_items);
        if let Some(message) = error {
            let mut response = ResponseBody::new(&id, &model, self.created, "failed");
            response.output = output;
            response.error = Some(ResponseError {
                code: "server_error",
                message,
            });
            self.send(
                "response.failed",
                &ResponseEvent {
                    response: &response,
                },
                out,
            );
            return;
        }
        let incomplete = self.stop == Some(StopReason::MaxTokens);
        let (status, kind) = if incomplete {
            ("incomplete", "response.incomplete")
        } else {
            ("completed", "response.completed")
        };
        let mut response = ResponseBody::new(&id, &model, self.created, status);
        response.output = output;
        response.usage = Some(Usage::from(&self.usage));
        response.incomplete_details = incomplete.then_some(Incomplete::MAX_OUTPUT_TOKENS);
        self.send(
            kind,
            &ResponseEvent {
                response: &response,
            },
            out,
        );
    }
}
