//! The events most of an Anthropic stream is made of, read without deriving a struct
//! for them: the fast path of [`AnthropicParser`](super::AnthropicParser).
//!
//! A stream's text, its reasoning and every tool call's arguments come as block deltas,
//! `{"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"…"}}`,
//! dozens to hundreds of them per answer; each block opens and closes with an event of
//! its own, and the message ends with `{"type":"message_stop"}`. Anthropic writes them
//! with their keys in that order. Reading each through the derived
//! [`WireEvent`](super::anthropic_wire::WireEvent) (seven optional fields looked up by
//! name, nested structs) cost more than the rest of its translation. This reads exactly
//! those shapes token by token; a text goes through `serde_json` when it has an escape,
//! so it is checked as strictly. Any other shape (another key order, an extra field, a
//! key given twice, an index that is not a plain whole number) gives `None` and is left
//! to the whole reading, whose events this must equal; tests hold it to that. The
//! message's start and end (`message_start`, `message_delta`), once a stream, are left
//! to the whole reading too.

use super::cursor::Cursor;
use super::fields::Text;
use super::Event;

/// The event the whole reading makes of `data` (none, for a block's end or a text
/// block that opens empty), or `None` when `data` is not in one of the usual shapes.
pub(super) fn read(data: &[u8]) -> Option<Option<Event>> {
    let mut cursor = Cursor {
        text: std::str::from_utf8(data).ok()?,
        pos: 0,
    };
    cursor.take(b'{')?;
    expect_key(&mut cursor, "type")?;
    let event = match cursor.plain_string()? {
        "content_block_delta" => {
            let index = index(&mut cursor)?;
            cursor.take(b',')?;
            Some(block_delta(&mut cursor, index)?)
        }
        "content_block_start" => {
            let index = index(&mut cursor)?;
            cursor.take(b',')?;
            block_start(&mut cursor, index)?
        }
        "content_block_stop" => {
            index(&mut cursor)?;
            None
        }
        "message_stop" => Some(Event::Done),
        "ping" => None,
        _ => return None,
    };
    cursor.take(b'}')?;
    cursor.at_end().then_some(event)
}

/// `,"index":N`.
fn index(cursor: &mut Cursor<'_>) -> Option<u64> {
    cursor.take(b',')?;
    expect_key(cursor, "index")?;
    whole_number(cursor)
}

/// `"delta":{"type":K,"<K's field>":…}`.
fn block_delta(cursor: &mut Cursor<'_>, index: u64) -> Option<Event> {
    expect_key(cursor, "delta")?;
    cursor.take(b'{')?;
    expect_key(cursor, "type")?;
    let kind = cursor.plain_string()?;
    cursor.take(b',')?;
    let field = match kind {
        "text_delta" => "text",
        "input_json_delta" => "partial_json",
        "thinking_delta" => "thinking",
        "signature_delta" => "signature",
        _ => return None,
    };
    expect_key(cursor, field)?;
    let text = owned(cursor.text()?);
    cursor.take(b'}')?;
    Some(match kind {
        "text_delta" => Event::Text(text),
        "input_json_delta" => Event::ToolArgs {
            index,
            fragment: text,
        },
        "thinking_delta" => Event::Thinking(text),
        _ => Event::Signature(text),
    })
}

/// `"content_block":{…}` for a text block (`"text":…`) or a tool call
/// (`"id":…,"name":…,"input":{}`); any other block is left to the whole reading.
fn block_start(cursor: &mut Cursor<'_>, index: u64) -> Option<Option<Event>> {
    expect_key(cursor, "content_block")?;
    cursor.take(b'{')?;
    expect_key(cursor, "type")?;
    let event = match cursor.plain_string()? {
        "text" => {
            cursor.take(b',')?;
            expect_key(cursor, "text")?;
            let text = owned(cursor.text()?);
            (!text.is_empty()).then_some(Event::Text(text))
        }
        "tool_use" => {
            cursor.take(b',')?;
            expect_key(cursor, "id")?;
            let id = owned(cursor.text()?);
            cursor.take(b',')?;
            expect_key(cursor, "name")?;
            let name = owned(cursor.text()?);
            cursor.take(b',')?;
            expect_key(cursor, "input")?;
            cursor.take(b'{')?;
            cursor.take(b'}')?;
            Some(Event::ToolStart { index, id, name })
        }
        _ => return None,
    };
    cursor.take(b'}')?;
    Some(event)
}

/// As the whole reading takes a string field: `null` is empty text.
fn owned(text: Text<'_>) -> String {
    match text {
        Text::Str(s) => s.into_owned(),
        Text::Null | Text::Absent => String::new(),
    }
}

fn expect_key(cursor: &mut Cursor<'_>, wanted: &str) -> Option<()> {
    (cursor.key()? == wanted).then_some(())
}

/// A whole number as `serde_json` reads a `u64`: digits, no leading zero, no sign.
/// A fraction or an exponent fails at the caller, which takes a `,` or `}` next.
fn whole_number(cursor: &mut Cursor<'_>) -> Option<u64> {
    cursor.skip_whitespace();
    let digits = cursor.text.as_bytes()[cursor.pos..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let number = &cursor.text[cursor.pos..cursor.pos + digits];
    if number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    let value = number.parse().ok()?;
    cursor.pos += digits;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::super::AnthropicParser;
    use super::*;
    use proptest::prelude::*;

    /// The events the whole reading makes of `data`.
    fn whole(data: &str) -> Vec<Event> {
        let mut out = Vec::new();
        AnthropicParser::default().parse_whole(data.as_bytes(), &mut out);
        out
    }

    /// The events read here, or `None` when the event is left to the whole reading.
    fn fast(data: &str) -> Option<Vec<Event>> {
        read(data.as_bytes()).map(|events| events.into_iter().collect())
    }

    fn delta(index: &str, kind: &str, field: &str, text: &str) -> String {
        format!(
            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"{kind}","{field}":{text}}}}}"#
        )
    }

    fn block_start(index: &str, block: &str) -> String {
        format!(r#"{{"type":"content_block_start","index":{index},"content_block":{block}}}"#)
    }

    #[test]
    fn the_usual_events_read_here_as_the_whole_reading_reads_them() {
        let cases = [
            delta("0", "text_delta", "text", r#""Hello""#),
            delta("0", "text_delta", "text", r#""""#),
            delta("3", "text_delta", "text", r#""caf\u00e9 \"q\" a\\b\n\ud83d\ude00""#),
            delta("0", "text_delta", "text", r#""größe 🎉""#),
            delta("0", "text_delta", "text", "null"),
            delta("1", "input_json_delta", "partial_json", r#""{\"path\": \"a""#),
            delta("12", "input_json_delta", "partial_json", r#""""#),
            delta("0", "thinking_delta", "thinking", r#""Let me see""#),
            delta("0", "signature_delta", "signature", r#""EqQBCkgIAR""#),
            delta("18446744073709551615", "text_delta", "text", r#""max""#),
            // Whitespace between tokens, as a pretty-printer would write it.
            " { \"type\" : \"content_block_delta\" , \"index\" : 2 , \"delta\" : { \"type\" : \"text_delta\" , \"text\" : \"x\" } } \n".to_string(),
            block_start("0", r#"{"type":"text","text":""}"#),
            block_start("0", r#"{"type":"text","text":"Already \"here\""}"#),
            block_start("0", r#"{"type":"text","text":null}"#),
            block_start(
                "2",
                r#"{"type":"tool_use","id":"toolu_01A","name":"Bash","input":{}}"#,
            ),
            block_start("1", r#"{"type":"tool_use","id":null,"name":"W\u0072ite","input":{ }}"#),
            r#"{"type":"content_block_stop","index":0}"#.to_string(),
            r#"{"type":"content_block_stop","index":7}"#.to_string(),
            r#"{"type":"message_stop"}"#.to_string(),
            r#"{"type": "ping"}"#.to_string(),
        ];
        for data in &cases {
            let here = fast(data).unwrap_or_else(|| panic!("read here: {data}"));
            assert_eq!(here, whole(data), "{data}");
        }
        // Each kind of event gives what a stream needs from it.
        assert_eq!(
            fast(&block_start(
                "2",
                r#"{"type":"tool_use","id":"t","name":"Bash","input":{}}"#
            )),
            Some(vec![Event::ToolStart {
                index: 2,
                id: "t".into(),
                name: "Bash".into()
            }])
        );
        assert_eq!(fast(r#"{"type":"message_stop"}"#), Some(vec![Event::Done]));
        assert_eq!(
            fast(r#"{"type":"content_block_stop","index":0}"#),
            Some(vec![])
        );
    }

    #[test]
    fn other_shapes_are_left_to_the_whole_reading() {
        let cases = [
            // Another key order, an extra field, a key given twice.
            r#"{"index":0,"type":"content_block_delta","delta":{"type":"text_delta","text":"a"}}"#.to_string(),
            r#"{"type":"content_block_delta","index":0,"delta":{"text":"a","type":"text_delta"}}"#.to_string(),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"},"x":1}"#.to_string(),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","x":1}}"#.to_string(),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","text":"b"}}"#.to_string(),
            // The field of another kind of delta, an unknown kind, a missing text.
            delta("0", "text_delta", "partial_json", r#""a""#),
            delta("0", "citations_delta", "text", r#""a""#),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}"#.to_string(),
            // Indexes serde reads otherwise, or refuses.
            delta("01", "text_delta", "text", r#""a""#),
            delta("-1", "text_delta", "text", r#""a""#),
            delta("1.0", "text_delta", "text", r#""a""#),
            delta("1e2", "text_delta", "text", r#""a""#),
            delta("null", "text_delta", "text", r#""a""#),
            delta("18446744073709551616", "text_delta", "text", r#""a""#),
            r#"{"type":"content_block_stop","index":1.5}"#.to_string(),
            r#"{"type":"content_block_stop"}"#.to_string(),
            // A text that is not a string, an escaped key, trailing bytes.
            delta("0", "text_delta", "text", "5"),
            delta("0", "text_delta", "text", r#"["a"]"#),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","t\u0065xt":"a"}}"#.to_string(),
            format!("{} x", delta("0", "text_delta", "text", r#""a""#)),
            delta("0", "text_delta", "text", r#""a"#),
            // Blocks of other kinds or shapes.
            block_start("0", r#"{"type":"thinking","thinking":"","signature":""}"#),
            block_start("0", r#"{"type":"text"}"#),
            block_start("0", r#"{"type":"text","text":"a","citations":[]}"#),
            block_start("0", r#"{"type":"tool_use","id":"t","name":"Bash","input":{"a":1}}"#),
            block_start("0", r#"{"type":"tool_use","name":"Bash","id":"t","input":{}}"#),
            block_start("0", r#"{"type":"server_tool_use","id":"t","name":"web_search","input":{}}"#),
            block_start("0", "null"),
            // Events with more than their type, and others.
            r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":5}}"#.to_string(),
            r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1}}}"#.to_string(),
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#.to_string(),
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.to_string(),
        ];
        for data in &cases {
            assert_eq!(fast(data), None, "{data}");
        }
    }

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just(" ".to_string()),
            Just("\\n".to_string()),
            Just("\\\"".to_string()),
            Just("\\\\".to_string()),
            Just("\\u00e9".to_string()),
            Just("\\ud83d\\ude00".to_string()),
            Just("\\ud800".to_string()),
            Just("\\x".to_string()),
            Just("\u{1}".to_string()),
            Just("é".to_string()),
            "[a-z{}:,]{1,8}",
        ]
    }

    /// A JSON string now and then, or text that may not be one.
    fn text() -> impl Strategy<Value = String> {
        (prop::collection::vec(piece(), 0..6), any::<bool>()).prop_map(|(pieces, quoted)| {
            let text = pieces.concat();
            if quoted {
                format!("\"{text}\"")
            } else {
                text
            }
        })
    }

    fn event() -> impl Strategy<Value = String> {
        let index = prop_oneof![Just("0".to_string()), Just("07".to_string()), "[0-9]{1,3}"];
        let kind = prop::sample::select(vec![
            ("text_delta", "text"),
            ("input_json_delta", "partial_json"),
            ("thinking_delta", "thinking"),
            ("signature_delta", "signature"),
            ("text_delta", "thinking"),
        ]);
        prop_oneof![
            (index.clone(), kind, text()).prop_map(|(i, k, t)| delta(&i, k.0, k.1, &t)),
            (index.clone(), text())
                .prop_map(|(i, t)| block_start(&i, &format!(r#"{{"type":"text","text":{t}}}"#))),
            (index.clone(), text(), text()).prop_map(|(i, id, name)| block_start(
                &i,
                &format!(r#"{{"type":"tool_use","id":{id},"name":{name},"input":{{}}}}"#)
            )),
            index.prop_map(|i| format!(r#"{{"type":"content_block_stop","index":{i}}}"#)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        #[test]
        fn any_event_reads_here_as_the_whole_reading_reads_it(data in event()) {
            if let Some(here) = fast(&data) {
                prop_assert_eq!(here, whole(&data), "{}", data);
            }
        }
    }
}
