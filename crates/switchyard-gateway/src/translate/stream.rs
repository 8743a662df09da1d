//! Streams between formats: a parser turns each provider event into pivot [`Event`]s,
//! an emitter turns those into the client's events, and [`Translator`] joins the two
//! for the proxy's stream. Emitters keep the client's stream well formed whatever the
//! provider does: Anthropic blocks get consecutive indices and are always closed,
//! OpenAI streams start with the role and end with a `finish_reason` before `[DONE]`.

use super::*;
use crate::json_text::{write_field, write_optional_field, write_string};
use crate::sse::{encode_event, event_data};
use crate::stream::EventHandler;
use crate::usage::AnthropicUsage;
use bytes::Bytes;
use serde_json::json;
use std::collections::VecDeque;

mod anthropic_common;
mod anthropic_event;
mod anthropic_wire;
mod chunk_prefix;
mod cursor;
mod fields;
mod openai_chunk;
use anthropic::Usage;
use anthropic_event::{
    BlockDelta, BlockStart, EmptyObject, ErrorBody, MessageDelta, MessageStart, StreamEvent,
};
use anthropic_wire::WireEvent;
use chunk_prefix::RepeatedPrefix;
use fields::Text;
use openai_chunk::Chunk;

/// What happened in a stream, format-free.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Start {
        id: String,
        model: String,
    },
    Text(String),
    Thinking(String),
    Signature(String),
    /// A tool call begins; `index` is the provider's index for it.
    ToolStart {
        index: u64,
        id: String,
        name: String,
    },
    ToolArgs {
        index: u64,
        fragment: String,
    },
    /// Usage so far (cumulative).
    Usage(TokenCounts),
    Stop(StopReason),
    Error(String),
    Done,
}

/// Reads one provider format's events.
pub trait Parser: Send {
    fn parse(&mut self, data: &[u8], out: &mut Vec<Event>);
    /// Whether the provider has said its answer is complete, for formats without an
    /// end marker of their own (Gemini ends with a `finishReason`, then closes).
    fn finished(&self) -> bool {
        false
    }
}

/// Writes one client format's events.
pub trait Emitter: Send {
    fn emit(&mut self, event: &Event, out: &mut VecDeque<Bytes>);
    /// Closes the stream: normally, or with `error` when the provider failed.
    fn finish(&mut self, error: Option<&str>, out: &mut VecDeque<Bytes>);
}

/// The pivot's error event for the `error` object a provider put in its stream
/// (OpenAI, Anthropic and Gemini all name it so), with a message even without one.
pub(super) fn error_event(error: Option<&Value>) -> Event {
    let message = error
        .and_then(|e| str_field(e, "message"))
        .unwrap_or("the provider reported an error");
    Event::Error(message.to_string())
}

/// OpenAI chat chunks.
#[derive(Default)]
pub struct OpenAiParser {
    started: bool,
    names: ToolNames,
    /// The opening the stream's chunks repeat, once seen.
    prefix: RepeatedPrefix,
}

impl OpenAiParser {
    pub fn new(names: ToolNames) -> OpenAiParser {
        OpenAiParser {
            names,
            ..OpenAiParser::default()
        }
    }
}

impl Parser for OpenAiParser {
    fn parse(&mut self, data: &[u8], out: &mut Vec<Event>) {
        if data.trim_ascii() == b"[DONE]" {
            out.push(Event::Done);
            return;
        }
        if let Some(chunk) = self.prefix.read(data) {
            return self.chunk_events(chunk, out);
        }
        // Only objects: derived structs would also read a JSON array, field by field.
        let object = data.trim_ascii_start().first() == Some(&b'{');
        match crate::json_body::parse_json::<Chunk>(data) {
            Ok(chunk) if object && !chunk.error.0 => {
                let first = chunk.choices.as_ref().and_then(|c| c.first());
                if first.is_some_and(|c| c.delta.is_some()) {
                    self.prefix.learn(data);
                }
                self.chunk_events(chunk, out)
            }
            _ => self.parse_general(data, out),
        }
    }
}

impl OpenAiParser {
    /// Any chunk, through a `Value` tree: errors and shapes the typed reading refuses.
    fn parse_general(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let Ok(value) = crate::json_body::parse_json::<Value>(data) else {
            return;
        };
        if let Some(error) = value.get("error") {
            out.push(error_event(Some(error)));
            return;
        }
        self.chunk_events(Chunk::from_value(&value), out);
    }

    fn chunk_events(&mut self, chunk: Chunk<'_>, out: &mut Vec<Event>) {
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: chunk.id.as_str().unwrap_or("chatcmpl").to_string(),
                model: chunk.model.as_str().unwrap_or_default().to_string(),
            });
        }
        if let Some(choice) = chunk.choices.as_ref().and_then(|c| c.first()) {
            if let Some(delta) = &choice.delta {
                let reasoning = delta
                    .reasoning_content
                    .as_str()
                    .or_else(|| delta.reasoning.as_str());
                if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
                    out.push(Event::Thinking(r.to_string()));
                }
                if let Some(text) = delta.content.as_str().filter(|t| !t.is_empty()) {
                    out.push(Event::Text(text.to_string()));
                }
                for (position, call) in delta.tool_calls.iter().flatten().enumerate() {
                    let index = call.index.unwrap_or(position as u64);
                    let function = call.function.as_ref();
                    let name = function.and_then(|f| f.name.as_str());
                    if call.id.is_present() || name.is_some() {
                        out.push(Event::ToolStart {
                            index,
                            id: call.id.as_str().unwrap_or_default().to_string(),
                            name: self.names.inbound(name.unwrap_or_default()),
                        });
                    }
                    if let Some(args) = function
                        .and_then(|f| f.arguments.as_str())
                        .filter(|a| !a.is_empty())
                    {
                        out.push(Event::ToolArgs {
                            index,
                            fragment: args.to_string(),
                        });
                    }
                }
            }
            if let Some(reason) = choice.finish_reason.as_str() {
                out.push(Event::Stop(openai::parse_stop(Some(reason))));
            }
        }
        if let Some(usage) = chunk.usage {
            out.push(Event::Usage(usage.to_counts()));
        }
    }
}

/// Anthropic message events.
#[derive(Default)]
pub struct AnthropicParser {
    usage: AnthropicUsage,
}

impl Parser for AnthropicParser {
    fn parse(&mut self, data: &[u8], out: &mut Vec<Event>) {
        match anthropic_common::read(data) {
            Some(event) => out.extend(event),
            None => self.parse_whole(data, out),
        }
    }
}

impl AnthropicParser {
    /// Any event, read typed when it can be, through a `Value` tree when not.
    fn parse_whole(&mut self, data: &[u8], out: &mut Vec<Event>) {
        match WireEvent::read(data) {
            Some(event) => self.wire_events(event, out),
            None => self.parse_general(data, out),
        }
    }

    /// Any event, through a `Value` tree: errors and shapes the typed reading refuses.
    fn parse_general(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let Ok(value) = crate::json_body::parse_json::<Value>(data) else {
            return;
        };
        if str_field(&value, "type") == Some("error") {
            out.push(error_event(value.get("error")));
            return;
        }
        self.wire_events(WireEvent::from_value(&value), out);
    }

    fn wire_events(&mut self, e: WireEvent<'_>, out: &mut Vec<Event>) {
        let index = e.index.unwrap_or(0);
        match e.kind.as_str().unwrap_or("") {
            "message_start" => {
                let (id, model) = match &e.message {
                    Some(m) => (m.id.as_str(), m.model.as_str()),
                    None => (None, None),
                };
                out.push(Event::Start {
                    id: id.unwrap_or("msg").to_string(),
                    model: model.unwrap_or_default().to_string(),
                });
                if let Some(u) = e.message.and_then(|m| m.usage) {
                    self.usage.update(u);
                    out.push(Event::Usage(self.usage.to_counts()));
                }
            }
            "content_block_start" => {
                let Some(block) = e.content_block else {
                    return;
                };
                match block.kind.as_str() {
                    Some("tool_use") => out.push(Event::ToolStart {
                        index,
                        id: owned(&block.id),
                        name: owned(&block.name),
                    }),
                    Some("text") => {
                        if let Some(t) = block.text.as_str().filter(|t| !t.is_empty()) {
                            out.push(Event::Text(t.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let Some(delta) = e.delta else {
                    return;
                };
                match delta.kind.as_str() {
                    Some("text_delta") => out.push(Event::Text(owned(&delta.text))),
                    Some("input_json_delta") => out.push(Event::ToolArgs {
                        index,
                        fragment: owned(&delta.partial_json),
                    }),
                    Some("thinking_delta") => out.push(Event::Thinking(owned(&delta.thinking))),
                    Some("signature_delta") => out.push(Event::Signature(owned(&delta.signature))),
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = e.delta.as_ref().and_then(|d| d.stop_reason.as_str()) {
                    let sequence = e.delta.as_ref().and_then(|d| d.stop_sequence.as_str());
                    out.push(Event::Stop(anthropic::parse_stop(Some(reason), sequence)));
                }
                if let Some(u) = e.usage {
                    self.usage.update(u);
                    out.push(Event::Usage(self.usage.to_counts()));
                }
            }
            "message_stop" => out.push(Event::Done),
            _ => {}
        }
    }
}

/// A string field's text, or an empty string when it is missing or not a string.
fn owned(text: &Text<'_>) -> String {
    text.as_str().unwrap_or_default().to_string()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum OpenBlock {
    Text,
    Thinking,
    Tool(u64),
}

/// Anthropic message events for the client.
pub struct AnthropicEmitter {
    model: String,
    started: bool,
    finished: bool,
    open: Option<OpenBlock>,
    next_index: u64,
    stop: Option<StopReason>,
    saw_tool: bool,
    usage: TokenCounts,
}

impl AnthropicEmitter {
    /// `model` is the name the client asked for.
    pub fn new(model: &str) -> AnthropicEmitter {
        AnthropicEmitter {
            model: model.to_string(),
            started: false,
            finished: false,
            open: None,
            next_index: 0,
            stop: None,
            saw_tool: false,
            usage: TokenCounts::default(),
        }
    }

    fn start(&mut self, id: &str, out: &mut VecDeque<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = if id.starts_with("msg") {
            id.to_string()
        } else {
            format!("msg_{id}")
        };
        let message = MessageStart {
            id: &id,
            kind: "message",
            role: "assistant",
            model: &self.model,
            content: [],
            stop_reason: None,
            stop_sequence: None,
            usage: Usage::from(&self.usage),
        };
        out.push_back(StreamEvent::MessageStart { message }.encode());
    }

    fn close(&mut self, out: &mut VecDeque<Bytes>) {
        if self.open.take().is_some() {
            let index = self.next_index - 1;
            out.push_back(StreamEvent::ContentBlockStop { index }.encode());
        }
    }

    fn open(&mut self, kind: OpenBlock, content_block: BlockStart<'_>, out: &mut VecDeque<Bytes>) {
        self.start("msg", out);
        self.close(out);
        let index = self.next_index;
        out.push_back(
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            }
            .encode(),
        );
        self.next_index += 1;
        self.open = Some(kind);
    }

    fn delta(&self, delta: BlockDelta<'_>, out: &mut VecDeque<Bytes>) {
        let index = self.next_index - 1;
        out.push_back(StreamEvent::ContentBlockDelta { index, delta }.encode());
    }
}

impl Emitter for AnthropicEmitter {
    fn emit(&mut self, event: &Event, out: &mut VecDeque<Bytes>) {
        if self.finished {
            return;
        }
        match event {
            Event::Start { id, .. } => self.start(id, out),
            Event::Text(text) => {
                if text.is_empty() {
                    return;
                }
                if self.open != Some(OpenBlock::Text) {
                    self.open(OpenBlock::Text, BlockStart::Text { text: "" }, out);
                }
                self.delta(BlockDelta::Text { text }, out);
            }
            Event::Thinking(text) => {
                if self.open != Some(OpenBlock::Thinking) {
                    self.open(
                        OpenBlock::Thinking,
                        BlockStart::Thinking { thinking: "" },
                        out,
                    );
                }
                if !text.is_empty() {
                    self.delta(BlockDelta::Thinking { thinking: text }, out);
                }
            }
            Event::Signature(sig) => {
                if self.open == Some(OpenBlock::Thinking) {
                    self.delta(BlockDelta::Signature { signature: sig }, out);
                }
            }
            Event::ToolStart { index, id, name } => {
                self.saw_tool = true;
                let block = BlockStart::ToolUse {
                    id,
                    name,
                    input: EmptyObject {},
                };
                self.open(OpenBlock::Tool(*index), block, out);
            }
            Event::ToolArgs { index, fragment } => {
                // Providers stream one tool call's arguments after another; fragments of
                // a call whose block is already closed cannot be placed and are dropped.
                if self.open == Some(OpenBlock::Tool(*index)) {
                    self.delta(
                        BlockDelta::InputJson {
                            partial_json: fragment,
                        },
                        out,
                    );
                } else {
                    tracing::warn!(index, "tool-call arguments out of order; dropped");
                }
            }
            Event::Usage(u) => self.usage = *u,
            Event::Stop(reason) => self.stop = Some(reason.clone()),
            Event::Error(message) => self.finish(Some(message), out),
            Event::Done => self.finish(None, out),
        }
    }

    fn finish(&mut self, error: Option<&str>, out: &mut VecDeque<Bytes>) {
        if self.finished {
            return;
        }
        self.start("msg", out);
        self.close(out);
        self.finished = true;
        if let Some(message) = error {
            let error = ErrorBody {
                kind: "api_error",
                message,
            };
            out.push_back(StreamEvent::Error { error }.encode());
            return;
        }
        let mut stop = self.stop.clone().unwrap_or(StopReason::EndTurn);
        if self.saw_tool && stop == StopReason::EndTurn {
            stop = StopReason::ToolUse;
        }
        let delta = MessageDelta {
            stop_reason: anthropic::stop_name(&stop),
            stop_sequence: match &stop {
                StopReason::StopSequence(s) => s.as_deref(),
                _ => None,
            },
        };
        let usage = Usage::from(&self.usage);
        out.push_back(StreamEvent::MessageDelta { delta, usage }.encode());
        out.push_back(StreamEvent::MessageStop.encode());
    }
}

/// OpenAI chat chunks for the client.
pub struct OpenAiEmitter {
    id: String,
    model: String,
    created: u64,
    role_sent: bool,
    finished: bool,
    tools: Vec<u64>,
    stop: Option<StopReason>,
    usage: Option<TokenCounts>,
    client_wants_usage: bool,
}

impl OpenAiEmitter {
    pub fn new(model: &str, created: u64, client_wants_usage: bool) -> OpenAiEmitter {
        OpenAiEmitter {
            id: "chatcmpl".into(),
            model: model.to_string(),
            created,
            role_sent: false,
            finished: false,
            tools: Vec::new(),
            stop: None,
            usage: None,
            client_wants_usage,
        }
    }

    /// One `chat.completion.chunk` event.
    ///
    /// Written around its strings and numbers rather than serialized: a serializer
    /// escapes each of a chunk's ten or so keys at run time, which cost more than the
    /// rest of translating the event. Byte for byte what serializing `ChunkShape`
    /// writes (a test holds them together).
    fn chunk(&self, delta: ChunkDelta<'_>, finish: Option<&'static str>) -> Bytes {
        let mut out = Vec::with_capacity(192 + delta.text_len());
        write_field(&mut out, b"data: {\"id\":", &self.id);
        out.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.created).as_bytes());
        write_field(&mut out, b",\"model\":", &self.model);
        out.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
        delta.write_json(&mut out);
        write_optional_field(&mut out, b",\"finish_reason\":", finish);
        out.extend_from_slice(b"}]}\n\n");
        Bytes::from(out)
    }

    fn send(&mut self, mut delta: ChunkDelta<'_>, out: &mut VecDeque<Bytes>) {
        if !self.role_sent {
            self.role_sent = true;
            delta.role = Some("assistant");
        }
        out.push_back(self.chunk(delta, None));
    }
}

/// A `chat.completion.chunk` as serializing would write it: the reference the
/// hand-written [`OpenAiEmitter::chunk`] is tested against.
#[cfg(test)]
#[derive(serde::Serialize)]
struct ChunkShape<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [ChoiceShape<'a>; 1],
}

#[cfg(test)]
#[derive(serde::Serialize)]
struct ChoiceShape<'a> {
    index: u32,
    delta: ChunkDelta<'a>,
    finish_reason: Option<&'static str>,
}

/// The `delta` of a chat chunk: one of its parts per chunk, and the role in the first.
/// The fields keep the order the chunks have always had (the role last).
///
/// Written by hand as well ([`ChunkDelta::write_json`]): a field added here or in the
/// types below goes there too; the test that compares the two catches one that is
/// missed only if it sets it.
#[derive(serde::Serialize, Default, Clone, Copy)]
struct ChunkDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
}

impl<'a> ChunkDelta<'a> {
    fn content(text: &'a str) -> ChunkDelta<'a> {
        ChunkDelta {
            content: Some(text),
            ..ChunkDelta::default()
        }
    }

    fn reasoning(text: &'a str) -> ChunkDelta<'a> {
        ChunkDelta {
            reasoning_content: Some(text),
            ..ChunkDelta::default()
        }
    }

    fn tool_call(call: ToolCallDelta<'a>) -> ChunkDelta<'a> {
        ChunkDelta {
            tool_calls: Some([call]),
            ..ChunkDelta::default()
        }
    }

    /// The length of its text, to size the chunk's buffer.
    fn text_len(&self) -> usize {
        let call = self
            .tool_calls
            .as_ref()
            .map(|[call]| call.function.arguments.len() + call.function.name.map_or(0, str::len));
        self.content.map_or(0, str::len)
            + self.reasoning_content.map_or(0, str::len)
            + call.unwrap_or(0)
    }

    /// The delta as JSON, its fields in the order they are declared.
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut fields = Fields::open(out);
        if let Some(text) = self.content {
            write_string(fields.key(b"\"content\":"), text);
        }
        if let Some(text) = self.reasoning_content {
            write_string(fields.key(b"\"reasoning_content\":"), text);
        }
        if let Some([call]) = &self.tool_calls {
            let out = fields.key(b"\"tool_calls\":[");
            call.write_json(out);
            out.push(b']');
        }
        if let Some(role) = self.role {
            write_string(fields.key(b"\"role\":"), role);
        }
        fields.close();
    }
}

/// An object being written field by field, each after a comma but the first.
struct Fields<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Fields<'o> {
    fn open(out: &'o mut Vec<u8>) -> Fields<'o> {
        out.push(b'{');
        Fields { out, empty: true }
    }

    /// Writes the separator and `key` (quoted, with its colon) for the next field.
    fn key(&mut self, key: &[u8]) -> &mut Vec<u8> {
        if !std::mem::take(&mut self.empty) {
            self.out.push(b',');
        }
        self.out.extend_from_slice(key);
        self.out
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// A tool call's part of a delta: its start (id, type and name) or a piece of its
/// arguments. Written by hand as well ([`ToolCallDelta::write_json`]).
#[derive(serde::Serialize, Clone, Copy)]
struct ToolCallDelta<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

impl ToolCallDelta<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"index\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.index).as_bytes());
        if let Some(id) = self.id {
            write_field(out, b",\"id\":", id);
        }
        if let Some(kind) = self.kind {
            write_field(out, b",\"type\":", kind);
        }
        out.extend_from_slice(b",\"function\":{");
        if let Some(name) = self.function.name {
            write_field(out, b"\"name\":", name);
            out.push(b',');
        }
        write_field(out, b"\"arguments\":", self.function.arguments);
        out.extend_from_slice(b"}}");
    }
}

#[derive(serde::Serialize, Clone, Copy)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

impl Emitter for OpenAiEmitter {
    fn emit(&mut self, event: &Event, out: &mut VecDeque<Bytes>) {
        if self.finished {
            return;
        }
        match event {
            Event::Start { id, .. } => {
                self.id = if id.starts_with("chatcmpl") {
                    id.clone()
                } else {
                    format!("chatcmpl-{id}")
                };
                self.send(ChunkDelta::content(""), out);
            }
            Event::Text(text) => self.send(ChunkDelta::content(text), out),
            Event::Thinking(text) if !text.is_empty() => {
                self.send(ChunkDelta::reasoning(text), out)
            }
            Event::Thinking(_) | Event::Signature(_) => {}
            Event::ToolStart { index, id, name } => {
                let position = self.tools.len();
                self.tools.push(*index);
                let call = ToolCallDelta {
                    index: position,
                    id: Some(id),
                    kind: Some("function"),
                    function: FunctionDelta {
                        name: Some(name),
                        arguments: "",
                    },
                };
                self.send(ChunkDelta::tool_call(call), out);
            }
            Event::ToolArgs { index, fragment } => {
                if let Some(position) = self.tools.iter().position(|i| i == index) {
                    let call = ToolCallDelta {
                        index: position,
                        id: None,
                        kind: None,
                        function: FunctionDelta {
                            name: None,
                            arguments: fragment,
                        },
                    };
                    self.send(ChunkDelta::tool_call(call), out);
                }
            }
            Event::Usage(u) => self.usage = Some(*u),
            Event::Stop(reason) => self.stop = Some(reason.clone()),
            Event::Error(message) => self.finish(Some(message), out),
            Event::Done => self.finish(None, out),
        }
    }

    fn finish(&mut self, error: Option<&str>, out: &mut VecDeque<Bytes>) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(message) = error {
            let body = json!({"error": {"message": message, "type": "api_error", "code": null}});
            out.push_back(encode_event(None, &body));
            return;
        }
        if !self.role_sent {
            self.send(ChunkDelta::content(""), out);
        }
        let mut stop = self.stop.clone().unwrap_or(StopReason::EndTurn);
        if !self.tools.is_empty() && stop == StopReason::EndTurn {
            stop = StopReason::ToolUse;
        }
        out.push_back(self.chunk(ChunkDelta::default(), Some(openai::stop_name(&stop))));
        if self.client_wants_usage {
            #[derive(serde::Serialize)]
            struct UsageChunk<'a> {
                id: &'a str,
                object: &'static str,
                created: u64,
                model: &'a str,
                choices: [(); 0],
                usage: openai::ChatUsage,
            }
            let chunk = UsageChunk {
                id: &self.id,
                object: "chat.completion.chunk",
                created: self.created,
                model: &self.model,
                choices: [],
                usage: openai::ChatUsage::from(&self.usage.unwrap_or_default()),
            };
            out.push_back(encode_event(None, &chunk));
        }
        out.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
    }
}

/// A provider stream translated for the client, as the proxy's event handler.
pub struct Translator {
    parser: Box<dyn Parser>,
    emitter: Box<dyn Emitter>,
    events: Vec<Event>,
    tool_calls: Vec<String>,
    usage: Option<TokenCounts>,
    done: bool,
    error: Option<String>,
}

impl Translator {
    pub fn new(parser: Box<dyn Parser>, emitter: Box<dyn Emitter>) -> Translator {
        Translator {
            parser,
            emitter,
            events: Vec::new(),
            tool_calls: Vec::new(),
            usage: None,
            done: false,
            error: None,
        }
    }
}

impl EventHandler for Translator {
    fn event(&mut self, event: Bytes, out: &mut VecDeque<Bytes>) {
        let Some(data) = event_data(&event) else {
            return; // comments and keep-alives
        };
        self.events.clear();
        self.parser.parse(&data, &mut self.events);
        for e in &self.events {
            match e {
                Event::Usage(u) => self.usage = Some(*u),
                Event::Done => self.done = true,
                Event::Error(m) => self.error = Some(m.clone()),
                Event::ToolStart { name, .. } => self.tool_calls.push(name.clone()),
                _ => {}
            }
            self.emitter.emit(e, out);
        }
    }

    fn end(&mut self, failure: Option<&ApiError>, out: &mut VecDeque<Bytes>) {
        self.emitter
            .finish(failure.map(|e| e.message.as_str()), out);
    }

    fn tokens(&self) -> Option<TokenCounts> {
        self.usage
    }

    fn completed(&self) -> bool {
        self.done || self.parser.finished() || self.error.is_some()
    }

    fn provider_error(&self) -> Option<String> {
        self.error.clone()
    }

    fn tool_calls(&self) -> Vec<String> {
        self.tool_calls.clone()
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
