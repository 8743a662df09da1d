//! Anthropic content blocks and complete answers written from the pivot, borrowing its
//! text instead of copying it into a `Value` tree first.

use super::super::*;
use super::{stop_name, write_message_head, Usage};
use crate::json_text::{write_array, write_field, write_optional_field};
use serde::Serialize;

/// One content block as Anthropic takes it. Text, tool calls and their results, and
/// signed reasoning are written by hand as well ([`BlockOut::write_json`]): a field
/// added to one of them goes in both.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockOut<'a> {
    Text {
        text: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    Image {
        source: SourceOut<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    Document {
        source: SourceOut<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: ToolInput<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: Vec<BlockOut<'a>>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

impl BlockOut<'_> {
    /// The block as JSON, byte for byte what serializing it writes. The blocks that
    /// carry a conversation's text are written here (see `RequestOut::write_json`); media
    /// and redacted reasoning go through the serializer.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            BlockOut::Text {
                text,
                cache_control,
            } => {
                write_field(out, b"{\"type\":\"text\",\"text\":", text);
                write_cache_control(out, *cache_control)?;
            }
            BlockOut::ToolUse {
                id,
                name,
                input,
                cache_control,
            } => {
                write_field(out, b"{\"type\":\"tool_use\",\"id\":", id);
                write_field(out, b",\"name\":", name);
                out.extend_from_slice(b",\"input\":");
                match input {
                    ToolInput::Object(raw) => out.extend_from_slice(raw.json().as_bytes()),
                    ToolInput::Empty {} => out.extend_from_slice(b"{}"),
                }
                write_cache_control(out, *cache_control)?;
            }
            BlockOut::ToolResult {
                tool_use_id,
                content,
                is_error,
                cache_control,
            } => {
                write_field(
                    out,
                    b"{\"type\":\"tool_result\",\"tool_use_id\":",
                    tool_use_id,
                );
                out.extend_from_slice(b",\"content\":");
                write_blocks(out, content)?;
                if *is_error {
                    out.extend_from_slice(b",\"is_error\":true");
                }
                write_cache_control(out, *cache_control)?;
            }
            BlockOut::Thinking {
                thinking,
                signature,
            } => {
                write_field(out, b"{\"type\":\"thinking\",\"thinking\":", thinking);
                write_field(out, b",\"signature\":", signature);
                out.push(b'}');
            }
            other => serde_json::to_writer(&mut *out, other)?,
        }
        Ok(())
    }
}

/// A list of blocks as JSON, written as [`BlockOut::write_json`] writes each.
pub fn write_blocks(out: &mut Vec<u8>, blocks: &[BlockOut<'_>]) -> serde_json::Result<()> {
    write_array(out, blocks, |out, block| block.write_json(out))
}

/// A block's optional `cache_control`, then the block's closing brace.
fn write_cache_control(out: &mut Vec<u8>, cache_control: Option<&Value>) -> serde_json::Result<()> {
    if let Some(cache_control) = cache_control {
        out.extend_from_slice(b",\"cache_control\":");
        serde_json::to_writer(&mut *out, cache_control)?;
    }
    out.push(b'}');
    Ok(())
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceOut<'a> {
    Base64 { media_type: &'a str, data: &'a str },
    Url { url: &'a str },
}

/// A tool call's input: Anthropic takes only an object.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ToolInput<'a> {
    Object(&'a crate::translate::RawJson),
    Empty {},
}

fn source(source: &MediaSource) -> SourceOut<'_> {
    match source {
        MediaSource::Base64 { media_type, data } => SourceOut::Base64 { media_type, data },
        MediaSource::Url(url) => SourceOut::Url { url },
    }
}

/// A pivot block for Anthropic; `None` for what Anthropic would refuse (empty text,
/// reasoning without Anthropic's signature).
pub fn block<'a>(b: &'a Block, target: &Target) -> Option<BlockOut<'a>> {
    let kept = |cache: &'a CacheControl| cache.as_ref().filter(|_| target.keeps_cache_control);
    Some(match b {
        Block::Text { text, cache } => {
            if text.is_empty() {
                return None;
            }
            BlockOut::Text {
                text,
                cache_control: kept(cache),
            }
        }
        Block::Image { source: s, cache } => BlockOut::Image {
            source: source(s),
            cache_control: kept(cache),
        },
        Block::Document { source: s, cache } => BlockOut::Document {
            source: source(s),
            cache_control: kept(cache),
        },
        Block::ToolUse {
            id,
            name,
            input,
            cache,
        } => BlockOut::ToolUse {
            id,
            name,
            input: if input.is_object() {
                ToolInput::Object(input)
            } else {
                ToolInput::Empty {}
            },
            cache_control: kept(cache),
        },
        Block::ToolResult {
            id,
            content,
            is_error,
            cache,
        } => BlockOut::ToolResult {
            tool_use_id: id,
            content: content.iter().filter_map(|c| block(c, target)).collect(),
            is_error: *is_error,
            cache_control: kept(cache),
        },
        // Only Anthropic's own, signed thinking can go back to Anthropic.
        Block::Thinking {
            text,
            signature: Some(signature),
        } => BlockOut::Thinking {
            thinking: text,
            signature,
        },
        Block::Thinking {
            signature: None, ..
        } => return None,
        Block::RedactedThinking { data } => BlockOut::RedactedThinking { data },
    })
}

/// A complete answer as Claude would have given it.
///
/// Written by hand as well (`Answer::to_json`): a field added here goes there too; the
/// tests that compare the two catch one that is missed only if they set it.
#[derive(Serialize)]
pub struct Answer<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<BlockOut<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    usage: Usage,
}

impl Answer<'_> {
    /// The answer as JSON, byte for byte what serializing it writes (a test holds them
    /// together), with the envelope's keys written as they are: a serializer escapes
    /// each key at run time, which cost more than the rest of writing a short answer.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        write_message_head(&mut out, self.id, self.kind, self.role, self.model);
        out.extend_from_slice(b",\"content\":");
        write_blocks(&mut out, &self.content)?;
        write_field(&mut out, b",\"stop_reason\":", self.stop_reason);
        write_optional_field(&mut out, b",\"stop_sequence\":", self.stop_sequence);
        out.extend_from_slice(b",\"usage\":");
        self.usage.write_json(&mut out);
        out.push(b'}');
        Ok(out)
    }
}

/// The pivot as an Anthropic response for the client that asked for `model`.
pub fn render_response<'a>(response: &'a Response, model: &'a str) -> Answer<'a> {
    let target = Target::default();
    let content = response
        .content
        .iter()
        .filter_map(|b| match b {
            // Reasoning from other providers has no signature; clients still see it.
            Block::Thinking {
                text,
                signature: None,
            } => Some(BlockOut::Thinking {
                thinking: text,
                signature: "",
            }),
            other => block(other, &target),
        })
        .collect();
    let stop = response.effective_stop();
    Answer {
        id: &response.id,
        kind: "message",
        role: "assistant",
        model,
        content,
        stop_reason: stop_name(&stop),
        stop_sequence: match &response.stop {
            StopReason::StopSequence(s) => s.as_deref(),
            _ => None,
        },
        usage: Usage::from(&response.usage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_written_exactly_as_serializing_them_writes_them() {
        let strange = "quote \" backslash \\ newline \n nul \u{0} caf\u{e9} \u{1f600}";
        let cache = serde_json::json!({"type": "ephemeral", "ttl": "1h"});
        let input =
            RawJson::parse(r#"{ "path": "a \"b\"", "n": 1.50 }"#.to_string()).expect("JSON");
        let image = MediaSource::Base64 {
            media_type: "image/png".into(),
            data: "iVBOR".into(),
        };
        let text = |cache_control| BlockOut::Text {
            text: strange,
            cache_control,
        };
        let mut blocks = Vec::new();
        for cache_control in [None, Some(&cache)] {
            blocks.push(text(cache_control));
            for input in [ToolInput::Object(&input), ToolInput::Empty {}] {
                blocks.push(BlockOut::ToolUse {
                    id: strange,
                    name: "Bash",
                    input,
                    cache_control,
                });
            }
            for is_error in [false, true] {
                for content in [
                    vec![],
                    vec![text(None)],
                    vec![
                        text(Some(&cache)),
                        BlockOut::Image {
                            source: source(&image),
                            cache_control,
                        },
                    ],
                ] {
                    blocks.push(BlockOut::ToolResult {
                        tool_use_id: strange,
                        content,
                        is_error,
                        cache_control,
                    });
                }
            }
        }
        blocks.push(BlockOut::Thinking {
            thinking: strange,
            signature: "sig",
        });
        blocks.push(BlockOut::RedactedThinking { data: strange });
        for block in &blocks {
            let mut written = Vec::new();
            block.write_json(&mut written).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(block).unwrap()
            );
        }
    }

    #[test]
    fn answers_are_written_exactly_as_serializing_them_writes_them() {
        let strange = "quote \" backslash \\ newline \n nul \u{0} caf\u{e9} \u{1f600}";
        let stops = [
            StopReason::EndTurn,
            StopReason::MaxTokens,
            StopReason::StopSequence(None),
            StopReason::StopSequence(Some(strange.into())),
            StopReason::Refusal,
        ];
        let contents = [
            vec![],
            vec![Block::Text {
                text: strange.into(),
                cache: None,
            }],
            vec![
                Block::Thinking {
                    text: "hmm".into(),
                    signature: None,
                },
                Block::Text {
                    text: "Let me check.".into(),
                    cache: None,
                },
                Block::ToolUse {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    input: serde_json::json!({"city": strange}).into(),
                    cache: None,
                },
            ],
        ];
        for stop in stops {
            for content in &contents {
                let response = Response {
                    id: strange.into(),
                    model: "gpt-4.1".into(),
                    content: content.clone(),
                    stop: stop.clone(),
                    usage: TokenCounts {
                        input: 40,
                        cache_read: 60,
                        cache_write_5m: 5,
                        cache_write_1h: 1,
                        output: 20,
                        reasoning: 3,
                    },
                };
                for model in ["claude", strange] {
                    let answer = render_response(&response, model);
                    assert_eq!(
                        String::from_utf8(answer.to_json().unwrap()).unwrap(),
                        serde_json::to_string(&answer).unwrap()
                    );
                }
            }
        }
    }
}
