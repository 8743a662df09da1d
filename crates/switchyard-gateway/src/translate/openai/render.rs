//! The pivot request as an OpenAI chat request, written straight to JSON.
//!
//! The request is a view that borrows the pivot's text, schemas and tool inputs, so an
//! agent's conversation (hundreds of KB) is written out once instead of being copied
//! into a `Value` tree first and then serialized from it.

use super::super::*;
use crate::json_text::{close_with_fields, write_array, write_field, write_string};
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::sync::LazyLock;

/// Leads the images a tool returned, which chat `tool` messages cannot carry.
static TOOL_IMAGES_NOTE: LazyLock<Block> = LazyLock::new(|| Block::Text {
    text: "(images returned by the tool call above)".into(),
    cache: None,
});

/// An OpenAI chat completions request borrowing from the pivot.
#[derive(Serialize)]
pub struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<ChatMessage<'a>>,
    #[serde(flatten)]
    options: ChatOptions<'a>,
}

/// Everything of a chat request but its model and messages.
#[derive(Serialize)]
struct ChatOptions<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ChatTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ChatToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

impl ChatRequest<'_> {
    /// Appends the request as JSON, byte for byte what serializing it writes (a test holds them
    /// together). The messages, which carry the whole conversation as text, are written
    /// here: a serializer looks up each byte of a string in an escape table, and that
    /// was the largest single cost of translating a request; [`write_string`] checks
    /// eight bytes at a time. The options go through the serializer.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_field(out, b"{\"model\":", self.model);
        out.extend_from_slice(b",\"messages\":");
        write_array(out, &self.messages, |out, message| message.write_json(out))?;
        close_with_fields(out, &self.options)
    }
}

impl ChatMessage<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_field(out, b"{\"role\":", self.role);
        if let Some(id) = self.tool_call_id {
            write_field(out, b",\"tool_call_id\":", id);
        }
        out.extend_from_slice(b",\"content\":");
        match &self.content {
            Content::Text(text) => write_string(out, text),
            Content::Parts(parts) => write_array(out, parts, |out, part| part.write_json(out))?,
            Content::Null => out.extend_from_slice(b"null"),
        }
        if !self.tool_calls.is_empty() {
            out.extend_from_slice(b",\"tool_calls\":");
            write_array(out, &self.tool_calls, |out, call| {
                write_field(out, b"{\"id\":", call.id);
                write_field(out, b",\"type\":", call.kind);
                write_field(out, b",\"function\":{\"name\":", call.function.name);
                write_field(out, b",\"arguments\":", &call.function.arguments);
                out.extend_from_slice(b"}}");
                Ok(())
            })?;
        }
        if let Some(reasoning) = &self.reasoning_content {
            write_field(out, b",\"reasoning_content\":", reasoning);
        }
        out.push(b'}');
        Ok(())
    }
}

impl Part<'_> {
    /// Text parts by hand (a system prompt with cache markers is one); images and
    /// files, whose data URLs are written by [`Url`], through the serializer.
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Part::Text {
                text,
                cache_control,
            } => {
                write_field(out, b"{\"type\":\"text\",\"text\":", text);
                if let Some(cache_control) = cache_control {
                    out.extend_from_slice(b",\"cache_control\":");
                    serde_json::to_writer(&mut *out, cache_control)?;
                }
                out.push(b'}');
                Ok(())
            }
            other => serde_json::to_writer(out, other),
        }
    }
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// A message of a chat request. Written by hand as well (`ChatMessage::write_json`,
/// with `Part::write_json` and the tool calls): a field added here or there goes in
/// both; the tests that compare the two catch one that is missed only if they set it.
#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
    content: Content<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ChatToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
}

impl<'a> ChatMessage<'a> {
    fn new(role: &'static str, content: Content<'a>) -> ChatMessage<'a> {
        ChatMessage {
            role,
            tool_call_id: None,
            content,
            tool_calls: Vec::new(),
            reasoning_content: None,
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
    /// An assistant turn with only tool calls.
    Null,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    Text {
        text: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    ImageUrl {
        image_url: ImageUrl<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    File {
        file: FileData<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
}

#[derive(Serialize)]
struct ImageUrl<'a> {
    url: Url<'a>,
}

#[derive(Serialize)]
struct FileData<'a> {
    filename: &'static str,
    file_data: Url<'a>,
}

/// A media source as a URL (`data:` for inline data), written without building the
/// URL first: inline images run to megabytes.
struct Url<'a>(&'a MediaSource);

impl Serialize for Url<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self.0)
    }
}

#[derive(Serialize)]
struct ChatToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: CallFunction<'a>,
}

#[derive(Serialize)]
struct CallFunction<'a> {
    name: &'a str,
    /// The arguments as a JSON document in a string, as chat completions carry them.
    arguments: String,
}

#[derive(Serialize)]
struct ChatTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: ToolFunction<'a>,
}

#[derive(Serialize)]
struct ToolFunction<'a> {
    name: &'a str,
    parameters: &'a crate::translate::RawJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ChatToolChoice<'a> {
    Mode(&'static str),
    Named {
        #[serde(rename = "type")]
        kind: &'static str,
        function: NamedFunction<'a>,
    },
}

#[derive(Serialize)]
struct NamedFunction<'a> {
    name: &'a str,
}

fn render_part<'a>(b: &'a Block, target: &Target) -> Option<Part<'a>> {
    let kept = |cache: &'a CacheControl| cache.as_ref().filter(|_| target.keeps_cache_control);
    Some(match b {
        Block::Text { text, cache } => Part::Text {
            text,
            cache_control: kept(cache),
        },
        Block::Image { source, cache } => Part::ImageUrl {
            image_url: ImageUrl { url: Url(source) },
            cache_control: kept(cache),
        },
        Block::Document { source, cache } => Part::File {
            file: FileData {
                filename: "document.pdf",
                file_data: Url(source),
            },
            cache_control: kept(cache),
        },
        _ => return None,
    })
}

/// Content as a plain string when it is only text (what every compatible server takes),
/// else as parts.
fn render_content<'a>(blocks: &[&'a Block], target: &Target) -> Content<'a> {
    let only_text = blocks.iter().all(|b| {
        matches!(b, Block::Text { cache: None, .. })
            || matches!(b, Block::Text { .. } if !target.keeps_cache_control)
    });
    if only_text {
        return Content::Text(text_content(blocks.iter().copied()));
    }
    Content::Parts(
        blocks
            .iter()
            .filter_map(|b| render_part(b, target))
            .collect(),
    )
}

/// A user turn: tool results become `tool` messages, ahead of the user's own content.
fn push_user_turn<'a>(messages: &mut Vec<ChatMessage<'a>>, content: &'a [Block], target: &Target) {
    let mut rest: Vec<&Block> = Vec::new();
    let mut images_from_tools: Vec<&Block> = Vec::new();
    for b in content {
        match b {
            Block::ToolResult {
                id,
                content,
                is_error,
                ..
            } => {
                let mut text = text_content(content);
                if *is_error && !text.is_empty() {
                    text = Cow::Owned(format!("Error: {text}"));
                }
                images_from_tools
                    .extend(content.iter().filter(|c| !matches!(c, Block::Text { .. })));
                let mut message = ChatMessage::new("tool", Content::Text(text));
                message.tool_call_id = Some(id);
                messages.push(message);
            }
            Block::Thinking { .. } | Block::RedactedThinking { .. } | Block::ToolUse { .. } => {}
            other => rest.push(other),
        }
    }
    // Chat tool messages carry text only: images a tool returned follow as user content.
    if !images_from_tools.is_empty() {
        let note: &'a Block = &TOOL_IMAGES_NOTE;
        rest.splice(0..0, std::iter::once(note).chain(images_from_tools));
    }
    if !rest.is_empty() {
        messages.push(ChatMessage::new("user", render_content(&rest, target)));
    }
}

fn assistant_turn<'a>(
    content: &'a [Block],
    target: &Target,
    names: &'a ToolNames,
) -> ChatMessage<'a> {
    let text: Vec<&Block> = content
        .iter()
        .filter(|b| matches!(b, Block::Text { .. }))
        .collect();
    let mut message = ChatMessage::new(
        "assistant",
        if text.is_empty() {
            Content::Null
        } else {
            Content::Text(text_content(text))
        },
    );
    message.tool_calls = content
        .iter()
        .filter_map(|b| match b {
            Block::ToolUse {
                id, name, input, ..
            } => Some(ChatToolCall {
                id,
                kind: "function",
                function: CallFunction {
                    name: names.outbound(name),
                    arguments: input.json().to_string(),
                },
            }),
            _ => None,
        })
        .collect();
    if target.wants_reasoning_content {
        message.reasoning_content = reasoning_text(content);
    }
    message
}

fn effort_name(reasoning: Option<Reasoning>) -> Option<&'static str> {
    let effort = match reasoning? {
        Reasoning::Effort(e) => e,
        Reasoning::Budget(b) => budget_effort(b),
    };
    match effort {
        Effort::None => None,
        Effort::Low => Some("low"),
        Effort::Medium => Some("medium"),
        Effort::High | Effort::Max => Some("high"),
    }
}

fn tool_choice<'a>(choice: &'a ToolChoice, names: &'a ToolNames) -> ChatToolChoice<'a> {
    match choice {
        ToolChoice::Auto => ChatToolChoice::Mode("auto"),
        ToolChoice::None => ChatToolChoice::Mode("none"),
        ToolChoice::Required => ChatToolChoice::Mode("required"),
        ToolChoice::Named(n) => ChatToolChoice::Named {
            kind: "function",
            function: NamedFunction {
                name: names.outbound(n),
            },
        },
    }
}

/// The pivot as an OpenAI chat request for `model`.
pub fn render_request<'a>(
    request: &'a Request,
    model: &'a str,
    target: &Target,
    names: &'a ToolNames,
) -> ChatRequest<'a> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        let system: Vec<&Block> = request.system.iter().collect();
        messages.push(ChatMessage::new("system", render_content(&system, target)));
    }
    for m in &request.messages {
        match m.role {
            Role::System => {
                let blocks: Vec<&Block> = m.content.iter().collect();
                messages.push(ChatMessage::new("system", render_content(&blocks, target)));
            }
            Role::User => push_user_turn(&mut messages, &m.content, target),
            Role::Assistant => messages.push(assistant_turn(&m.content, target, names)),
        }
    }
    let (max_completion_tokens, max_tokens) = match request.max_tokens {
        Some(max) if target.uses_max_completion_tokens => (Some(max), None),
        other => (None, other),
    };
    let tools: Vec<ChatTool<'a>> = request
        .tools
        .iter()
        .map(|t| ChatTool {
            kind: "function",
            function: ToolFunction {
                name: names.outbound(&t.name),
                parameters: &t.schema,
                description: t.description.as_deref(),
            },
        })
        .collect();
    // A tool choice without tools is refused by OpenAI; so is `parallel_tool_calls`.
    let has_tools = !tools.is_empty();
    let options = ChatOptions {
        max_completion_tokens,
        max_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        stop: &request.stop,
        stream: request.stream.then_some(true),
        stream_options: request.stream.then_some(StreamOptions {
            include_usage: true,
        }),
        reasoning_effort: effort_name(request.reasoning),
        tools,
        tool_choice: request
            .tool_choice
            .as_ref()
            .filter(|_| has_tools)
            .map(|c| tool_choice(c, names)),
        parallel_tool_calls: request.parallel_tool_calls.filter(|_| has_tools),
        response_format: request.response_format.as_ref(),
        user: request.user.as_deref(),
    };
    ChatRequest {
        model,
        messages,
        options,
    }
}
