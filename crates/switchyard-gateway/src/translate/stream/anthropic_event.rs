//! The events of an Anthropic message stream, written as they are rather than built as
//! `Value` trees first: a translated stream writes one per provider event.

use crate::sse::encode_event;
use crate::translate::anthropic::Usage;
use bytes::Bytes;
use serde::Serialize;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent<'a> {
    MessageStart {
        message: MessageStart<'a>,
    },
    ContentBlockStart {
        index: u64,
        content_block: BlockStart<'a>,
    },
    ContentBlockDelta {
        index: u64,
        delta: BlockDelta<'a>,
    },
    ContentBlockStop {
        index: u64,
    },
    MessageDelta {
        delta: MessageDelta<'a>,
        usage: Usage,
    },
    MessageStop,
    Error {
        error: ErrorBody<'a>,
    },
}

impl StreamEvent<'_> {
    /// The SSE event: its name is its type.
    pub fn encode(&self) -> Bytes {
        let name = match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Error { .. } => "error",
        };
        encode_event(Some(name), self)
    }
}

/// The message as `message_start` announces it: empty, with the usage known so far.
#[derive(Serialize)]
pub struct MessageStart<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: &'a str,
    pub content: [(); 0],
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<&'a str>,
    pub usage: Usage,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockStart<'a> {
    Text {
        text: &'static str,
    },
    Thinking {
        thinking: &'static str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyObject,
    },
}

/// `{}`: a tool call's input before its arguments stream in.
#[derive(Serialize)]
pub struct EmptyObject {}

/// The `delta` of a `content_block_delta` event, the most frequent event of a stream.
#[derive(Serialize)]
#[serde(tag = "type")]
pub enum BlockDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
pub struct MessageDelta<'a> {
    pub stop_reason: &'static str,
    pub stop_sequence: Option<&'a str>,
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: &'a str,
}
