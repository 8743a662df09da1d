//! What an Anthropic stream event tells the pass-through observer: usage, the end of
//! the message, or a provider's error.
//!
//! A pass-through stream reaches the client as the provider sent it; the observer only
//! reads what the request log records. Reading `message_start` and `message_delta`
//! whole with serde cost about 9k instructions a stream, 8% of a short one's. Those
//! two are read here in part instead: the type where Anthropic writes it, first (or as
//! the last top-level `type`, where it is not), the usage from the end (the last
//! `usage`, of the message for `message_start`), and the rest of the event is not
//! looked at, as the OpenAI observer reads a chunk's usage. Events of other types
//! record nothing and are let go unread, except these, which serde reads whole as
//! before: `error`, `message_stop` (a stream's end is taken only from an event read
//! whole, and it is a few bytes), a type written with escapes, and an event whose type
//! cannot be found.

use super::AnthropicError;
use crate::json_body::{first_field, last_field};
use crate::usage::{usage_field, AnthropicUsage};
use serde::Deserialize;
use std::borrow::Cow;

/// What one event's data says.
#[derive(Debug, PartialEq)]
pub(super) enum News {
    /// Usage counts (cumulative in `message_delta`).
    Usage(AnthropicUsage),
    /// `message_stop`: the message is complete.
    Stop,
    /// The provider's error message.
    Error(String),
    Nothing,
}

/// Reads an event's data (its JSON text).
pub(super) fn read(data: &[u8]) -> News {
    read_usual(data).unwrap_or_else(|| read_whole(data))
}

/// The usual events' news, or `None` for serde to read the event.
///
/// For an event serde reads, this answers the same, but for shapes no provider writes
/// and serde's derived reading happens to take: a `message` written as an array of its
/// fields, a field nested more than 128 deep after the usage. It also answers for a
/// `message_start` or `message_delta` malformed or oddly typed before its usage, or
/// repeating a key, which serde refuses whole: the counts the provider sent are
/// recorded rather than lost.
fn read_usual(data: &[u8]) -> Option<News> {
    let usage = |object: &[u8]| usage_field(object).map_or(News::Nothing, News::Usage);
    let kind = match first_field(data, "type") {
        Some(kind) => kind,
        None => last_field(data, "type")?,
    };
    match kind {
        b"\"message_start\"" => Some(last_field(data, "message").map_or(News::Nothing, usage)),
        b"\"message_delta\"" => Some(usage(data)),
        b"\"message_stop\"" | b"\"error\"" => None,
        // Any other type, unless written with escapes, tells the observer nothing.
        other => (!other.contains(&b'\\')).then_some(News::Nothing),
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    /// Borrowed unless written with escapes: reading a `message_stop` allocates nothing.
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    message: Option<Message>,
    usage: Option<AnthropicUsage>,
    error: Option<AnthropicError>,
}

#[derive(Deserialize)]
struct Message {
    usage: Option<AnthropicUsage>,
}

/// Any event, read whole by serde; one it cannot read says nothing.
fn read_whole(data: &[u8]) -> News {
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return News::Nothing;
    };
    let usage = match event.kind.as_ref() {
        "message_start" => event.message.and_then(|m| m.usage),
        "message_delta" => event.usage,
        "message_stop" => return News::Stop,
        "error" => {
            return News::Error(
                event
                    .error
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| "provider reported an error".into()),
            )
        }
        _ => None,
    };
    usage.map_or(News::Nothing, News::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usage(raw: &str) -> News {
        News::Usage(serde_json::from_str(raw).unwrap())
    }

    #[test]
    fn the_usual_events_are_read_in_part() {
        let cases: [(&str, News); 7] = [
            (
                r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":1}}}"#,
                usage(
                    r#"{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":1}"#,
                ),
            ),
            (
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
                usage(r#"{"output_tokens":15}"#),
            ),
            (
                r#"{"type":"message_start","message":{"id":"m"}}"#,
                News::Nothing,
            ),
            (r#"{"type":"message_start","message":null}"#, News::Nothing),
            (r#"{"type":"message_delta","usage":null}"#, News::Nothing),
            (r#"{"type":"ping"}"#, News::Nothing),
            // The type last, the usage first: where they are does not matter.
            (
                r#"{ "usage" : {"output_tokens":2} , "delta":{"text":"\"type\":\"x\""}, "type" : "message_delta" }"#,
                usage(r#"{"output_tokens":2}"#),
            ),
        ];
        for (data, news) in cases {
            assert_eq!(read_usual(data.as_bytes()), Some(news), "{data}");
        }
    }

    #[test]
    fn errors_stops_and_escaped_types_are_read_whole() {
        let cases: [(&str, News); 8] = [
            (
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                News::Error("Overloaded".into()),
            ),
            (
                r#"{"type":"error","error":{"type":"api_error"}}"#,
                News::Error("provider reported an error".into()),
            ),
            (
                r#"{"type":"message\u005fdelta","usage":{"output_tokens":4}}"#,
                usage(r#"{"output_tokens":4}"#),
            ),
            (r#"{"type":"message_st\u006fp"}"#, News::Stop),
            (r#"{"type":"message_stop"}"#, News::Stop),
            // A stream's end is not taken from an event serde cannot read.
            (r#"{"type":"message_stop""#, News::Nothing),
            (r#"{"type":"message_stop","x":01}"#, News::Nothing),
            (
                r#"{"type":"message_stop","type":"message_stop"}"#,
                News::Nothing,
            ),
        ];
        for (data, news) in cases {
            assert_eq!(read_usual(data.as_bytes()), None, "{data}");
            assert_eq!(read(data.as_bytes()), news, "{data}");
        }
    }

    #[test]
    fn counts_are_kept_where_serde_refuses_the_event_whole() {
        // A key given twice, a field of an odd type: serde reads nothing.
        for data in [
            r#"{"type":"message_delta","type":"message_delta","usage":{"output_tokens":5}}"#,
            r#"{"type":"message_delta","error":7,"usage":{"output_tokens":5}}"#,
        ] {
            assert_eq!(read_whole(data.as_bytes()), News::Nothing, "{data}");
            assert_eq!(read(data.as_bytes()), usage(r#"{"output_tokens":5}"#));
        }
    }

    /// A JSON string that may hold escapes, quotes and the names the readers look for.
    fn text() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "",
            "plain",
            "\"usage\":{\"output_tokens\":9}",
            "\"type\":\"message_stop\"",
            "é \\ / \n \t \u{1F600}",
            "}]{[",
        ])
        .prop_map(|t| serde_json::Value::from(t).to_string())
    }

    /// An Anthropic usage object as providers send it, its fields in any order.
    fn usage_object() -> impl Strategy<Value = String> {
        let fields = prop::sample::subsequence(
            vec![
                r#""input_tokens":12"#,
                r#""output_tokens":3"#,
                r#""cache_read_input_tokens":40"#,
                r#""cache_creation_input_tokens":7"#,
                r#""cache_creation":{"ephemeral_5m_input_tokens":5,"ephemeral_1h_input_tokens":2}"#,
                r#""service_tier":"standard""#,
            ],
            0..=6,
        );
        fields
            .prop_shuffle()
            .prop_map(|f| format!("{{{}}}", f.join(",")))
    }

    /// An object of the `fields` given, in any order, spaced or not.
    fn object(fields: Vec<BoxedStrategy<Option<String>>>) -> BoxedStrategy<String> {
        (fields, any::<bool>())
            .prop_flat_map(|(fields, spaced)| {
                let present: Vec<String> = fields.into_iter().flatten().collect();
                Just(present).prop_shuffle().prop_map(move |present| {
                    let gap = if spaced { " " } else { "" };
                    format!("{{{gap}{}{gap}}}", present.join(&format!("{gap},{gap}")))
                })
            })
            .boxed()
    }

    fn field(
        key: &'static str,
        value: impl Strategy<Value = String> + 'static,
    ) -> BoxedStrategy<Option<String>> {
        prop::option::weighted(0.8, value.prop_map(move |v| format!("\"{key}\":{v}"))).boxed()
    }

    /// An event of a type the observer meets, with the fields providers send.
    fn event() -> impl Strategy<Value = String> {
        let kind = prop::sample::select(vec![
            "message_start",
            "message_delta",
            "message_stop",
            "content_block_start",
            "content_block_delta",
            "ping",
        ]);
        let message = object(vec![
            field("id", text()),
            field("model", text()),
            field("content", Just("[]".to_string())),
            field("stop_reason", Just("null".to_string())),
            field(
                "usage",
                prop_oneof![usage_object(), Just("null".to_string())],
            ),
        ]);
        let delta = object(vec![field("stop_reason", text()), field("text", text())]);
        kind.prop_flat_map(move |kind| {
            object(vec![
                Just(Some(format!("\"type\":\"{kind}\""))).boxed(),
                field("index", Just("0".to_string())),
                field("message", message.clone()),
                field("delta", delta.clone()),
                field("usage", usage_object()),
            ])
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        #[test]
        fn the_usual_reading_answers_as_serde_does(data in event()) {
            let whole = read_whole(data.as_bytes());
            match read_usual(data.as_bytes()) {
                Some(news) => prop_assert_eq!(news, whole, "{}", data),
                // Of these events, only a stream's end is left to serde.
                None => prop_assert_eq!(whole, News::Stop, "{}", data),
            }
        }
    }
}
