//! A `GenerateContentResponse` (a whole answer, or one chunk of a stream) as the
//! translation reads it: read typed from its bytes, or from a `Value` tree when the
//! typed reading refuses them.
//!
//! A stream sends a whole response per chunk (candidates, content, parts, usage, model
//! and id, every time): built as a `Value` tree each cost a map per object and a copy
//! of every key and text. The typed reading borrows the text and steps over the rest.
//! It is strict (a field of another type, an array where an object belongs, a key given
//! twice: refused), and [`Chunk::from_value`] reads any shape as the gateway always has.
//! Both give a [`Chunk`], which the stream and the complete answer are made from.

use crate::translate::object_only::{optional, optional_list, present, present_object};
use crate::translate::{str_field, RawJson};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

/// What a chunk or an answer says, in the order it is used.
pub struct Chunk<'a> {
    /// An `error` object (any value, `null` included, counts).
    pub error: Option<Value>,
    pub response_id: Option<Cow<'a, str>>,
    pub model_version: Option<Cow<'a, str>>,
    /// The first candidate; the others are not read.
    pub candidate: Option<Candidate<'a>>,
    /// `promptFeedback.blockReason` is there: the prompt was blocked.
    pub blocked: bool,
    /// `usageMetadata` is there (`null` counts as all zeros).
    pub usage: Option<Counts>,
}

pub struct Candidate<'a> {
    pub parts: Vec<Part<'a>>,
    pub finish_reason: Option<Cow<'a, str>>,
}

pub enum Part<'a> {
    Text(Cow<'a, str>),
    Thought(Cow<'a, str>),
    /// A function call: its own id if it has one, its name, and its arguments (an
    /// object; anything else reads as `{}`).
    Call {
        id: Option<Cow<'a, str>>,
        name: Option<Cow<'a, str>>,
        args: RawJson,
    },
    /// An empty text part: it carries only a thought signature.
    Nothing,
}

/// `usageMetadata`'s counts (absent or of another type: 0).
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Counts {
    pub prompt_token_count: u64,
    pub tool_use_prompt_token_count: u64,
    pub cached_content_token_count: u64,
    pub thoughts_token_count: u64,
    pub candidates_token_count: u64,
}

impl Chunk<'_> {
    /// The typed reading of `data`, or `None` for what only the `Value` reading takes.
    pub fn read(data: &[u8]) -> Option<Chunk<'_>> {
        // Only objects: derived structs would also read a JSON array, field by field.
        if data.trim_ascii_start().first() != Some(&b'{') {
            return None;
        }
        let wire: WireChunk = crate::json_body::parse_json(data).ok()?;
        Some(Chunk {
            error: wire.error,
            response_id: wire.response_id,
            model_version: wire.model_version,
            candidate: wire
                .candidates
                .and_then(|c| c.into_iter().next())
                .map(|c| Candidate {
                    parts: c
                        .content
                        .and_then(|c| c.parts)
                        .into_iter()
                        .flatten()
                        .map(WirePart::into_part)
                        .collect(),
                    finish_reason: c.finish_reason,
                }),
            blocked: blocked(wire.prompt_feedback.as_ref()),
            usage: wire.usage.map(Option::unwrap_or_default),
        })
    }

    /// The same reading of a chunk already parsed into a `Value`, for any shape.
    pub fn from_value(chunk: &Value) -> Chunk<'_> {
        fn text<'v>(v: &'v Value, key: &str) -> Option<Cow<'v, str>> {
            str_field(v, key).map(Cow::Borrowed)
        }
        Chunk {
            error: chunk.get("error").cloned(),
            response_id: text(chunk, "responseId"),
            model_version: text(chunk, "modelVersion"),
            candidate: chunk.pointer("/candidates/0").map(|c| Candidate {
                parts: c
                    .pointer("/content/parts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        if let Some(call) = p.get("functionCall") {
                            return Part::Call {
                                id: text(call, "id"),
                                name: text(call, "name"),
                                args: call
                                    .get("args")
                                    .filter(|a| a.is_object())
                                    .map_or_else(RawJson::empty_object, RawJson::from_value),
                            };
                        }
                        let thought = p.get("thought") == Some(&Value::Bool(true));
                        text_part(text(p, "text"), thought)
                    })
                    .collect(),
                finish_reason: text(c, "finishReason"),
            }),
            blocked: blocked(chunk.get("promptFeedback")),
            usage: chunk.get("usageMetadata").map(Counts::from_value),
        }
    }
}

impl Counts {
    /// `usageMetadata` of any shape: a count of another type reads as 0.
    pub fn from_value(usage: &Value) -> Counts {
        let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        Counts {
            prompt_token_count: count("promptTokenCount"),
            tool_use_prompt_token_count: count("toolUsePromptTokenCount"),
            cached_content_token_count: count("cachedContentTokenCount"),
            thoughts_token_count: count("thoughtsTokenCount"),
            candidates_token_count: count("candidatesTokenCount"),
        }
    }
}

fn blocked(feedback: Option<&Value>) -> bool {
    feedback.is_some_and(|f| f.pointer("/blockReason").is_some())
}

/// A part with text (a thought or the answer's), or nothing when the text is empty.
fn text_part(text: Option<Cow<'_, str>>, thought: bool) -> Part<'_> {
    match text.filter(|t| !t.is_empty()) {
        Some(t) if thought => Part::Thought(t),
        Some(t) => Part::Text(t),
        None => Part::Nothing,
    }
}

#[derive(Deserialize)]
struct WireChunk<'a> {
    #[serde(default, deserialize_with = "present")]
    error: Option<Value>,
    #[serde(borrow, default, rename = "responseId")]
    response_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "modelVersion")]
    model_version: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "optional_list")]
    candidates: Option<Vec<WireCandidate<'a>>>,
    #[serde(default, rename = "promptFeedback")]
    prompt_feedback: Option<Value>,
    #[serde(default, rename = "usageMetadata", deserialize_with = "present_object")]
    usage: Option<Option<Counts>>,
}

#[derive(Deserialize)]
struct WireCandidate<'a> {
    #[serde(borrow, default, deserialize_with = "optional")]
    content: Option<WireContent<'a>>,
    #[serde(borrow, default, rename = "finishReason")]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireContent<'a> {
    #[serde(borrow, default, deserialize_with = "optional_list")]
    parts: Option<Vec<WirePart<'a>>>,
}

#[derive(Deserialize)]
struct WirePart<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(
        borrow,
        default,
        rename = "functionCall",
        deserialize_with = "present_object"
    )]
    function_call: Option<Option<WireCall<'a>>>,
}

#[derive(Deserialize, Default)]
struct WireCall<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    /// A tree, not kept as sent: Gemini writes its answers indented, and a call's
    /// arguments reach the client as compact text, as they always have.
    #[serde(default)]
    args: Option<Value>,
}

impl<'a> WirePart<'a> {
    fn into_part(self) -> Part<'a> {
        if let Some(call) = self.function_call {
            let call = call.unwrap_or_default();
            return Part::Call {
                id: call.id,
                name: call.name,
                args: call
                    .args
                    .filter(Value::is_object)
                    .map_or_else(RawJson::empty_object, |a| RawJson::from_value(&a)),
            };
        }
        text_part(self.text, self.thought == Some(true))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{response_from, GeminiParser};
    use super::*;
    use crate::translate::{json_gen, ToolNames};
    use proptest::prelude::*;

    /// A chunk's events and the answer it makes, as text: from the typed reading when
    /// it takes the chunk (else from the `Value` reading), and from the `Value` reading.
    fn both_ways(data: &str) -> (String, String) {
        let value: Value = serde_json::from_str(data).expect("JSON");
        let show = |chunk: Chunk<'_>, again: Chunk<'_>| {
            let mut events = Vec::new();
            GeminiParser::new(ToolNames::default()).chunk_events(chunk, &mut events);
            let answer = match response_from(again, &ToolNames::default()) {
                Ok(response) => format!("{response:?}"),
                Err(e) => format!("error: {}", e.message),
            };
            format!("{events:?}\n{answer}")
        };
        let typed = match (Chunk::read(data.as_bytes()), Chunk::read(data.as_bytes())) {
            (Some(chunk), Some(again)) => show(chunk, again),
            _ => show(Chunk::from_value(&value), Chunk::from_value(&value)),
        };
        (
            typed,
            show(Chunk::from_value(&value), Chunk::from_value(&value)),
        )
    }

    #[test]
    fn a_streamed_chunk_and_an_answer_read_typed_and_as_through_a_value() {
        let data = r#"{"candidates":[{"content":{"role":"model","parts":[
              {"text":"Thinking.","thought":true},{"text":"Hello "},{"text":"wörld \"q\""},{"text":""},
              {"thoughtSignature":"c2ln"},
              {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2ln"},
              {"functionCall":{"id":"own-id","name":"read","args":[1]}},{"functionCall":null}]},
            "finishReason":"MAX_TOKENS","index":0,"safetyRatings":[]},{"content":{"parts":[{"text":"second"}]}}],
            "usageMetadata":{"promptTokenCount":30,"cachedContentTokenCount":10,"candidatesTokenCount":5,
              "thoughtsTokenCount":2,"toolUsePromptTokenCount":1,"totalTokenCount":38},
            "modelVersion":"gemini-2.5-pro","responseId":"r-1"}"#;
        assert!(Chunk::read(data.as_bytes()).is_some());
        let (typed, general) = both_ways(data);
        assert_eq!(typed, general);
        assert!(
            typed.contains("get_weather") && typed.contains("own-id"),
            "{typed}"
        );
    }

    #[test]
    fn odd_chunks_read_the_same_whichever_reading_takes_them() {
        // (chunk, whether the typed reading takes it)
        let chunks = [
            (
                r#"{"responseId":"r","candidates":[],"promptFeedback":{"blockReason":"SAFETY"}}"#,
                true,
            ),
            (
                r#"{"responseId":"r","candidates":null,"usageMetadata":null}"#,
                true,
            ),
            (
                r#"{"responseId":"r","error":{"code":429,"message":"slow down"}}"#,
                true,
            ),
            (r#"{"responseId":"r","error":null}"#, true),
            (
                r#"{"responseId":"r","candidates":[{"content":null,"finishReason":"STOP"}]}"#,
                true,
            ),
            (
                r#"{"responseId":"r","candidates":[{"content":{"parts":null}}]}"#,
                true,
            ),
            (
                r#"{"responseId":"r","promptFeedback":{"blockReason":null}}"#,
                true,
            ),
            (r#"{"responseId":"r","promptFeedback":[1]}"#, true),
            (r#"{"responseId":"r","candidates":[5]}"#, false),
            (
                r#"{"responseId":"r","candidates":{"0":{"finishReason":"STOP"}}}"#,
                false,
            ),
            (
                r#"{"responseId":"r","candidates":[{"content":{"parts":["x",{"text":"y"}]}}]}"#,
                false,
            ),
            (
                r#"{"responseId":"r","candidates":[{"content":{"parts":[{"text":5}]}}]}"#,
                false,
            ),
            (
                r#"{"responseId":"r","candidates":[{"content":{"parts":[{"text":"t","thought":"yes"}]}}]}"#,
                false,
            ),
            (
                r#"{"responseId":"r","candidates":[{"content":{"parts":[{"functionCall":"x"}]}}]}"#,
                false,
            ),
            (
                r#"{"responseId":"r","candidates":[{"finishReason":5}]}"#,
                false,
            ),
            (
                r#"{"responseId":"r","usageMetadata":{"promptTokenCount":-1}}"#,
                false,
            ),
            (r#"{"responseId":"r","usageMetadata":7}"#, false),
            (r#"{"responseId":"r","responseId":"s"}"#, false),
            (r#"[{"responseId":"r"}]"#, false),
        ];
        for (data, typed) in chunks {
            assert_eq!(Chunk::read(data.as_bytes()).is_some(), typed, "{data}");
            let (typed, general) = both_ways(data);
            assert_eq!(typed, general, "{data}");
        }
    }

    fn value(key: &'static str) -> BoxedStrategy<String> {
        let (fitting, odd): (Vec<&'static str>, Vec<&'static str>) = match key {
            "text" => (vec!["\"hi\"", "\"\"", "\"a \\\"q\\\"\"", "null"], vec!["5"]),
            "thought" => (vec!["true", "false", "null"], vec!["\"yes\""]),
            "id" | "name" => (vec!["\"t\"", "\"\"", "null"], vec!["5"]),
            "args" => (
                vec![r#"{"city":"Paris"}"#, "{}", "null", "[1]"],
                vec!["\"x\""],
            ),
            "finishReason" => (
                vec!["\"STOP\"", "\"MAX_TOKENS\"", "\"SAFETY\"", "null"],
                vec!["5"],
            ),
            "modelVersion" => (vec!["\"gemini-2.5\"", "null"], vec!["5"]),
            "promptFeedback" => (
                vec![r#"{"blockReason":"SAFETY"}"#, "{}", "null"],
                vec!["[1]"],
            ),
            "error" => (vec![r#"{"message":"boom"}"#], vec!["null"]),
            "promptTokenCount"
            | "cachedContentTokenCount"
            | "candidatesTokenCount"
            | "thoughtsTokenCount"
            | "toolUsePromptTokenCount" => (vec!["0", "30", "7"], vec!["-1", "\"3\"", "null"]),
            _ => (vec!["null"], vec![]),
        };
        json_gen::pick(fitting, odd)
    }

    fn object(
        keys: &'static [&'static str],
        nested: Vec<(&'static str, BoxedStrategy<String>)>,
    ) -> BoxedStrategy<String> {
        json_gen::object(keys, nested, value)
    }

    fn chunk() -> BoxedStrategy<String> {
        let call = prop_oneof![
            6 => object(&["id", "name", "args"], vec![]),
            1 => Just("null".to_string()),
        ]
        .boxed();
        let part = object(&["text", "thought"], vec![("functionCall", call)]);
        let content = object(&[], vec![("parts", json_gen::array(part, "{}"))]);
        let candidate = object(&["finishReason"], vec![("content", content)]);
        let usage = object(
            &[
                "promptTokenCount",
                "cachedContentTokenCount",
                "candidatesTokenCount",
                "thoughtsTokenCount",
                "toolUsePromptTokenCount",
            ],
            vec![],
        );
        // Always a response id: without one the call ids are drawn fresh each time.
        object(
            &["modelVersion", "promptFeedback", "error"],
            vec![
                ("candidates", json_gen::array(candidate, "{}")),
                ("usageMetadata", usage),
            ],
        )
        .prop_map(|o| match o.strip_prefix('{') {
            Some(rest) if rest.starts_with('}') => r#"{"responseId":"r"}"#.to_string(),
            Some(rest) => format!(r#"{{"responseId":"r",{rest}"#),
            None => o,
        })
        .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        #[test]
        fn any_chunk_reads_the_same_either_way(data in chunk()) {
            let (typed, general) = both_ways(&data);
            prop_assert_eq!(typed, general, "{}", data);
        }
    }
}
