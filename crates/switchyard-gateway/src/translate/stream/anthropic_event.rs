//! The events of an Anthropic message stream, written as they are rather than built as
//! `Value` trees first: a translated stream writes one per provider event.

use crate::json_text::{write_field, write_optional_field, write_string};
use crate::sse::encode_event;
use crate::translate::anthropic::{write_message_head, Usage};
use bytes::Bytes;
use serde::Serialize;

/// An event of an Anthropic message stream.
///
/// Written by hand as well (`StreamEvent::encode`): a field or variant added here or in
/// the types below goes there too; the tests that compare the two catch one that is
/// missed only if they set it.
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
    ///
    /// Written around its strings and numbers rather than serialized field by field:
    /// a serializer escapes every key and tag at run time (five to fifteen per event),
    /// which cost more than the rest of translating the event. Byte for byte what
    /// serializing the event writes (a test holds them together).
    pub fn encode(&self) -> Bytes {
        match self {
            StreamEvent::ContentBlockDelta { index, delta } => encode_delta(*index, delta),
            StreamEvent::MessageStart { message } => {
                let mut out = begin("message_start", 320);
                out.extend_from_slice(b",\"message\":");
                let MessageStart {
                    id,
                    kind,
                    role,
                    model,
                    ..
                } = message;
                write_message_head(&mut out, id, kind, role, model);
                out.extend_from_slice(b",\"content\":[]");
                write_optional_field(&mut out, b",\"stop_reason\":", message.stop_reason);
                write_optional_field(&mut out, b",\"stop_sequence\":", message.stop_sequence);
                out.extend_from_slice(b",\"usage\":");
                message.usage.write_json(&mut out);
                end(out, b"}}")
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let mut out = begin("content_block_start", 160);
                write_index(&mut out, *index);
                out.extend_from_slice(b",\"content_block\":{\"type\":");
                match content_block {
                    BlockStart::Text { text } => {
                        write_field(&mut out, b"\"text\",\"text\":", text);
                    }
                    BlockStart::Thinking { thinking } => {
                        write_field(&mut out, b"\"thinking\",\"thinking\":", thinking);
                    }
                    BlockStart::ToolUse { id, name, .. } => {
                        write_field(&mut out, b"\"tool_use\",\"id\":", id);
                        write_field(&mut out, b",\"name\":", name);
                        out.extend_from_slice(b",\"input\":{}");
                    }
                }
                end(out, b"}}")
            }
            StreamEvent::ContentBlockStop { index } => {
                let mut out = begin("content_block_stop", 96);
                write_index(&mut out, *index);
                end(out, b"}")
            }
            StreamEvent::MessageDelta { delta, usage } => {
                let mut out = begin("message_delta", 224);
                write_field(&mut out, b",\"delta\":{\"stop_reason\":", delta.stop_reason);
                write_optional_field(&mut out, b",\"stop_sequence\":", delta.stop_sequence);
                out.extend_from_slice(b"},\"usage\":");
                usage.write_json(&mut out);
                end(out, b"}")
            }
            StreamEvent::MessageStop => {
                Bytes::from_static(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
            }
            // Once in a failed stream: not worth writing by hand.
            StreamEvent::Error { .. } => encode_event(Some("error"), self),
        }
    }
}

/// `event: NAME` and the data's opening `{"type":"NAME"`.
fn begin(name: &str, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: {\"type\":\"");
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
    out
}

/// Closes the data's objects (`closing`) and the event.
fn end(mut out: Vec<u8>, closing: &[u8]) -> Bytes {
    out.extend_from_slice(closing);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

fn write_index(out: &mut Vec<u8>, index: u64) {
    out.extend_from_slice(b",\"index\":");
    out.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
}

/// A `content_block_delta` event, by far the most frequent of a stream.
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
    write_string(&mut out, text);
    end(out, b"}}")
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

    #[test]
    fn every_other_event_is_written_exactly_as_serializing_it_writes_it() {
        let counts = switchyard_store::TokenCounts {
            input: 212,
            cache_read: 7,
            cache_write_5m: 1,
            cache_write_1h: u64::MAX - 1,
            output: 0,
            reasoning: 3,
        };
        let strange = "quote \" backslash \\ newline \n nul \u{0} caf\u{e9} \u{1f600}";
        let mut events = Vec::new();
        for text in ["", "msg_01", strange] {
            for (stop_reason, stop_sequence) in [(None, None), (Some("end_turn"), Some(text))] {
                let message = MessageStart {
                    id: text,
                    kind: "message",
                    role: "assistant",
                    model: text,
                    content: [],
                    stop_reason,
                    stop_sequence,
                    usage: Usage::from(&counts),
                };
                events.push(StreamEvent::MessageStart { message });
            }
            for index in [0, 7, u64::MAX] {
                let blocks = [
                    BlockStart::Text { text: "" },
                    BlockStart::Thinking { thinking: "" },
                    BlockStart::ToolUse {
                        id: text,
                        name: text,
                        input: EmptyObject {},
                    },
                ];
                for content_block in blocks {
                    events.push(StreamEvent::ContentBlockStart {
                        index,
                        content_block,
                    });
                }
                events.push(StreamEvent::ContentBlockStop { index });
            }
            for stop_sequence in [None, Some(text)] {
                let delta = MessageDelta {
                    stop_reason: "stop_sequence",
                    stop_sequence,
                };
                let usage = Usage::from(&switchyard_store::TokenCounts::default());
                events.push(StreamEvent::MessageDelta { delta, usage });
            }
            let error = ErrorBody {
                kind: "api_error",
                message: text,
            };
            events.push(StreamEvent::Error { error });
        }
        events.push(StreamEvent::MessageStop);
        for event in events {
            let name = serde_json::to_value(&event).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string();
            let serialized = encode_event(Some(&name), &event);
            assert_eq!(
                String::from_utf8_lossy(&event.encode()),
                String::from_utf8_lossy(&serialized)
            );
        }
    }
}
