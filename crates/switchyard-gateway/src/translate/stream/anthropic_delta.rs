//! The event most of an Anthropic stream is made of, a block's delta, read without
//! deriving a struct for it: the fast path of [`AnthropicParser`](super::AnthropicParser).
//!
//! A stream's text, its reasoning and every tool call's arguments come as
//! `{"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"…"}}`,
//! dozens to hundreds of them per answer, always with those keys in that order. Reading
//! each through the derived [`WireEvent`](super::anthropic_wire::WireEvent) (seven
//! optional fields looked up by name, nested structs) cost more than the rest of its
//! translation. This reads exactly that shape token by token; the text itself goes
//! through `serde_json` when it has an escape, so it is checked as strictly. Any other
//! shape (another key order, an extra field, a key given twice, an index that is not a
//! plain whole number) gives `None` and is left to the whole reading, whose events
//! this must equal; tests hold it to that.

use super::cursor::Cursor;
use super::fields::Text;
use super::Event;

/// The delta's event, or `None` when `data` is not a block delta in the usual shape.
pub(super) fn read(data: &[u8]) -> Option<Event> {
    let mut cursor = Cursor {
        text: std::str::from_utf8(data).ok()?,
        pos: 0,
    };
    cursor.take(b'{')?;
    expect_key(&mut cursor, "type")?;
    if cursor.plain_string()? != "content_block_delta" {
        return None;
    }
    cursor.take(b',')?;
    expect_key(&mut cursor, "index")?;
    let index = whole_number(&mut cursor)?;
    cursor.take(b',')?;
    expect_key(&mut cursor, "delta")?;
    cursor.take(b'{')?;
    expect_key(&mut cursor, "type")?;
    let kind = cursor.plain_string()?;
    cursor.take(b',')?;
    let field = match kind {
        "text_delta" => "text",
        "input_json_delta" => "partial_json",
        "thinking_delta" => "thinking",
        "signature_delta" => "signature",
        _ => return None,
    };
    expect_key(&mut cursor, field)?;
    let text = cursor.text()?;
    cursor.take(b'}')?;
    cursor.take(b'}')?;
    if !cursor.at_end() {
        return None;
    }
    // As the whole reading: a `null` text is empty text.
    let text = match text {
        Text::Str(s) => s.into_owned(),
        Text::Null | Text::Absent => String::new(),
    };
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

fn expect_key(cursor: &mut Cursor<'_>, wanted: &str) -> Option<()> {
    (cursor.key()? == wanted).then_some(())
}

/// A whole number as `serde_json` reads a `u64`: digits, no leading zero, no sign,
/// fraction or exponent (the next token must then be the `,` the caller takes).
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

    fn delta(index: &str, kind: &str, field: &str, text: &str) -> String {
        format!(
            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"{kind}","{field}":{text}}}}}"#
        )
    }

    #[test]
    fn the_usual_deltas_read_here_as_the_whole_reading_reads_them() {
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
        ];
        for data in &cases {
            let fast = read(data.as_bytes()).unwrap_or_else(|| panic!("read here: {data}"));
            assert_eq!(vec![fast], whole(data), "{data}");
        }
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
            // A text that is not a string, an escaped key, trailing bytes.
            delta("0", "text_delta", "text", "5"),
            delta("0", "text_delta", "text", r#"["a"]"#),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","t\u0065xt":"a"}}"#.to_string(),
            format!("{} x", delta("0", "text_delta", "text", r#""a""#)),
            delta("0", "text_delta", "text", r#""a"#),
            // Other events.
            r#"{"type":"content_block_stop","index":0}"#.to_string(),
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.to_string(),
        ];
        for data in &cases {
            assert_eq!(read(data.as_bytes()), None, "{data}");
            // Whatever the whole reading makes of it stands (nothing, for most).
            let _ = whole(data);
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn any_delta_reads_here_as_the_whole_reading_reads_it(
            index in prop_oneof![Just("0".to_string()), Just("07".to_string()), "[0-9]{1,3}"],
            kind in prop::sample::select(vec![
                ("text_delta", "text"),
                ("input_json_delta", "partial_json"),
                ("thinking_delta", "thinking"),
                ("signature_delta", "signature"),
                ("text_delta", "thinking"),
            ]),
            pieces in prop::collection::vec(piece(), 0..6),
            quoted in any::<bool>(),
        ) {
            let text = pieces.concat();
            let text = if quoted { format!("\"{text}\"") } else { text };
            let data = delta(&index, kind.0, kind.1, &text);
            if let Some(fast) = read(data.as_bytes()) {
                prop_assert_eq!(vec![fast], whole(&data), "{}", data);
            }
        }
    }
}
