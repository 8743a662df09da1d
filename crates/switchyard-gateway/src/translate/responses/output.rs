//! What a Responses client is sent: the response object, its output items and the
//! data of its stream events, as typed structs that borrow their text.
//!
//! Built as `Value` trees (an ordered map per object, every key and text copied into
//! it), a translated stream's events cost several times more to make than the rest of
//! translating it. Fields keep the order the events have always had: the event's own,
//! then `type` and `sequence_number` (see [`encode_event`]).

use crate::translate::openai::{CachedTokens, ReasoningTokens};
use bytes::Bytes;
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::io::Write;
use switchyard_store::TokenCounts;

/// An output item, in the response and in the events that open and close it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item<'a> {
    Message {
        id: Cow<'a, str>,
        status: &'static str,
        role: &'static str,
        /// No part while the message streams, its text once it is done.
        #[serde(serialize_with = "zero_or_one")]
        content: Option<OutputText<'a>>,
    },
    Reasoning {
        id: Cow<'a, str>,
        #[serde(serialize_with = "zero_or_one")]
        summary: Option<SummaryText<'a>>,
    },
    FunctionCall {
        id: Cow<'a, str>,
        call_id: Cow<'a, str>,
        name: Cow<'a, str>,
        arguments: Cow<'a, str>,
        status: &'static str,
    },
}

fn zero_or_one<T: Serialize, S: Serializer>(item: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    item.as_slice().serialize(s)
}

/// A message's text part.
#[derive(Serialize)]
pub struct OutputText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: Cow<'a, str>,
    annotations: [(); 0],
}

impl<'a> OutputText<'a> {
    pub fn new(text: impl Into<Cow<'a, str>>) -> OutputText<'a> {
        OutputText {
            kind: "output_text",
            text: text.into(),
            annotations: [],
        }
    }
}

/// A reasoning item's summary part.
#[derive(Serialize)]
pub struct SummaryText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: Cow<'a, str>,
}

impl<'a> SummaryText<'a> {
    pub fn new(text: impl Into<Cow<'a, str>>) -> SummaryText<'a> {
        SummaryText {
            kind: "summary_text",
            text: text.into(),
        }
    }
}

/// The response object: in `response.created` and `in_progress` with no output yet,
/// and whole in the event that ends the stream and in a complete answer.
#[derive(Serialize)]
pub struct ResponseBody<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created_at: u64,
    pub status: &'static str,
    pub model: &'a str,
    pub output: Vec<Item<'a>>,
    pub error: Option<ResponseError<'a>>,
    pub incomplete_details: Option<Incomplete>,
    pub parallel_tool_calls: bool,
    pub tool_choice: &'static str,
    pub tools: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

impl<'a> ResponseBody<'a> {
    /// A response with no output, error or usage yet.
    pub fn new(id: &'a str, model: &'a str, created_at: u64, status: &'static str) -> Self {
        ResponseBody {
            id,
            object: "response",
            created_at,
            status,
            model,
            output: Vec::new(),
            error: None,
            incomplete_details: None,
            parallel_tool_calls: true,
            tool_choice: "auto",
            tools: [],
            usage: None,
        }
    }
}

#[derive(Serialize)]
pub struct ResponseError<'a> {
    pub code: &'static str,
    pub message: &'a str,
}

/// Why a response stopped short: the only reason the gateway reports.
#[derive(Serialize)]
pub struct Incomplete {
    reason: &'static str,
}

impl Incomplete {
    pub const MAX_OUTPUT_TOKENS: Incomplete = Incomplete {
        reason: "max_output_tokens",
    };
}

/// Usage as the Responses API reports it.
#[derive(Serialize)]
pub struct Usage {
    input_tokens: u64,
    input_tokens_details: CachedTokens,
    output_tokens: u64,
    output_tokens_details: ReasoningTokens,
    total_tokens: u64,
}

impl From<&TokenCounts> for Usage {
    fn from(usage: &TokenCounts) -> Usage {
        let input = usage.total_input();
        Usage {
            input_tokens: input,
            input_tokens_details: CachedTokens {
                cached_tokens: usage.cache_read,
            },
            output_tokens: usage.output,
            output_tokens_details: ReasoningTokens {
                reasoning_tokens: usage.reasoning,
            },
            total_tokens: input + usage.output,
        }
    }
}

/// An event about an item: the item, as it opens or is done.
#[derive(Serialize)]
pub struct ItemEvent<'a> {
    pub output_index: usize,
    pub item: &'a Item<'a>,
}

/// An event about a part of an item (text, summary or arguments, whole or a delta);
/// the fields an event does not have are left out.
#[derive(Serialize)]
pub struct PartEvent<'a> {
    pub item_id: &'a str,
    pub output_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<Part<'a>>,
}

impl<'a> PartEvent<'a> {
    pub fn of(item_id: &'a str, output_index: usize) -> PartEvent<'a> {
        PartEvent {
            item_id,
            output_index,
            content_index: None,
            summary_index: None,
            delta: None,
            text: None,
            arguments: None,
            part: None,
        }
    }

    /// About the message's first (and only) content part.
    pub fn content(item_id: &'a str, output_index: usize) -> PartEvent<'a> {
        PartEvent {
            content_index: Some(0),
            ..PartEvent::of(item_id, output_index)
        }
    }

    /// About the reasoning item's first (and only) summary part.
    pub fn summary(item_id: &'a str, output_index: usize) -> PartEvent<'a> {
        PartEvent {
            summary_index: Some(0),
            ..PartEvent::of(item_id, output_index)
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum Part<'a> {
    Text(OutputText<'a>),
    Summary(SummaryText<'a>),
}

/// An event about the whole response.
#[derive(Serialize)]
pub struct ResponseEvent<'a> {
    pub response: &'a ResponseBody<'a>,
}

/// One SSE event: `data` is the event's own fields, followed by its `type` (the event
/// name) and `sequence_number`.
pub fn encode_event(kind: &'static str, sequence: u64, data: &impl Serialize) -> Bytes {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    let start = out.len();
    // Writing into a Vec cannot fail: every key is a string and there is no I/O.
    if serde_json::to_writer(&mut out, data).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"{}");
    }
    // Reopen the object to add the two fields every event ends with (the event names
    // are plain ASCII: nothing to escape).
    out.pop();
    if out.len() > start + 1 {
        out.push(b',');
    }
    out.extend_from_slice(b"\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    let _ = write!(out, "\",\"sequence_number\":{sequence}}}\n\n");
    Bytes::from(out)
}
