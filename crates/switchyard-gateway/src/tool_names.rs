//! The names of the tools an answer calls, for the request log: read from a complete
//! answer, or from a stream's events as they pass.
//!
//! Most of a coding agent's answers call a tool, and a streamed call's arguments (a
//! whole file, for a write) come as dozens of chunks. So the names are read typed and
//! borrowed: only the path to each name is followed, and everything else, the answer's
//! text and the calls' arguments included, is stepped over without being built. An
//! answer not shaped as its format says (a field of an unexpected type, a key given
//! twice, an array where an object belongs) may give no names, or odd ones: they only
//! label the request in the log.

use crate::json_body::parse_json;
use crate::providers::WireFormat;
use crate::sse::{event_data, Marker};
use serde::Deserialize;
use std::borrow::Cow;

// What a body or an event must mention to hold a call, checked before any parse.
static TOOL_CALLS: Marker = Marker::new(b"\"tool_calls\"");
static TOOL_USE: Marker = Marker::new(b"\"tool_use\"");
static FUNCTION_CALL: Marker = Marker::new(b"\"function_call\"");
static GEMINI_FUNCTION_CALL: Marker = Marker::new(b"\"functionCall\"");
static OUTPUT_ITEM_ADDED: Marker = Marker::new(b"\"response.output_item.added\"");
/// A streamed call names its tool in its first chunk only; the chunks of its
/// arguments do not have the key (a quote in their text is escaped, so the text
/// cannot spell it).
static NAME: Marker = Marker::new(b"\"name\"");

/// The names of the tool calls in a complete answer of `format`, in order.
pub fn in_answer(format: WireFormat, body: &[u8]) -> Vec<String> {
    let marker = match format {
        WireFormat::OpenAiChat => &TOOL_CALLS,
        WireFormat::AnthropicMessages => &TOOL_USE,
        WireFormat::OpenAiResponses => &FUNCTION_CALL,
        WireFormat::Gemini => &GEMINI_FUNCTION_CALL,
        WireFormat::OpenAiEmbeddings => return Vec::new(),
    };
    // Most answers call no tool.
    if !marker.is_in(body) {
        return Vec::new();
    }
    let names = match format {
        WireFormat::OpenAiChat => parse_json::<ChatAnswer>(body).map(|a| {
            first(a.choices)
                .and_then(|c| c.message)
                .map_or_else(Vec::new, ToolCalls::names)
        }),
        WireFormat::AnthropicMessages => parse_json::<AnthropicAnswer>(body).map(|a| {
            a.content
                .into_iter()
                .flatten()
                .filter_map(Block::tool_name)
                .collect()
        }),
        WireFormat::OpenAiResponses => parse_json::<ResponsesAnswer>(body).map(|a| {
            a.output
                .into_iter()
                .flatten()
                .filter_map(Block::function_call_name)
                .collect()
        }),
        WireFormat::Gemini => parse_json::<GeminiAnswer>(body).map(|a| {
            first(a.candidates)
                .and_then(|c| c.content)
                .and_then(|c| c.parts)
                .into_iter()
                .flatten()
                .filter_map(|p| p.function_call?.name)
                .map(Cow::into_owned)
                .collect()
        }),
        WireFormat::OpenAiEmbeddings => return Vec::new(),
    };
    names.unwrap_or_default()
}

/// Adds to `names` the tool calls that start in one streamed event (a whole SSE event,
/// its blank line included). Gemini streams are always translated, and their translator
/// reads the calls.
pub fn in_event(format: WireFormat, event: &[u8], names: &mut Vec<String>) {
    // Checked on the event as it came: most events start no call, and getting at their
    // data costs more than the search.
    let marked = match format {
        WireFormat::OpenAiChat => TOOL_CALLS.is_in(event) && NAME.is_in(event),
        WireFormat::AnthropicMessages => TOOL_USE.is_in(event),
        WireFormat::OpenAiResponses => OUTPUT_ITEM_ADDED.is_in(event),
        WireFormat::Gemini | WireFormat::OpenAiEmbeddings => false,
    };
    if !marked {
        return;
    }
    let Some(data) = event_data(event) else {
        return;
    };
    match format {
        WireFormat::OpenAiChat => {
            let Ok(chunk) = parse_json::<ChatChunk>(&data) else {
                return;
            };
            if let Some(delta) = first(chunk.choices).and_then(|c| c.delta) {
                // A chunk continuing a call may repeat its name empty.
                names.extend(delta.names().into_iter().filter(|n| !n.is_empty()));
            }
        }
        WireFormat::AnthropicMessages => {
            if let Ok(event) = parse_json::<AnthropicEvent>(&data) {
                names.extend(event.content_block.and_then(Block::tool_name));
            }
        }
        WireFormat::OpenAiResponses => {
            if let Ok(event) = parse_json::<ResponsesEvent>(&data) {
                names.extend(event.item.and_then(Block::function_call_name));
            }
        }
        WireFormat::Gemini | WireFormat::OpenAiEmbeddings => {}
    }
}

fn first<T>(list: Option<Vec<T>>) -> Option<T> {
    list?.into_iter().next()
}

#[derive(Deserialize)]
struct ChatAnswer<'a> {
    #[serde(borrow)]
    choices: Option<Vec<ChatChoice<'a>>>,
}

#[derive(Deserialize)]
struct ChatChoice<'a> {
    #[serde(borrow)]
    message: Option<ToolCalls<'a>>,
}

#[derive(Deserialize)]
struct ChatChunk<'a> {
    #[serde(borrow)]
    choices: Option<Vec<ChunkChoice<'a>>>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(borrow)]
    delta: Option<ToolCalls<'a>>,
}

/// A chat message or a chunk's delta: its calls, each naming a function.
#[derive(Deserialize)]
struct ToolCalls<'a> {
    #[serde(borrow)]
    tool_calls: Option<Vec<ToolCall<'a>>>,
}

impl ToolCalls<'_> {
    fn names(self) -> Vec<String> {
        self.tool_calls
            .into_iter()
            .flatten()
            .filter_map(|c| c.function?.name)
            .map(Cow::into_owned)
            .collect()
    }
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow)]
    function: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct AnthropicAnswer<'a> {
    #[serde(borrow)]
    content: Option<Vec<Block<'a>>>,
}

#[derive(Deserialize)]
struct AnthropicEvent<'a> {
    #[serde(borrow)]
    content_block: Option<Block<'a>>,
}

#[derive(Deserialize)]
struct ResponsesAnswer<'a> {
    #[serde(borrow)]
    output: Option<Vec<Block<'a>>>,
}

#[derive(Deserialize)]
struct ResponsesEvent<'a> {
    #[serde(borrow)]
    item: Option<Block<'a>>,
}

/// An Anthropic content block or a Responses output item: a type, and a name when it
/// is a call.
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

impl Block<'_> {
    fn named_if(self, kind: &str) -> Option<String> {
        (self.kind.as_deref() == Some(kind))
            .then_some(self.name)?
            .map(Cow::into_owned)
    }

    fn tool_name(self) -> Option<String> {
        self.named_if("tool_use")
    }

    fn function_call_name(self) -> Option<String> {
        self.named_if("function_call")
    }
}

#[derive(Deserialize)]
struct GeminiAnswer<'a> {
    #[serde(borrow)]
    candidates: Option<Vec<GeminiCandidate<'a>>>,
}

#[derive(Deserialize)]
struct GeminiCandidate<'a> {
    #[serde(borrow)]
    content: Option<GeminiContent<'a>>,
}

#[derive(Deserialize)]
struct GeminiContent<'a> {
    #[serde(borrow)]
    parts: Option<Vec<GeminiPart<'a>>>,
}

#[derive(Deserialize)]
struct GeminiPart<'a> {
    #[serde(borrow, rename = "functionCall")]
    function_call: Option<Named<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The names as a walk of the whole parsed answer finds them: what the typed
    /// reading must agree with on every well-formed answer.
    fn by_value(format: WireFormat, body: &[u8]) -> Vec<String> {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return Vec::new();
        };
        let list = |pointer: &str| v.pointer(pointer).and_then(Value::as_array).cloned();
        let string = |v: &Value, pointer: &str| v.pointer(pointer)?.as_str().map(str::to_string);
        let typed = |item: &Value, kind: &str| {
            (item.get("type")? == kind).then(|| string(item, "/name"))?
        };
        let names: Vec<String> = match format {
            WireFormat::OpenAiChat => list("/choices/0/message/tool_calls")
                .into_iter()
                .flatten()
                .filter_map(|c| string(&c, "/function/name"))
                .collect(),
            WireFormat::AnthropicMessages => list("/content")
                .into_iter()
                .flatten()
                .filter_map(|b| typed(&b, "tool_use"))
                .collect(),
            WireFormat::OpenAiResponses => list("/output")
                .into_iter()
                .flatten()
                .filter_map(|o| typed(&o, "function_call"))
                .collect(),
            WireFormat::Gemini => list("/candidates/0/content/parts")
                .into_iter()
                .flatten()
                .filter_map(|p| string(&p, "/functionCall/name"))
                .collect(),
            WireFormat::OpenAiEmbeddings => Vec::new(),
        };
        names
    }

    fn event_names(format: WireFormat, data: &str) -> Vec<String> {
        let mut names = Vec::new();
        in_event(format, format!("data: {data}\n\n").as_bytes(), &mut names);
        names
    }

    #[test]
    fn complete_answers_give_their_calls_names_as_a_full_parse_does() {
        let answers = [
            (
                WireFormat::OpenAiChat,
                r#"{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"Reading \"tool_calls\" now",
                "tool_calls":[{"id":"a","type":"function","function":{"name":"read_file","arguments":"{\"name\":\"x\"}"}},
                {"id":"b","type":"function","function":{"name":"r\u00e9sum\u00e9","arguments":"{}"}}]},"finish_reason":"tool_calls"},
                {"index":1,"message":{"tool_calls":[{"function":{"name":"second_choice"}}]}}],"usage":{"prompt_tokens":1}}"#,
            ),
            (
                WireFormat::OpenAiChat,
                r#"{"choices":[{"message":{"content":"no call","tool_calls":null}}]}"#,
            ),
            (
                WireFormat::OpenAiChat,
                r#"{"choices":[{"message":{"tool_calls":[]}}],"x":{"tool_calls":[{"function":{"name":"elsewhere"}}]}}"#,
            ),
            (
                WireFormat::OpenAiChat,
                r#"{"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{}"}},{"function":null},{"type":"function"}]}}]}"#,
            ),
            (WireFormat::OpenAiChat, r#"{"choices":[],"tool_calls":1}"#),
            (
                WireFormat::AnthropicMessages,
                r#"{"id":"m","type":"message","content":[{"type":"text","text":"a \"tool_use\" b"},
                {"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls","name":"not this"}},
                {"type":"thinking","thinking":"x","signature":"s"},{"type":"tool_use","id":"t2","name":"Edit","input":{}},
                {"type":"server_tool_use","name":"web_search"},{"name":"untyped"}],"stop_reason":"tool_use","usage":{"input_tokens":3}}"#,
            ),
            (
                WireFormat::AnthropicMessages,
                r#"{"content":[{"type":"text","text":"tool_use"}]}"#,
            ),
            (
                WireFormat::OpenAiResponses,
                r#"{"output":[{"type":"reasoning","summary":[]},{"type":"function_call","call_id":"c","name":"shell","arguments":"{}"},
                {"type":"message","content":[{"type":"output_text","text":"function_call"}]},{"type":"function_call","name":"apply_patch"}]}"#,
            ),
            (
                WireFormat::Gemini,
                r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"functionCall"},{"functionCall":{"name":"list_dir","args":{"name":"x"}}},
                {"functionCall":{"args":{}}},{"functionCall":{"name":"read"}}]}},{"content":{"parts":[{"functionCall":{"name":"other_candidate"}}]}}]}"#,
            ),
            (
                WireFormat::OpenAiEmbeddings,
                r#"{"data":[{"tool_calls":[{"function":{"name":"x"}}]}]}"#,
            ),
        ];
        for (format, body) in answers {
            let expected = by_value(format, body.as_bytes());
            assert_eq!(in_answer(format, body.as_bytes()), expected, "{body}");
        }
        // The reference found names where there were some.
        assert_eq!(
            in_answer(WireFormat::OpenAiChat, answers[0].1.as_bytes()),
            ["read_file", "résumé"]
        );
        assert_eq!(
            in_answer(WireFormat::AnthropicMessages, answers[5].1.as_bytes()),
            ["Bash", "Edit"]
        );
        assert_eq!(
            in_answer(WireFormat::Gemini, answers[8].1.as_bytes()),
            ["list_dir", "read"]
        );
        // Not JSON, or not an object: no names, as from the full parse.
        for body in ["{\"tool_calls\":", "[\"tool_use\"]", "\"functionCall\""] {
            for format in [
                WireFormat::OpenAiChat,
                WireFormat::AnthropicMessages,
                WireFormat::Gemini,
            ] {
                assert!(in_answer(format, body.as_bytes()).is_empty(), "{body}");
            }
        }
    }

    #[test]
    fn a_stream_names_each_call_in_the_event_that_starts_it() {
        let start = r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"write_file","arguments":""}}]},"finish_reason":null}]}"#;
        assert_eq!(event_names(WireFormat::OpenAiChat, start), ["write_file"]);
        // Its arguments follow without a name, whatever their text says.
        let arguments = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"name\": \"tool_calls\"}"}}]}}]}"#;
        assert!(event_names(WireFormat::OpenAiChat, arguments).is_empty());
        // A chunk that repeats a call's name empty, or starts two calls at once.
        let repeated = r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"","arguments":"{}"}},{"index":1,"function":{"name":"run"}}]}}]}"#;
        assert_eq!(event_names(WireFormat::OpenAiChat, repeated), ["run"]);
        let text = r#"{"choices":[{"delta":{"content":"\"tool_calls\" and \"name\""}}]}"#;
        assert!(event_names(WireFormat::OpenAiChat, text).is_empty());

        let block = r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"Read","input":{}}}"#;
        assert_eq!(event_names(WireFormat::AnthropicMessages, block), ["Read"]);
        let mut names = Vec::new();
        let named = format!("event: content_block_start\ndata: {block}\n\n");
        in_event(WireFormat::AnthropicMessages, named.as_bytes(), &mut names);
        assert_eq!(names, ["Read"]);
        let text_block = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\"tool_use\""}}"#;
        assert!(event_names(WireFormat::AnthropicMessages, text_block).is_empty());

        let item = r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","name":"shell","arguments":""}}"#;
        assert_eq!(event_names(WireFormat::OpenAiResponses, item), ["shell"]);
        let message = r#"{"type":"response.output_item.added","item":{"type":"message","name":"not a call"}}"#;
        assert!(event_names(WireFormat::OpenAiResponses, message).is_empty());
    }
}
