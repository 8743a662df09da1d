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
            StreamEvent::ContentBlockDelta { index, delta } => return encode_delta(*index, delta),
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Error { .. } => "error",
        };
        encode_event(Some(name), self)
    }
}

/// A `content_block_delta` event, by far the most frequent of a stream, written around
/// its one string: serialized field by field, its keys and tags (five per event) were
/// each escaped at run time, which cost more than the rest of translating the event.
/// Byte for byte what serializing the event writes (a test holds them together).
fn encode_delta(index: u64, delta: &BlockDelta<'_>) -> Bytes {
    let (kind, field, text) = match delta {
        BlockDelta::Text { text } => ("text_delta", "text", text),
        BlockDelta::Thinking { thinking } => ("thinking_delta", "thinking", thinking),
        BlockDelta::Signature { signature } => ("signature_delta", "signature", signature),
        BlockDelta::InputJson { partial_json } => {
            ("input_json_delta", "partial_json", partial_json)
        }
    };
    let mut out = Vec::with_capacity(128 + text.len());
    out.extend_from_slice(
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":",
    );
    out.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
    out.extend_from_slice(b",\"delta\":{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":");
    // Writing a string into a Vec cannot fail.
    if serde_json::to_writer(&mut out, text).is_err() {
        out.extend_from_slice(b"\"\"");
    }
    out.extend_from_slice(b"}}\n\n");
    Bytes::from(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::encode_event;

    #[test]
    fn deltas_are_written_exactly_as_serializing_them_writes_them() {
        let texts = [
            "",
            "Hello",
            "quote \" backslash \\ slash / tab \t newline \n nul \u{0} bell \u{7} del \u{7f}",
            "caf\u{e9} \u{1f600} \u{2028}\u{2029} </script>",
            "{\"partial\": [1, 2",
        ];
        for index in [0, 7, u64::MAX] {
            for text in texts {
                let deltas = [
                    BlockDelta::Text { text },
                    BlockDelta::Thinking { thinking: text },
                    BlockDelta::Signature { signature: text },
                    BlockDelta::InputJson { partial_json: text },
                ];
                for delta in deltas {
                    let event = StreamEvent::ContentBlockDelta { index, delta };
                    let serialized = encode_event(Some("content_block_delta"), &event);
                    assert_eq!(
                        event.encode(),
                        serialized,
                        "{}",
                        String::from_utf8_lossy(&serialized)
                    );
                }
            }
        }
    }
}
