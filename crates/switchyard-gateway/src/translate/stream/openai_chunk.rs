//! A typed, borrowing reading of an OpenAI chat chunk: the fast path of
//! [`OpenAiParser`](super::OpenAiParser).
//!
//! Reading every chunk into a `serde_json::Value` tree was the largest cost of a
//! translated stream. This reads the same fields straight into borrowed strings. A
//! chunk of any other shape (a field of an unexpected type, an `error`) does not
//! read here and goes to the general reader, so both give the same events; a test
//! checks that on chunks of every kind.

use super::fields::{text, Text};
use crate::translate::object_only::{optional, optional_list};
use crate::usage::OpenAiUsage;
use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;
use serde_json::Value;

/// Whether a field is there at all, whatever its value (`null` included).
#[derive(Debug, Default)]
pub(super) struct Present(pub bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Chunk<'a> {
    #[serde(default, borrow)]
    pub id: Text<'a>,
    #[serde(default, borrow)]
    pub model: Text<'a>,
    #[serde(default, borrow, deserialize_with = "optional_list")]
    pub choices: Option<Vec<Choice<'a>>>,
    pub usage: Option<OpenAiUsage>,
    /// A chunk with an `error` is left to the general reader.
    #[serde(default)]
    pub error: Present,
}

#[derive(Debug, Deserialize)]
pub(super) struct Choice<'a> {
    #[serde(default, borrow, deserialize_with = "optional")]
    pub delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Delta<'a> {
    #[serde(default, borrow)]
    pub content: Text<'a>,
    #[serde(default, borrow)]
    pub reasoning_content: Text<'a>,
    #[serde(default, borrow)]
    pub reasoning: Text<'a>,
    #[serde(default, borrow, deserialize_with = "optional_list")]
    pub tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ToolCall<'a> {
    pub index: Option<u64>,
    #[serde(default, borrow)]
    pub id: Text<'a>,
    #[serde(default, borrow, deserialize_with = "optional")]
    pub function: Option<Function<'a>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Function<'a> {
    #[serde(default, borrow)]
    pub name: Text<'a>,
    #[serde(default, borrow)]
    pub arguments: Text<'a>,
}

impl<'a> Chunk<'a> {
    pub(super) fn from_value(v: &'a Value) -> Chunk<'a> {
        Chunk {
            id: text(v.get("id")),
            model: text(v.get("model")),
            choices: v.pointer("/choices/0").map(|c| vec![Choice::from_value(c)]),
            usage: v
                .get("usage")
                .filter(|u| !u.is_null())
                .and_then(|u| OpenAiUsage::deserialize(u).ok()),
            error: Present(v.get("error").is_some()),
        }
    }
}

impl<'a> Choice<'a> {
    fn from_value(c: &'a Value) -> Choice<'a> {
        Choice {
            delta: c.get("delta").map(Delta::from_value),
            finish_reason: text(c.get("finish_reason")),
        }
    }
}

impl<'a> Delta<'a> {
    fn from_value(d: &'a Value) -> Delta<'a> {
        Delta {
            content: text(d.get("content")),
            reasoning_content: text(d.get("reasoning_content")),
            reasoning: text(d.get("reasoning")),
            tool_calls: d
                .get("tool_calls")
                .and_then(Value::as_array)
                .map(|calls| calls.iter().map(ToolCall::from_value).collect()),
        }
    }
}

impl<'a> ToolCall<'a> {
    fn from_value(c: &'a Value) -> ToolCall<'a> {
        ToolCall {
            index: c.get("index").and_then(Value::as_u64),
            id: text(c.get("id")),
            function: c.get("function").map(|f| Function {
                name: text(f.get("name")),
                arguments: text(f.get("arguments")),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, OpenAiParser, Parser};
    use super::*;
    use std::borrow::Cow;

    /// Chunks as providers send them, and odd ones.
    const CHUNKS: &[(&str, bool)] = &[
        // (chunk, whether the typed reading takes it)
        (
            r#"{"id":"c1","model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            true,
        ),
        (
            r#"{"id":"c1","model":"gpt-4.1","choices":[{"index":0,"delta":{"content":"Hel\"lo\n"},"finish_reason":null}]}"#,
            true,
        ),
        (
            r#"{"id":"c1","choices":[{"delta":{"reasoning_content":"hmm"}}]}"#,
            true,
        ),
        (
            r#"{"id":"c1","choices":[{"delta":{"reasoning_content":"","reasoning":"skipped"}}]}"#,
            true,
        ),
        (
            r#"{"id":"c1","choices":[{"delta":{"reasoning":"think"}}]}"#,
            true,
        ),
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Read","arguments":""}}]}}]}"#,
            true,
        ),
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"pa"}}]}}]}"#,
            true,
        ),
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"id":null,"function":{"arguments":"th\"}"}}]}}]}"#,
            true,
        ),
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"index":null,"function":{"name":"Bash"}},{"function":{"name":"Edit"}}]}}]}"#,
            true,
        ),
        (
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            true,
        ),
        (
            r#"{"choices":[{"delta":{"content":null},"finish_reason":"stop"}],"usage":null}"#,
            true,
        ),
        (
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}}"#,
            true,
        ),
        (
            r#"{"choices":[{"delta":{"content":"x"}},{"delta":{"content":"second choice"}}]}"#,
            true,
        ),
        (r#"{"choices":null}"#, true),
        // Shapes the typed reading refuses: the general reader decides.
        (r#"{"id":7,"choices":[{"delta":{"content":"x"}}]}"#, false),
        (
            r#"{"choices":[{"delta":{"content":["a","b"]},"finish_reason":"stop"}]}"#,
            false,
        ),
        (r#"{"choices":[{"delta":"text"}]}"#, false),
        (r#"{"choices":[null]}"#, false),
        // Arrays where objects belong: `serde_json` would fill a struct from them.
        (r#"{"choices":[[{"content":"x"}]]}"#, false),
        (r#"{"choices":[{"delta":["x"]}]}"#, false),
        (
            r#"{"choices":[{"delta":{"tool_calls":[[0,"call_1",["Read","{}"]]]}}]}"#,
            false,
        ),
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":["Read","{}"]}]}}]}"#,
            false,
        ),
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"index":-1,"function":{"name":"Read"}}]}}]}"#,
            false,
        ),
        (
            r#"{"choices":[{"delta":{"content":"x"}}],"usage":{"prompt_tokens":"many"}}"#,
            false,
        ),
        (
            r#"{"choices":[{"delta":{"content":"x"}}],"error":null}"#,
            true,
        ),
        (r#"{"error":{"message":"overloaded"}}"#, true),
        // An array reads into a derived struct field by field: the parser refuses it.
        (r#"["c9","gpt",[{"delta":{"content":"x"}}],null]"#, true),
    ];

    fn events(parse: impl FnOnce(&mut OpenAiParser, &mut Vec<Event>)) -> Vec<Event> {
        let mut parser = OpenAiParser::default();
        let mut out = Vec::new();
        parse(&mut parser, &mut out);
        out
    }

    #[test]
    fn the_typed_reading_gives_the_same_events_as_the_general_one() {
        for (chunk, typed) in CHUNKS {
            let fast = events(|p, out| p.parse(chunk.as_bytes(), out));
            let general = events(|p, out| p.parse_general(chunk.as_bytes(), out));
            assert_eq!(fast, general, "{chunk}");
            assert!(!fast.is_empty(), "{chunk}");
            let read = serde_json::from_slice::<Chunk>(chunk.as_bytes()).is_ok();
            assert_eq!(read, *typed, "{chunk}");
        }
    }

    #[test]
    fn fields_that_are_null_or_missing_read_as_before() {
        let chunk = r#"{"choices":[{"delta":{"reasoning_content":"","reasoning":"r","tool_calls":[{"id":null,"function":{"arguments":"{}"}},{"function":{"arguments":"x"}}]},"finish_reason":null}]}"#;
        assert_eq!(
            events(|p, out| p.parse(chunk.as_bytes(), out)),
            vec![
                Event::Start {
                    id: "chatcmpl".into(),
                    model: String::new()
                },
                // A `null` id still opens a call; a missing one does not.
                Event::ToolStart {
                    index: 0,
                    id: String::new(),
                    name: String::new()
                },
                Event::ToolArgs {
                    index: 0,
                    fragment: "{}".into()
                },
                Event::ToolArgs {
                    index: 1,
                    fragment: "x".into()
                },
            ]
        );
    }

    #[test]
    fn plain_text_is_borrowed_not_copied() {
        let data = br#"{"choices":[{"delta":{"content":"plain"}}]}"#;
        let chunk = serde_json::from_slice::<Chunk>(data).expect("reads");
        let delta = chunk.choices.as_ref().and_then(|c| c[0].delta.as_ref());
        assert!(matches!(
            delta.map(|d| &d.content),
            Some(Text::Str(Cow::Borrowed("plain")))
        ));
    }
}
