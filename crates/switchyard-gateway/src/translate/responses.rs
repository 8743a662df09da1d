//! OpenAI Responses (a client format) ⟷ the pivot: requests in, answers and stream
//! events out. The gateway keeps no conversation state, so `previous_response_id` only
//! works where the request passes through to OpenAI itself.

mod output;
mod wire;

use super::stream::{Emitter, Event};
use super::*;
use crate::translate::wire_content::WireContent;
use bytes::Bytes;
use output::{
    encode_event, Incomplete, Item, ItemEvent, OutputText, Part, PartEvent, ResponseBody,
    ResponseError, ResponseEvent, SummaryText, Usage,
};
use serde::Serialize;
use serde_json::json;
use std::collections::VecDeque;
use wire::{WirePart, WireResponses};

/// A message's content or a function call's output as blocks: text, images and files.
fn content_blocks(content: WireContent<WirePart>) -> Result<Vec<Block>, ApiError> {
    match content {
        WireContent::Text(text) => Ok(vec![Block::Text { text, cache: None }]),
        WireContent::Absent => Ok(vec![]),
        WireContent::Items(parts) => {
            parts
                .into_iter()
                .filter_map(|p| {
                    let block = match p.kind.as_deref().unwrap_or("") {
                    "input_text" | "output_text" | "text" | "summary_text" => Block::Text {
                        text: p.text.unwrap_or_default(),
                        cache: None,
                    },
                    "refusal" => Block::Text {
                        text: p.refusal.unwrap_or_default(),
                        cache: None,
                    },
                    "input_image" => match p.image_url {
                        Some(url) => Block::Image {
                            source: MediaSource::from_url(&url),
                            cache: None,
                        },
                        None => return Some(Err(invalid(
                            "input_image parts need an image_url (file ids cannot be translated)",
                        ))),
                    },
                    "input_file" => match p.file_data {
                        Some(data) => Block::Document {
                            source: MediaSource::from_url(&data),
                            cache: None,
                        },
                        None => return Some(Err(invalid(
                            "input_file parts need file_data (file ids cannot be translated)",
                        ))),
                    },
                    _ => return None,
                };
                    Some(Ok(block))
                })
                .collect()
        }
        WireContent::Invalid => Err(invalid("content must be a string or an array of parts")),
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

/// A Responses request body as the pivot: read straight from its bytes when it has the
/// documented shape, through a `Value` tree otherwise.
pub fn parse_request_body(body: &[u8]) -> Result<Request, ApiError> {
    match WireResponses::read(body) {
        Some(wire) => request_from_wire(wire),
        None => {
            let value = crate::json_body::parse_json::<Value>(body).map_err(|e| not_json(&e))?;
            parse_request(&value)
        }
    }
}

/// A Responses request, already parsed, as the pivot.
pub fn parse_request(body: &Value) -> Result<Request, ApiError> {
    request_from_wire(WireResponses::from_value(body))
}

fn request_from_wire(body: WireResponses) -> Result<Request, ApiError> {
    if body.previous_response_id.is_some() {
        return Err(invalid(
            "previous_response_id needs the provider to keep the conversation, which only OpenAI \
             does; send the whole conversation in `input` (or use an OpenAI model)",
        )
        .with_code("previous_response_unsupported"));
    }
    let mut request = Request {
        stream: body.stream.unwrap_or(false),
        max_tokens: body.max_output_tokens,
        temperature: body.temperature,
        top_p: body.top_p,
        parallel_tool_calls: body.parallel_tool_calls,
        user: body.user,
        ..Default::default()
    };
    if let Some(instructions) = body.instructions.filter(|i| !i.is_empty()) {
        request.system.push(Block::Text {
            text: instructions,
            cache: None,
        });
    }
    let effort = body.reasoning.as_ref().and_then(|r| str_field(r, "effort"));
    request.reasoning = match effort {
        Some("none") | Some("minimal") => Some(Reasoning::Effort(Effort::None)),
        Some("low") => Some(Reasoning::Effort(Effort::Low)),
        Some("medium") => Some(Reasoning::Effort(Effort::Medium)),
        Some("high") => Some(Reasoning::Effort(Effort::High)),
        Some("xhigh") | Some("max") => Some(Reasoning::Effort(Effort::Max)),
        _ => None,
    };
    if let Some(format) = body.text.as_ref().and_then(|t| t.get("format")) {
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
    match body.input {
        WireContent::Text(text) => push(
            &mut messages,
            Role::User,
            vec![Block::Text { text, cache: None }],
        ),
        WireContent::Items(items) => {
            for item in items {
                match item.kind.as_deref().unwrap_or("message") {
                    "message" => {
                        let blocks = content_blocks(item.content)?;
                        let role = match item.role.as_deref() {
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
                        let input =
                            RawJson::from_arguments(item.arguments.as_deref().unwrap_or(""));
                        push(
                            &mut messages,
                            Role::Assistant,
                            vec![Block::ToolUse {
                                id: item.call_id.unwrap_or_default(),
                                name: item.name.unwrap_or_default(),
                                input,
                                cache: None,
                            }],
                        );
                    }
                    "function_call_output" => {
                        let content = content_blocks(item.output)?;
                        push(
                            &mut messages,
                            Role::User,
                            vec![Block::ToolResult {
                                id: item.call_id.unwrap_or_default(),
                                content,
                                is_error: false,
                                cache: None,
                            }],
                        );
                    }
                    "reasoning" => {
                        let text: Vec<String> = item
                            .summary
                            .into_iter()
                            .flatten()
                            .filter_map(|s| s.text)
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
        WireContent::Absent | WireContent::Invalid => {}
    }
    request.messages = messages;
    for t in body.tools.into_iter().flatten() {
        if t.kind.as_deref() != Some("function") {
            continue; // built-in tools only OpenAI runs
        }
        request.tools.push(Tool {
            name: t.name.unwrap_or_default(),
            description: t.description,
            schema: t.parameters.unwrap_or_else(|| {
                RawJson::from_value(&json!({"type": "object", "properties": {}}))
            }),
            cache: None,
        });
    }
    request.tool_choice = match &body.tool_choice {
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
                arguments: input.json().into(),
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

#[cfg(test)]
mod emitter_tests;
