//! An Anthropic messages request as it is sent, borrowing the pivot's text.
//!
//! Building the request as a `Value` tree first copied every string of the client's
//! conversation into it (and hashed every key into an ordered map) only to serialize it
//! right after; these types serialize straight from the pivot. The request is assembled
//! by [`render_request`](super::render_request).

use super::render::BlockOut;
use crate::json_text::{close_with_fields, write_array, write_field};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

/// Written by hand as well ([`RequestOut::write_json`]): the model, the messages and the
/// system prompt, which carry the conversation's text; the options go through the
/// serializer. A field added to a block or a message goes in both; the tests that
/// compare the two catch one that is missed only if they set it.
#[derive(Serialize)]
pub struct RequestOut<'a> {
    pub model: &'a str,
    pub messages: Vec<MessageOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<ContentOut<'a>>,
    #[serde(flatten)]
    pub options: RequestOptions<'a>,
}

/// Everything of a request but its model, messages and system prompt.
#[derive(Serialize)]
pub struct RequestOptions<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    pub max_tokens: u64,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoiceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
}

impl RequestOut<'_> {
    /// Appends the request as JSON, byte for byte what serializing it writes (tests hold them
    /// together). The conversation is written here: a serializer looks up each byte of
    /// a string in an escape table, and [`write_string`](crate::json_text::write_string)
    /// checks eight bytes at a time. The options go through the serializer.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_field(out, b"{\"model\":", self.model);
        out.extend_from_slice(b",\"messages\":");
        write_array(out, &self.messages, |out, message| {
            write_field(out, b"{\"role\":", message.role);
            out.extend_from_slice(b",\"content\":");
            write_contents(out, &message.content)?;
            out.push(b'}');
            Ok(())
        })?;
        if !self.system.is_empty() {
            out.extend_from_slice(b",\"system\":");
            write_contents(out, &self.system)?;
        }
        close_with_fields(out, &self.options)
    }
}

fn write_contents(out: &mut Vec<u8>, contents: &[ContentOut<'_>]) -> serde_json::Result<()> {
    write_array(out, contents, |out, content| match content {
        ContentOut::Block(block) => block.write_json(out),
        ContentOut::Added(added) => serde_json::to_writer(out, added),
    })
}

#[derive(Serialize)]
pub struct MessageOut<'a> {
    pub role: &'static str,
    pub content: Vec<ContentOut<'a>>,
}

/// A content block: one of the client's, or one the gateway adds to keep the
/// conversation acceptable to Anthropic.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ContentOut<'a> {
    Block(BlockOut<'a>),
    Added(AddedBlock<'a>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AddedBlock<'a> {
    Text {
        text: String,
    },
    /// The result of a tool call the client never answered.
    #[serde(rename = "tool_result")]
    MissingResult {
        tool_use_id: &'a str,
        content: &'static str,
        is_error: bool,
    },
}

impl<'a> ContentOut<'a> {
    pub fn text(text: impl Into<String>) -> ContentOut<'a> {
        ContentOut::Added(AddedBlock::Text { text: text.into() })
    }

    pub fn missing_result(tool_use_id: &'a str) -> ContentOut<'a> {
        ContentOut::Added(AddedBlock::MissingResult {
            tool_use_id,
            content: "(no result)",
            is_error: true,
        })
    }
}

#[derive(Serialize)]
pub struct ThinkingOut {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub budget_tokens: u64,
}

#[derive(Serialize)]
pub struct ToolOut<'a> {
    pub name: &'a str,
    pub input_schema: &'a crate::translate::RawJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<&'a Value>,
}

#[derive(Serialize)]
pub struct ToolChoiceOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable_parallel_tool_use: bool,
}

/// Structured output: `{"format": {"type": "json_schema", "schema": ...}}`.
#[derive(Serialize)]
pub struct OutputConfig<'a> {
    pub format: SchemaFormat<'a>,
}

#[derive(Serialize)]
pub struct SchemaFormat<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub schema: Cow<'a, Value>,
}

#[derive(Serialize)]
pub struct Metadata<'a> {
    pub user_id: &'a str,
}
