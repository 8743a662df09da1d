//! A typed, borrowing reading of an Anthropic stream event: the fast path of
//! [`AnthropicParser`](super::AnthropicParser).
//!
//! Reading every event into a `serde_json::Value` tree (an ordered map for each object,
//! its keys hashed) was the largest cost of streaming an Anthropic model to an OpenAI
//! client. This reads the fields the parser uses straight into borrowed strings. An
//! event of another shape (a field of an unexpected type, an array where an object
//! belongs, a key given twice, an `error`) does not read here and goes to the general reader, which builds the same
//! struct from a `Value`; tests hold the two readings to the same events.

use super::fields::{text, Text};
use crate::translate::object_only::optional;
use crate::usage::AnthropicUsage;
use serde::Deserialize;
use serde_json::Value;

/// One event's data; which fields apply depends on `kind`.
#[derive(Debug, Deserialize)]
pub(super) struct WireEvent<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Text<'a>,
    pub index: Option<u64>,
    /// `message_start`'s message.
    #[serde(default, borrow, deserialize_with = "optional")]
    pub message: Option<WireMessage<'a>>,
    /// `content_block_start`'s block.
    #[serde(default, borrow, deserialize_with = "optional")]
    pub content_block: Option<WireBlock<'a>>,
    /// `content_block_delta`'s and `message_delta`'s delta.
    #[serde(default, borrow, deserialize_with = "optional")]
    pub delta: Option<WireDelta<'a>>,
    /// `message_delta`'s usage (cumulative).
    pub usage: Option<AnthropicUsage>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireMessage<'a> {
    #[serde(default, borrow)]
    pub id: Text<'a>,
    #[serde(default, borrow)]
    pub model: Text<'a>,
    pub usage: Option<AnthropicUsage>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireBlock<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Text<'a>,
    #[serde(default, borrow)]
    pub id: Text<'a>,
    #[serde(default, borrow)]
    pub name: Text<'a>,
    #[serde(default, borrow)]
    pub text: Text<'a>,
}

/// A block's delta (`text_delta`, `input_json_delta`...) or the message's (stop reason).
#[derive(Debug, Deserialize)]
pub(super) struct WireDelta<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Text<'a>,
    #[serde(default, borrow)]
    pub text: Text<'a>,
    #[serde(default, borrow)]
    pub partial_json: Text<'a>,
    #[serde(default, borrow)]
    pub thinking: Text<'a>,
    #[serde(default, borrow)]
    pub signature: Text<'a>,
    #[serde(default, borrow)]
    pub stop_reason: Text<'a>,
    #[serde(default, borrow)]
    pub stop_sequence: Text<'a>,
}

/// Usage as the general reader always read it: what does not read as usage (`null`,
/// a count that is not a whole number) counts as none.
fn usage(value: Option<&Value>) -> Option<AnthropicUsage> {
    value.and_then(|u| AnthropicUsage::deserialize(u).ok())
}

impl<'a> WireEvent<'a> {
    /// The typed reading of `data`, or `None` for what only the general reader takes.
    pub(super) fn read(data: &'a [u8]) -> Option<WireEvent<'a>> {
        // Only objects: derived structs would also read a JSON array, field by field.
        if data.trim_ascii_start().first() != Some(&b'{') {
            return None;
        }
        crate::json_body::parse_json::<WireEvent>(data)
            .ok()
            .filter(|event| event.kind.as_str() != Some("error"))
    }

    pub(super) fn from_value(v: &'a Value) -> WireEvent<'a> {
        WireEvent {
            kind: text(v.get("type")),
            index: v.get("index").and_then(Value::as_u64),
            message: v.get("message").map(|m| WireMessage {
                id: text(m.get("id")),
                model: text(m.get("model")),
                usage: usage(m.get("usage")),
            }),
            content_block: v.get("content_block").map(|b| WireBlock {
                kind: text(b.get("type")),
                id: text(b.get("id")),
                name: text(b.get("name")),
                text: text(b.get("text")),
            }),
            delta: v.get("delta").map(|d| WireDelta {
                kind: text(d.get("type")),
                text: text(d.get("text")),
                partial_json: text(d.get("partial_json")),
                thinking: text(d.get("thinking")),
                signature: text(d.get("signature")),
                stop_reason: text(d.get("stop_reason")),
                stop_sequence: text(d.get("stop_sequence")),
            }),
            usage: usage(v.get("usage")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AnthropicParser, Event, Parser};
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::borrow::Cow;

    /// Events as Anthropic sends them, and odd ones: (event, whether the typed reading
    /// takes it).
    const EVENTS: &[(&str, bool)] = &[
        (
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":1}}}"#,
            true,
        ),
        (
            r#"{"type":"message_start","message":{"id":"m\"2","model":"c\u00e9","usage":{"input_tokens":3,"cache_creation":{"ephemeral_5m_input_tokens":4,"ephemeral_1h_input_tokens":5}}}}"#,
            true,
        ),
        (r#"{"type":"message_start","message":{}}"#, true),
        (r#"{"type":"message_start"}"#, true),
        (r#"{"type":"message_start","message":null}"#, true),
        (
            r#"{"type":"message_start","message":{"id":"m","usage":null}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi\n"}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"Read","input":{}}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_start","index":3,"content_block":{"type":"server_tool_use","id":"s","name":"web_search"}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel\"lo\\"}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\":"}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"signature_delta","signature":"EqQB"}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}"#,
            true,
        ),
        (
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}"#,
            true,
        ),
        (r#"{"type":"content_block_stop","index":0}"#, true),
        (
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
            true,
        ),
        (
            r#"{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},"usage":{"input_tokens":9,"output_tokens":2,"cache_read_input_tokens":1}}"#,
            true,
        ),
        (
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":null}"#,
            true,
        ),
        (r#"{"type":"message_delta","delta":{}}"#, true),
        (r#"{"type":"message_stop"}"#, true),
        (r#"{"type":"ping"}"#, true),
        (r#"{"index":4}"#, true),
        (r#"{"type":null,"index":null}"#, true),
        // Shapes the typed reading refuses: the general reader decides.
        (
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            false,
        ),
        (r#"{"type":"error"}"#, false),
        (
            r#"{"type":"content_block_delta","index":-1,"delta":{"type":"text_delta","text":"x"}}"#,
            false,
        ),
        (
            r#"{"type":"content_block_delta","index":"1","delta":{"type":"text_delta","text":"x"}}"#,
            false,
        ),
        (
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":7}}"#,
            false,
        ),
        (
            r#"{"type":"content_block_delta","index":0,"delta":"text"}"#,
            false,
        ),
        (
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","text":"b"}}"#,
            false,
        ),
        (
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":"many"}}"#,
            false,
        ),
        (
            r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":1.5}}}"#,
            false,
        ),
        (r#"{"type":["message_stop"]}"#, false),
        // Arrays where objects belong: `serde_json` would fill a struct from them.
        (
            r#"{"type":"content_block_delta","index":0,"delta":["text_delta","hi"]}"#,
            false,
        ),
        (
            r#"{"type":"content_block_start","index":0,"content_block":["tool_use","t1","Read"]}"#,
            false,
        ),
        (
            r#"{"type":"message_start","message":["m1","claude"]}"#,
            false,
        ),
        (r#"["content_block_stop",0]"#, false),
        (r#"{"type":"message_stop""#, false),
    ];

    fn events(parse: impl FnOnce(&mut AnthropicParser, &mut Vec<Event>)) -> Vec<Event> {
        let mut parser = AnthropicParser::default();
        let mut out = Vec::new();
        parse(&mut parser, &mut out);
        out
    }

    #[test]
    fn the_typed_reading_gives_the_same_events_as_the_general_one() {
        for (event, typed) in EVENTS {
            let fast = events(|p, out| p.parse(event.as_bytes(), out));
            let general = events(|p, out| p.parse_general(event.as_bytes(), out));
            assert_eq!(fast, general, "{event}");
            assert_eq!(
                WireEvent::read(event.as_bytes()).is_some(),
                *typed,
                "{event}"
            );
        }
    }

    #[test]
    fn usage_accumulates_over_the_stream_as_before() {
        let stream = [
            r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":20,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":12}}"#,
            r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":"x"}}"#,
            r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":30}}"#,
        ];
        let read = |general: bool| {
            let mut parser = AnthropicParser::default();
            let mut out = Vec::new();
            for event in stream {
                if general {
                    parser.parse_general(event.as_bytes(), &mut out);
                } else {
                    parser.parse(event.as_bytes(), &mut out);
                }
            }
            out
        };
        let fast = read(false);
        assert_eq!(fast, read(true));
        let usage: Vec<_> = fast
            .iter()
            .filter_map(|e| match e {
                Event::Usage(u) => Some((u.input, u.output, u.cache_read)),
                _ => None,
            })
            .collect();
        assert_eq!(usage, vec![(20, 1, 5), (20, 12, 5), (20, 30, 5)]);
    }

    /// A value for the field `key`: mostly of the type the field has (or `null`, or
    /// missing, as `None`), sometimes of any other JSON type.
    fn field_value(key: &'static str) -> impl Strategy<Value = Option<String>> {
        let string = "[a-z_\"\\\\\n\u{e9}]{0,8}".prop_map(|t| json!(t).to_string());
        let valid = match key {
            "index" => (0..5u64).prop_map(|i| i.to_string()).boxed(),
            "usage" => prop::sample::select(vec![
                r#"{"output_tokens":3}"#,
                r#"{"input_tokens":2,"cache_read_input_tokens":1}"#,
                r#"{"cache_creation":{"ephemeral_1h_input_tokens":4}}"#,
            ])
            .prop_map(str::to_string)
            .boxed(),
            "stop_reason" => prop::sample::select(vec![
                "\"end_turn\"",
                "\"stop_sequence\"",
                "\"tool_use\"",
                "\"max_tokens\"",
            ])
            .prop_map(str::to_string)
            .boxed(),
            _ => string.boxed(),
        };
        let other = prop::sample::select(vec![
            "7",
            "-1",
            "1.5",
            "true",
            "{}",
            "[]",
            "\"text\"",
            r#"{"output_tokens":"3"}"#,
        ])
        .prop_map(str::to_string);
        prop_oneof![
            2 => Just(None),
            1 => Just(Some("null".to_string())),
            6 => valid.prop_map(Some),
            1 => other.prop_map(Some),
        ]
    }

    /// An object of `keys` with random values, `first` written before them; one of its
    /// fields may come twice.
    fn object(
        first: Option<String>,
        keys: &'static [&'static str],
    ) -> impl Strategy<Value = String> {
        (
            keys.iter().map(|key| field_value(key)).collect::<Vec<_>>(),
            prop::option::of(0..8usize),
        )
            .prop_map(move |(values, repeated)| {
                let mut fields: Vec<String> = first.iter().cloned().collect();
                for (key, value) in keys.iter().zip(values) {
                    if let Some(value) = value {
                        fields.push(format!("\"{key}\":{value}"));
                    }
                }
                if let Some(i) = repeated.filter(|_| !fields.is_empty()) {
                    fields.push(fields[i % fields.len()].clone());
                }
                format!("{{{}}}", fields.join(","))
            })
    }

    /// An event of any type. The fields its type reads are mostly there, of their types
    /// or not; the others now and then; any may be `null` or repeated.
    fn event() -> impl Strategy<Value = String> {
        let kind = prop::sample::select(vec![
            "message_start",
            "content_block_start",
            "content_block_delta",
            "message_delta",
            "message_stop",
            "error",
            "ping",
        ]);
        kind.prop_flat_map(|kind| {
            let wanted = |key: &str| match kind {
                "message_start" => key == "message",
                "content_block_start" => key == "content_block" || key == "index",
                "content_block_delta" => key == "delta" || key == "index",
                "message_delta" => key == "delta" || key == "usage",
                "error" => key == "error",
                _ => false,
            };
            let inner_kinds = match kind {
                "content_block_start" => vec!["text", "tool_use", "thinking"],
                "content_block_delta" => vec![
                    "text_delta",
                    "input_json_delta",
                    "thinking_delta",
                    "signature_delta",
                    "citations_delta",
                ],
                _ => vec!["overloaded_error", "text"],
            };
            let field = move |key: &'static str, keys: &'static [&'static str]| {
                let inner_kind = prop::sample::select(inner_kinds.clone());
                let value = if keys.is_empty() {
                    field_value(key).boxed()
                } else {
                    (inner_kind, any::<bool>())
                        .prop_flat_map(move |(inner, typed)| {
                            let first = typed.then(|| format!("\"type\":\"{inner}\""));
                            prop_oneof![
                                1 => field_value("nested"),
                                6 => object(first, keys).prop_map(Some),
                            ]
                        })
                        .boxed()
                };
                let there = if wanted(key) { 0.9 } else { 0.1 };
                (prop::bool::weighted(there), value).prop_map(move |(there, value)| {
                    value.filter(|_| there).map(|v| format!("\"{key}\":{v}"))
                })
            };
            (
                field("index", &[]),
                field("usage", &[]),
                field("message", &["id", "model", "usage"]),
                field("content_block", &["id", "name", "text"]),
                field(
                    "delta",
                    &[
                        "text",
                        "partial_json",
                        "thinking",
                        "signature",
                        "stop_reason",
                        "stop_sequence",
                    ],
                ),
                field("error", &["message"]),
            )
                .prop_map(move |(index, usage, message, block, delta, error)| {
                    let mut fields = vec![format!("\"type\":\"{kind}\"")];
                    fields.extend(
                        [index, usage, message, block, delta, error]
                            .into_iter()
                            .flatten(),
                    );
                    format!("{{{}}}", fields.join(","))
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn any_event_reads_the_same_either_way(event in event()) {
            let fast = events(|p, out| p.parse(event.as_bytes(), out));
            let general = events(|p, out| p.parse_general(event.as_bytes(), out));
            prop_assert_eq!(fast, general, "{}", event);
        }
    }

    #[test]
    fn plain_text_is_borrowed_not_copied() {
        let data = br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"plain"}}"#;
        let event = WireEvent::read(data).expect("reads");
        assert!(matches!(
            event.delta.map(|d| d.text),
            Some(Text::Str(Cow::Borrowed("plain")))
        ));
    }
}
