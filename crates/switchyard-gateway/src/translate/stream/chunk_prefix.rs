//! Reading an OpenAI chunk from where it stops repeating the chunk before it.
//!
//! Every chunk of an OpenAI-style stream opens with the same bytes up to its delta:
//! `{"id":"chatcmpl-…","object":"chat.completion.chunk","created":…,"model":"…",
//! "choices":[{"index":0,"delta":`. Reading those fields again for each chunk was most of
//! the cost of reading it. Once a chunk has been read whole, its bytes up to the delta
//! are kept; a later chunk that opens with exactly those bytes is read from there: its
//! delta, the rest of its first choice, any further choices and the fields after them.
//!
//! The result is what reading the whole chunk would give. The kept bytes were read and
//! checked as part of that earlier chunk, and hold none of the fields whose value the
//! parser takes from a chunk other than the first (`usage`, `error`, `finish_reason`);
//! everything after them is read by `serde_json` with the types the whole reading uses,
//! so it is checked as strictly. What this reading does not take (a key given twice, an
//! `error`, a key with an escape, text that is not UTF-8) is left to the whole reading.

use super::cursor::Cursor;
use super::fields::Text;
use super::openai_chunk::{Choice, Chunk, Delta};
use crate::translate::object_only::Object;
use crate::usage::OpenAiUsage;
use serde::de::IgnoredAny;
use std::borrow::Cow;

/// A stream's repeated chunk opening, once learned.
#[derive(Default)]
pub(super) struct RepeatedPrefix {
    bytes: Vec<u8>,
    /// How many chunks an opening was looked for in; capped, so that a provider whose
    /// chunks never repeat one pays for looking only a few times.
    attempts: u8,
}

/// Looking for an opening stops after this many chunks (a normal stream needs one: its
/// first, whose opening every later chunk repeats).
const MAX_ATTEMPTS: u8 = 8;

impl RepeatedPrefix {
    /// The chunk read from after the kept opening, or `None` when it does not start
    /// with it or the rest is not in a shape read here.
    pub(super) fn read<'a>(&self, data: &'a [u8]) -> Option<Chunk<'a>> {
        if self.bytes.is_empty() {
            return None;
        }
        let rest = data.strip_prefix(self.bytes.as_slice())?;
        let mut cursor = Cursor {
            text: std::str::from_utf8(rest).ok()?,
            pos: 0,
        };
        let delta = cursor.delta()?;
        let mut finish_reason = Text::Absent;
        while cursor.next_field()? {
            match cursor.key()? {
                "finish_reason" if !finish_reason.is_present() => {
                    finish_reason = cursor.text()?;
                }
                "finish_reason" | "delta" => return None,
                _ => cursor.value::<IgnoredAny>().map(drop)?,
            }
        }
        let first = Choice {
            delta,
            finish_reason,
        };
        // Later choices are not used, but the whole reading requires them to read.
        while cursor.next_item()? {
            cursor.value::<Object<Choice>>()?;
        }
        let mut usage = None;
        let mut usage_seen = false;
        while cursor.next_field()? {
            match cursor.key()? {
                "usage" if !usage_seen => {
                    usage_seen = true;
                    usage = cursor.value::<Option<OpenAiUsage>>()?;
                }
                // Given twice, or an error: the whole reading decides.
                "usage" | "id" | "model" | "choices" | "error" => return None,
                _ => cursor.value::<IgnoredAny>().map(drop)?,
            }
        }
        cursor.at_end().then_some(Chunk {
            id: Text::Absent,
            model: Text::Absent,
            choices: Some(vec![first]),
            usage,
            error: Default::default(),
        })
    }

    /// Keeps the opening of `data`, a chunk the whole reading took, for the chunks
    /// after it (when it has one to keep: the usage chunk has no delta).
    pub(super) fn learn(&mut self, data: &[u8]) {
        if self.attempts >= MAX_ATTEMPTS {
            return;
        }
        self.attempts += 1;
        if let Some(end) = delta_offset(data) {
            self.bytes.clear();
            self.bytes.extend_from_slice(&data[..end]);
        }
    }
}

/// Where the first choice's delta starts in `data`, when everything before it can be
/// kept: no `usage`, `error` or `finish_reason` before it, no key with an escape. `data`
/// is a chunk the whole reading took, so values are stepped over by their structure.
fn delta_offset(data: &[u8]) -> Option<usize> {
    let mut cursor = Cursor {
        text: std::str::from_utf8(data).ok()?,
        pos: 0,
    };
    cursor.take(b'{')?;
    cursor.skip_to_key("choices", &["usage", "error"])?;
    cursor.take(b'[')?;
    cursor.take(b'{')?;
    cursor.skip_to_key("delta", &["finish_reason"])?;
    Some(cursor.pos)
}

/// The OpenAI chunk's own shapes.
impl<'a> Cursor<'a> {
    /// The first choice's delta. The one most chunks carry, `{"content":"…"}` with
    /// plain text, is read here: it is most of a stream, and going through
    /// `serde_json` twice for it (the delta, then `finish_reason`) cost more than the
    /// rest of the chunk. Any other delta is read by `serde_json` with the whole
    /// reading's type.
    fn delta(&mut self) -> Option<Option<Delta<'a>>> {
        let start = self.pos;
        if let Some(delta) = self.plain_content_delta() {
            return Some(Some(delta));
        }
        self.pos = start;
        Some(self.value::<Option<Object<Delta>>>()?.map(|Object(d)| d))
    }

    /// `{"content":"…"}` with plain text and nothing else, or `None`.
    fn plain_content_delta(&mut self) -> Option<Delta<'a>> {
        self.take(b'{')?;
        if self.key()? != "content" {
            return None;
        }
        let content = self.plain_string()?;
        self.take(b'}')?;
        Some(Delta {
            content: Text::Str(Cow::Borrowed(content)),
            ..Delta::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, OpenAiParser, Parser};
    use super::*;
    use proptest::prelude::*;

    /// A parser that reads every chunk whole, as before openings were kept.
    fn whole_reader() -> OpenAiParser {
        let mut parser = OpenAiParser::default();
        parser.prefix.attempts = MAX_ATTEMPTS;
        parser
    }

    /// Each chunk's events, read both ways; and how many chunks the kept opening read.
    fn both_ways(chunks: &[String]) -> (Vec<Vec<Event>>, Vec<Vec<Event>>, usize) {
        let (mut fast, mut whole) = (OpenAiParser::default(), whole_reader());
        let (mut fast_events, mut whole_events) = (Vec::new(), Vec::new());
        let mut from_prefix = 0;
        for chunk in chunks {
            from_prefix += usize::from(fast.prefix.read(chunk.as_bytes()).is_some());
            let mut out = Vec::new();
            fast.parse(chunk.as_bytes(), &mut out);
            fast_events.push(out);
            let mut out = Vec::new();
            whole.parse(chunk.as_bytes(), &mut out);
            whole_events.push(out);
        }
        (fast_events, whole_events, from_prefix)
    }

    const HEAD: &str = r#"{"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":"#;

    fn chunk(delta: &str, rest: &str) -> String {
        format!("{HEAD}{delta}{rest}")
    }

    #[test]
    fn a_provider_stream_reads_the_same_and_mostly_from_the_kept_opening() {
        let tail = r#","logprobs":null,"finish_reason":null}],"obfuscation":"a1"}"#;
        let chunks = vec![
            chunk(r#"{"role":"assistant","content":"","refusal":null}"#, tail),
            chunk(r#"{"content":"Hel\"lo\n"}"#, tail),
            chunk(r#"{"reasoning_content":"hmm"}"#, r#","logprobs":null,"finish_reason":null}],"obfuscation":"longer one"}"#),
            chunk(
                r#"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Read","arguments":""}}]}"#,
                tail,
            ),
            chunk(
                r#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":\"a\"}"}}]}"#,
                tail,
            ),
            chunk("{}", r#","logprobs":null,"finish_reason":"tool_calls"}],"usage":null}"#),
            r#"{"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}}"#.to_string(),
            "[DONE]".to_string(),
        ];
        let (fast, whole, from_prefix) = both_ways(&chunks);
        assert_eq!(fast, whole);
        assert_eq!(
            from_prefix, 5,
            "every chunk after the first but the usage chunk"
        );
        assert!(fast.iter().flatten().any(|e| matches!(e, Event::Usage(_))));
    }

    #[test]
    fn chunks_in_other_shapes_read_as_the_whole_reading_reads_them() {
        let tail = r#","finish_reason":null}]}"#;
        let a = r#"{"content":"a"}"#;
        // (chunk, whether it is read from the kept opening)
        let odd = [
            // Given twice.
            (
                chunk(a, r#","finish_reason":null,"finish_reason":"stop"}]}"#),
                false,
            ),
            (
                chunk(a, r#","delta":{"content":"b"},"finish_reason":null}]}"#),
                false,
            ),
            (
                chunk(
                    a,
                    r#","finish_reason":null}],"usage":null,"usage":{"prompt_tokens":1}}"#,
                ),
                false,
            ),
            (
                chunk(a, r#","finish_reason":null}],"model":"other"}"#),
                false,
            ),
            // An error, or fields of other types.
            (
                chunk(a, r#","finish_reason":null}],"error":{"message":"x"}}"#),
                false,
            ),
            (chunk(r#"{"content":7}"#, tail), false),
            (chunk(r#""text""#, tail), false),
            (chunk(r#"["text"]"#, tail), false),
            (chunk(r#"{"tool_calls":[[0,"c1"]]}"#, tail), false),
            (chunk(a, r#","finish_reason":1}]}"#), false),
            (chunk(a, r#","finish_reason":null},{"delta":"x"}]}"#), false),
            (chunk(a, r#","finish_reason":null},["x"]]}"#), false),
            (
                chunk(
                    a,
                    r#","finish_reason":null}],"usage":{"prompt_tokens":-1}}"#,
                ),
                false,
            ),
            // A key with an escape, text that is not JSON, or cut short.
            (chunk(a, r#","fin\u0069sh_reason":"stop"}]}"#), false),
            (chunk(a, ",\"fin\u{1}\":1}]}"), false),
            (chunk(a, r#","finish_reason":nul}]}"#), false),
            (chunk(a, r#","finish_reason":null}]} x"#), false),
            (chunk(a, r#","finish_reason":null}]"#), false),
            (chunk("{\"content\":\"a\u{1}\"}", tail), false),
            // An escaped control character is JSON.
            (chunk(r#"{"content":"a\u0001"}"#, tail), true),
        ];
        for (chunk_text, from_prefix) in odd {
            let chunks = vec![
                chunk(r#"{"role":"assistant","content":""}"#, tail),
                chunk_text,
            ];
            let (fast, whole, read) = both_ways(&chunks);
            assert_eq!(fast, whole, "{}", chunks[1]);
            assert_eq!(read == 1, from_prefix, "{}", chunks[1]);
        }
        // Not UTF-8 after the opening.
        let mut bytes = chunk(a, tail).into_bytes();
        let at = HEAD.len() + 13;
        bytes[at] = 0xff;
        let mut fast = OpenAiParser::default();
        fast.parse(chunk(r#"{"content":""}"#, tail).as_bytes(), &mut Vec::new());
        assert!(fast.prefix.read(&bytes).is_none());
    }

    #[test]
    fn the_common_delta_and_plain_strings_read_as_serde_reads_them() {
        // (delta, whether it is read without serde)
        let deltas = [
            (r#"{"content":"Hi"}"#, true),
            (r#" { "content" : "Hi é" } "#, true),
            (r#"{"content":""}"#, true),
            (r#"{"content":"H\"i\n"}"#, false),
            ("{\"content\":\"H\u{1}\"}", false),
            (r#"{"content":"Hi","content":"x"}"#, false),
            (r#"{"content":"Hi","refusal":null}"#, false),
            (r#"{"content":null}"#, false),
            (r#"{"reasoning":"Hi"}"#, false),
            (r#"{"content":"Hi""#, false),
            ("null", false),
        ];
        for (text, without_serde) in deltas {
            let mut cursor = Cursor { text, pos: 0 };
            assert_eq!(
                cursor.plain_content_delta().is_some(),
                without_serde,
                "{text}"
            );
            let mut cursor = Cursor { text, pos: 0 };
            let ours = cursor.delta().map(|d| format!("{d:?}"));
            let by_serde = serde_json::from_str::<Option<Object<Delta>>>(text)
                .ok()
                .map(|d| format!("{:?}", d.map(|Object(d)| d)));
            assert_eq!(ours, by_serde, "{text}");
        }
        for text in [
            r#""stop""#,
            r#" "tool_calls" "#,
            "null",
            " null ",
            r#""st\"op""#,
            "5",
            "nullx",
            "nul",
            "{}",
        ] {
            let mut cursor = Cursor { text, pos: 0 };
            let ours = cursor.text().map(|t| format!("{t:?}"));
            let by_serde = serde_json::from_str::<Text>(text)
                .ok()
                .map(|t| format!("{t:?}"));
            assert_eq!(ours, by_serde, "{text}");
        }
    }

    #[test]
    fn an_opening_with_fields_read_from_every_chunk_is_not_kept() {
        for head in [
            r#"{"usage":null,"choices":[{"delta":"#,
            r#"{"error":null,"choices":[{"delta":"#,
            r#"{"choices":[{"finish_reason":null,"delta":"#,
            r#"{"i\u0064":"x","choices":[{"delta":"#,
        ] {
            let first = format!(r#"{head}{{"content":""}}}}]}}"#);
            let mut parser = OpenAiParser::default();
            parser.parse(first.as_bytes(), &mut Vec::new());
            assert!(parser.prefix.bytes.is_empty(), "{first}");
        }
        let first = chunk(r#"{"content":""}"#, "}]}");
        assert_eq!(delta_offset(first.as_bytes()), Some(HEAD.len()));
    }

    /// A suffix for a chunk: the delta, the rest of its choice, more choices and the
    /// top-level fields after them, each mostly well formed.
    fn suffix() -> impl Strategy<Value = String> {
        let text = "[a-z \"\\\\\n\u{e9}]{0,6}".prop_map(|t| serde_json::json!(t).to_string());
        let delta = prop_oneof![
            6 => text.clone().prop_map(|t| format!(r#"{{"content":{t}}}"#)),
            1 => text.clone().prop_map(|t| format!(r#"{{ "content" : {t} }}"#)),
            1 => text.clone().prop_map(|t| format!(r#"{{"content":{t},"content":"x"}}"#)),
            1 => text.clone().prop_map(|t| format!(r#"{{"content":{t},"refusal":null}}"#)),
            2 => text.clone().prop_map(|t| format!(r#"{{"reasoning_content":{t}}}"#)),
            2 => text.clone().prop_map(|t| format!(r#"{{"tool_calls":[{{"index":0,"function":{{"arguments":{t}}}}}]}}"#)),
            1 => prop::sample::select(vec!["{}", "null", "[]", "\"x\"", "{\"content\":1}", "{\"content\":null}", "{\"role\":\"assistant\"}"]).prop_map(str::to_string),
        ];
        let field = prop::sample::select(vec![
            r#","finish_reason":null"#,
            r#","finish_reason":"stop""#,
            r#","finish_reason":"length""#,
            r#","finish_reason":5"#,
            r#","finish_reason":"st\"op""#,
            r#","finish_reason":nullx"#,
            r#","finish_reason" : "stop" "#,
            r#","logprobs":null"#,
            r#","logprobs":{"content":[]}"#,
            r#","index":0"#,
            r#","delta":{}"#,
            r#" , "finish_reason" : null "#,
        ]);
        let more_choices = prop::sample::select(vec![
            "",
            r#",{"delta":{"content":"b"}}"#,
            r#",{"delta":3}"#,
            ",null",
        ]);
        let top = prop::sample::select(vec![
            r#","usage":null"#,
            r#","usage":{"prompt_tokens":3,"completion_tokens":2}"#,
            r#","usage":{"prompt_tokens":"3"}"#,
            r#","obfuscation":"q9""#,
            r#","x_groq":{"id":"r"}"#,
            r#","error":null"#,
            r#","id":"again""#,
            r#","choices":[]"#,
        ]);
        let end = prop::sample::select(vec!["}", "}\n", "} ,", "", "}}"]);
        (
            delta,
            prop::collection::vec(field, 0..3),
            more_choices,
            prop::collection::vec(top, 0..3),
            end,
        )
            .prop_map(|(delta, fields, more, top, end)| {
                format!("{delta}{}}}{more}]{}{end}", fields.concat(), top.concat())
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn any_chunk_after_the_first_reads_as_the_whole_reading_reads_it(
            suffixes in prop::collection::vec(suffix(), 1..6),
            cut in prop::option::of(0usize..40),
        ) {
            let mut chunks = vec![chunk(r#"{"role":"assistant","content":""}"#, r#","finish_reason":null}]}"#)];
            chunks.extend(suffixes.iter().map(|s| format!("{HEAD}{s}")));
            if let Some(cut) = cut {
                let last = chunks.len() - 1;
                let keep = chunks[last].len().saturating_sub(cut);
                chunks[last] = String::from_utf8_lossy(&chunks[last].as_bytes()[..keep]).into_owned();
            }
            let (fast, whole, _) = both_ways(&chunks);
            prop_assert_eq!(fast, whole, "{:?}", chunks);
        }
    }
}
