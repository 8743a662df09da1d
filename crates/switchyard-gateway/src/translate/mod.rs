//! Translation between client and provider wire formats through one pivot
//! representation: a request, a response and stream events that every format
//! converts to and from. Same-format requests never come here; they pass through.
//!
//! Each format has its own module with the conversions in both directions
//! ([`openai`], [`anthropic`], [`gemini`]); [`stream`] turns a provider's event stream into the
//! client's, event by event.

pub mod anthropic;
pub mod convert;
#[cfg(test)]
mod fixtures;
pub mod gemini;
#[cfg(test)]
mod json_gen;
mod lenient;
mod object_only;
pub mod openai;
mod raw_json;
pub mod responses;
pub mod stream;
#[cfg(test)]
mod tests;
mod wire_content;

use crate::errors::ApiError;
pub use raw_json::RawJson;
use serde_json::Value;
use std::borrow::Cow;
use switchyard_store::TokenCounts;

/// A chat request, whatever format it came in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// Top-level system prompt blocks (text, possibly with `cache_control`).
    pub system: Vec<Block>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub reasoning: Option<Reasoning>,
    pub response_format: Option<Value>,
    pub user: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// A system or developer message in the middle of a conversation.
    System,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

/// `cache_control` as the client wrote it (kept for Claude-family targets only).
pub type CacheControl = Option<Value>;

#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Text {
        text: String,
        cache: CacheControl,
    },
    Image {
        source: MediaSource,
        cache: CacheControl,
    },
    /// A PDF or other document.
    Document {
        source: MediaSource,
        cache: CacheControl,
    },
    ToolUse {
        id: String,
        name: String,
        input: RawJson,
        cache: CacheControl,
    },
    ToolResult {
        id: String,
        content: Vec<Block>,
        is_error: bool,
        cache: CacheControl,
    },
    /// Reasoning text; `signature` is set when it came from Anthropic and must be
    /// echoed back unchanged.
    Thinking {
        text: String,
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum MediaSource {
    Base64 { media_type: String, data: String },
    Url(String),
}

impl MediaSource {
    /// Parses a `data:<media type>;base64,<data>` URL, or keeps any other URL.
    pub fn from_url(url: &str) -> MediaSource {
        if let Some(rest) = url.strip_prefix("data:") {
            if let Some((meta, data)) = rest.split_once(',') {
                if let Some(media_type) = meta.strip_suffix(";base64") {
                    return MediaSource::Base64 {
                        media_type: media_type.to_string(),
                        data: data.to_string(),
                    };
                }
            }
        }
        MediaSource::Url(url.to_string())
    }

    pub fn to_url(&self) -> String {
        self.to_string()
    }
}

/// The source as a URL: `data:` for inline data. Writable without building the string
/// first, which matters for inline images of several megabytes.
impl std::fmt::Display for MediaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaSource::Base64 { media_type, data } => {
                write!(f, "data:{media_type};base64,{data}")
            }
            MediaSource::Url(url) => f.write_str(url),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON schema of the input.
    pub schema: RawJson,
    pub cache: CacheControl,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ToolChoice {
    Auto,
    None,
    /// Some tool must be called (`required` / `any`).
    Required,
    Named(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    None,
    Low,
    Medium,
    High,
    Max,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reasoning {
    Effort(Effort),
    /// A thinking budget in tokens.
    Budget(u64),
}

/// Anthropic thinking budgets for reasoning efforts (Requesty's conversion table).
pub fn effort_budget(effort: Effort, max_output: Option<u64>) -> Option<u64> {
    let budget = match effort {
        Effort::None => return None,
        Effort::Low => 1024,
        Effort::Medium => 8192,
        Effort::High => 16384,
        Effort::Max => max_output.unwrap_or(32_000).saturating_sub(1),
    };
    Some(match max_output {
        Some(max) => budget.min(max.saturating_sub(1)),
        None => budget,
    })
}

/// The effort a thinking budget corresponds to.
pub fn budget_effort(budget: u64) -> Effort {
    match budget {
        0 => Effort::None,
        1..=1024 => Effort::Low,
        1025..=8192 => Effort::Medium,
        _ => Effort::High,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    ToolUse,
    StopSequence(Option<String>),
    Refusal,
    ContentFilter,
}

/// A complete answer, whatever format it came in.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub id: String,
    pub model: String,
    pub content: Vec<Block>,
    pub stop: StopReason,
    pub usage: TokenCounts,
}

impl Response {
    /// Tool calls win over a plain `stop` that some providers send alongside them.
    pub fn effective_stop(&self) -> StopReason {
        let has_tool_use = self
            .content
            .iter()
            .any(|b| matches!(b, Block::ToolUse { .. }));
        match &self.stop {
            StopReason::EndTurn if has_tool_use => StopReason::ToolUse,
            other => other.clone(),
        }
    }
}

/// What a target provider can take, for the request conversions.
#[derive(Clone, Copy, Debug, Default)]
pub struct Target {
    /// Claude-family models keep `cache_control`.
    pub keeps_cache_control: bool,
    /// DeepSeek-style providers want earlier reasoning back as `reasoning_content`.
    pub wants_reasoning_content: bool,
    /// OpenAI itself takes `max_completion_tokens`; other compatible servers `max_tokens`.
    pub uses_max_completion_tokens: bool,
    /// The model's output limit, when known (for defaults and clamps).
    pub max_output_tokens: Option<u64>,
}

/// The error code of a request body that is not JSON: no provider can read it, so it
/// is not sent on to the next one.
pub const INVALID_JSON: &str = "invalid_json";

/// A request body that does not parse as JSON.
pub fn not_json(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request(format!("Request body is not valid JSON: {e}")).with_code(INVALID_JSON)
}

pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// Longest tool name OpenAI-style providers accept.
pub const MAX_TOOL_NAME: usize = 64;

/// Shortens a tool name to `limit` characters, reversibly: a prefix and a hash of the
/// whole name, so the answer's tool calls can be mapped back.
pub fn shorten_tool_name(name: &str, limit: usize) -> String {
    if name.len() <= limit {
        return name.to_string();
    }
    let hash = xxhash_rust::xxh3::xxh3_64(name.as_bytes());
    let suffix = format!("_{:08x}", hash as u32);
    let mut cut = limit - suffix.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &name[..cut])
}

/// Maps shortened tool names back to the client's names.
#[derive(Clone, Debug, Default)]
pub struct ToolNames {
    shortened: Vec<(String, String)>,
}

impl ToolNames {
    pub fn for_tools(tools: &[Tool], limit: usize) -> ToolNames {
        ToolNames {
            shortened: tools
                .iter()
                .filter(|t| t.name.len() > limit)
                .map(|t| (shorten_tool_name(&t.name, limit), t.name.clone()))
                .collect(),
        }
    }

    /// The name to send to the provider.
    pub fn outbound<'a>(&'a self, name: &'a str) -> &'a str {
        self.shortened
            .iter()
            .find(|(_, original)| original == name)
            .map_or(name, |(short, _)| short.as_str())
    }

    /// The client's name for a name the provider used.
    pub fn inbound(&self, name: &str) -> String {
        self.shortened
            .iter()
            .find(|(short, _)| short == name)
            .map(|(_, original)| original.clone())
            .unwrap_or_else(|| name.to_string())
    }
}

/// Text of the blocks, joined (for formats that only take a string).
pub fn joined_text(blocks: &[Block]) -> String {
    text_content(blocks).into_owned()
}

/// The reasoning blocks' text, one per line as chat formats carry it; `None` without any.
pub fn reasoning_text(blocks: &[Block]) -> Option<String> {
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Thinking { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// The text blocks' text joined by blank lines, borrowed when there is one block.
pub fn text_content<'a>(blocks: impl IntoIterator<Item = &'a Block>) -> Cow<'a, str> {
    let mut texts = blocks.into_iter().filter_map(|b| match b {
        Block::Text { text, .. } => Some(text.as_str()),
        _ => None,
    });
    let Some(first) = texts.next() else {
        return Cow::Borrowed("");
    };
    let Some(second) = texts.next() else {
        return Cow::Borrowed(first);
    };
    let mut joined = [first, second].join("\n\n");
    for text in texts {
        joined.push_str("\n\n");
        joined.push_str(text);
    }
    Cow::Owned(joined)
}

/// A field's value taken out of `v` (null when missing), to move rather than copy it.
pub fn take(v: &mut Value, key: &str) -> Value {
    v.get_mut(key).map(Value::take).unwrap_or(Value::Null)
}

/// A JSON string field, if present.
pub fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A JSON string field, if present, as an owned string.
pub fn string_field(v: &Value, key: &str) -> Option<String> {
    str_field(v, key).map(str::to_string)
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn data_urls_parse_with_their_media_type() {
        assert_eq!(
            MediaSource::from_url("data:image/png;base64,AAAA"),
            MediaSource::Base64 {
                media_type: "image/png".into(),
                data: "AAAA".into()
            }
        );
        let url = MediaSource::from_url("https://x/y.png");
        assert_eq!(url, MediaSource::Url("https://x/y.png".into()));
        assert_eq!(url.to_url(), "https://x/y.png");
    }

    #[test]
    fn long_tool_names_shorten_reversibly() {
        let long = "mcp__some_server__".to_string() + &"a".repeat(80);
        let tools = vec![Tool {
            name: long.clone(),
            description: None,
            schema: Value::Null.into(),
            cache: None,
        }];
        let names = ToolNames::for_tools(&tools, MAX_TOOL_NAME);
        let short = names.outbound(&long);
        assert_eq!(short.len(), MAX_TOOL_NAME);
        assert_eq!(names.inbound(short), long);
        assert_eq!(names.outbound("short"), "short");
        assert_ne!(shorten_tool_name(&(long.clone() + "x"), 64), short);
    }

    #[test]
    fn efforts_map_to_budgets_within_the_output_limit() {
        assert_eq!(effort_budget(Effort::Low, None), Some(1024));
        assert_eq!(effort_budget(Effort::Medium, None), Some(8192));
        assert_eq!(effort_budget(Effort::High, Some(64_000)), Some(16384));
        assert_eq!(effort_budget(Effort::High, Some(8192)), Some(8191));
        assert_eq!(effort_budget(Effort::None, None), None);
        assert_eq!(budget_effort(1024), Effort::Low);
        assert_eq!(budget_effort(8192), Effort::Medium);
        assert_eq!(budget_effort(20_000), Effort::High);
    }
}
