//! Reading token usage from provider responses into the log's disjoint buckets.
//!
//! OpenAI's `prompt_tokens` *includes* cached tokens; Anthropic's `input_tokens`
//! *excludes* cache reads and writes. Getting this wrong is the classic gateway cost
//! bug, so both conversions live here, next to their tests.

use crate::json_body::{last_field, plain_counts};
use crate::providers::WireFormat;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use switchyard_store::TokenCounts;

#[derive(Debug, Default, Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    prompt_tokens_details: Option<PromptDetails>,
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek reports its cache this way.
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct CompletionDetails {
    reasoning_tokens: Option<u64>,
}

impl PromptDetails {
    /// The details object a plain count was read from, if it was there.
    fn holding(cached: Option<u64>) -> Option<PromptDetails> {
        cached.map(|c| PromptDetails {
            cached_tokens: Some(c),
        })
    }
}

impl CompletionDetails {
    /// The details object a plain count was read from, if it was there.
    fn holding(reasoning: Option<u64>) -> Option<CompletionDetails> {
        reasoning.map(|r| CompletionDetails {
            reasoning_tokens: Some(r),
        })
    }
}

impl OpenAiUsage {
    pub fn to_counts(&self) -> TokenCounts {
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .or(self.prompt_cache_hit_tokens);
        let reasoning = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        openai_style_counts(
            self.prompt_tokens,
            cached,
            self.completion_tokens,
            reasoning,
        )
    }
}

/// OpenAI-style usage (chat and Responses alike): the input total *includes* the
/// cached tokens, which move to their own bucket.
fn openai_style_counts(
    input_total: u64,
    cached: Option<u64>,
    output: u64,
    reasoning: Option<u64>,
) -> TokenCounts {
    let cached = cached.unwrap_or(0).min(input_total);
    TokenCounts {
        input: input_total - cached,
        cache_read: cached,
        output,
        reasoning: reasoning.unwrap_or(0),
        ..Default::default()
    }
}

/// Anthropic usage; in streams, `message_start` and `message_delta` each carry some of it.
#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
pub struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Folds in a later report: fields present in `later` replace earlier ones
    /// (`message_delta` counts are cumulative).
    pub fn update(&mut self, later: AnthropicUsage) {
        fn take(slot: &mut Option<u64>, v: Option<u64>) {
            if v.is_some() {
                *slot = v;
            }
        }
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        take(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
        take(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        if later.cache_creation.is_some() {
            self.cache_creation = later.cache_creation;
        }
    }

    pub fn to_counts(&self) -> TokenCounts {
        let creation = self.cache_creation_input_tokens.unwrap_or(0);
        let (write_5m, write_1h) = match &self.cache_creation {
            Some(c)
                if c.ephemeral_5m_input_tokens.is_some()
                    || c.ephemeral_1h_input_tokens.is_some() =>
            {
                (
                    c.ephemeral_5m_input_tokens.unwrap_or(0),
                    c.ephemeral_1h_input_tokens.unwrap_or(0),
                )
            }
            _ => (creation, 0),
        };
        TokenCounts {
            input: self.input_tokens.unwrap_or(0),
            cache_read: self.cache_read_input_tokens.unwrap_or(0),
            cache_write_5m: write_5m,
            cache_write_1h: write_1h,
            output: self.output_tokens.unwrap_or(0),
            reasoning: 0,
        }
    }
}

/// OpenAI Responses usage: `input_tokens` includes cached tokens, as in chat.
#[derive(Debug, Default, Deserialize)]
pub struct ResponsesUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    input_tokens_details: Option<PromptDetails>,
    output_tokens_details: Option<CompletionDetails>,
}

impl ResponsesUsage {
    pub fn to_counts(&self) -> TokenCounts {
        let cached = self
            .input_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens);
        let reasoning = self
            .output_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        openai_style_counts(self.input_tokens, cached, self.output_tokens, reasoning)
    }
}

/// A provider's usage object, read from its JSON text.
pub trait UsageReport: DeserializeOwned {
    /// The report from an object of plain counts (see [`plain_counts`]); `None` when
    /// the object is anything else, for serde to read.
    fn from_plain_counts(raw: &[u8]) -> Option<Self>;
}

/// A usage object's JSON text read as `T`: by walking its counts when it is plainly
/// made of them, as providers send it, and by serde otherwise.
pub fn read_usage<T: UsageReport>(raw: &[u8]) -> Option<T> {
    T::from_plain_counts(raw).or_else(|| crate::json_body::parse_json(raw).ok())
}

/// The top-level `usage` of a JSON object (an answer, or a stream chunk's data), read
/// from the object's end (see [`last_field`]); `None` when absent, `null` or unreadable.
pub fn usage_field<T: UsageReport>(object: &[u8]) -> Option<T> {
    match last_field(object, "usage")? {
        b"null" => None,
        raw => read_usage(raw),
    }
}

impl UsageReport for OpenAiUsage {
    fn from_plain_counts(raw: &[u8]) -> Option<OpenAiUsage> {
        let [prompt, completion, cached, reasoning, cache_hits] = plain_counts(
            raw,
            &[
                ("prompt_tokens", None),
                ("completion_tokens", None),
                ("prompt_tokens_details", Some("cached_tokens")),
                ("completion_tokens_details", Some("reasoning_tokens")),
                ("prompt_cache_hit_tokens", None),
            ],
        )?;
        // A details object is there exactly when its count is (see `plain_counts`).
        Some(OpenAiUsage {
            prompt_tokens: prompt.unwrap_or(0),
            completion_tokens: completion.unwrap_or(0),
            prompt_tokens_details: PromptDetails::holding(cached),
            completion_tokens_details: CompletionDetails::holding(reasoning),
            prompt_cache_hit_tokens: cache_hits,
        })
    }
}

impl UsageReport for AnthropicUsage {
    fn from_plain_counts(raw: &[u8]) -> Option<AnthropicUsage> {
        let [input, output, cache_read, cache_creation, write_5m, write_1h] = plain_counts(
            raw,
            &[
                ("input_tokens", None),
                ("output_tokens", None),
                ("cache_read_input_tokens", None),
                ("cache_creation_input_tokens", None),
                ("cache_creation", Some("ephemeral_5m_input_tokens")),
                ("cache_creation", Some("ephemeral_1h_input_tokens")),
            ],
        )?;
        let breakdown = write_5m.is_some() || write_1h.is_some();
        Some(AnthropicUsage {
            input_tokens: input,
            output_tokens: output,
            cache_read_input_tokens: cache_read,
            cache_creation_input_tokens: cache_creation,
            cache_creation: breakdown.then_some(CacheCreation {
                ephemeral_5m_input_tokens: write_5m,
                ephemeral_1h_input_tokens: write_1h,
            }),
        })
    }
}

impl UsageReport for ResponsesUsage {
    fn from_plain_counts(raw: &[u8]) -> Option<ResponsesUsage> {
        let [input, output, cached, reasoning] = plain_counts(
            raw,
            &[
                ("input_tokens", None),
                ("output_tokens", None),
                ("input_tokens_details", Some("cached_tokens")),
                ("output_tokens_details", Some("reasoning_tokens")),
            ],
        )?;
        Some(ResponsesUsage {
            input_tokens: input.unwrap_or(0),
            output_tokens: output.unwrap_or(0),
            input_tokens_details: PromptDetails::holding(cached),
            output_tokens_details: CompletionDetails::holding(reasoning),
        })
    }
}

/// The token usage of a complete (non-streamed) answer in `format`; `None` when the
/// answer reports none or is not a JSON object.
///
/// Only the `usage` object is parsed, found by reading the answer from its end (see
/// [`last_field`]): an answer is often kilobytes of text the gateway never reads, and
/// its usage comes last. Gemini answers are always translated, and their usage comes
/// from the translation.
pub fn complete_answer_usage(format: WireFormat, body: &[u8]) -> Option<TokenCounts> {
    match format {
        WireFormat::OpenAiChat | WireFormat::OpenAiEmbeddings => {
            usage_field::<OpenAiUsage>(body).map(|u| u.to_counts())
        }
        WireFormat::AnthropicMessages => usage_field::<AnthropicUsage>(body).map(|u| u.to_counts()),
        WireFormat::OpenAiResponses => usage_field::<ResponsesUsage>(body).map(|u| u.to_counts()),
        WireFormat::Gemini => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_answers_give_their_usage_in_every_format() {
        // The usage comes after text, nested objects and escapes the scan must step over.
        let openai = br#"{"id":"c1","choices":[{"message":{"content":"a \"usage\": {} b","tool_calls":[]}}],
            "usage":{"prompt_tokens":1000,"completion_tokens":50,"prompt_tokens_details":{"cached_tokens":800}},"x":[1,{"usage":null}]}"#;
        let c = complete_answer_usage(WireFormat::OpenAiChat, openai).unwrap();
        assert_eq!((c.input, c.cache_read, c.output), (200, 800, 50));

        let anthropic = br#"{"type":"message","content":[{"type":"text","text":"hi"}],
            "usage":{"input_tokens":12,"cache_read_input_tokens":4000,"output_tokens":7}}"#;
        let c = complete_answer_usage(WireFormat::AnthropicMessages, anthropic).unwrap();
        assert_eq!((c.input, c.cache_read, c.output), (12, 4000, 7));

        let responses = br#"{"output":[{"type":"message"}],"usage":{"input_tokens":30,
            "input_tokens_details":{"cached_tokens":10},"output_tokens":4,"output_tokens_details":{"reasoning_tokens":2}}}"#;
        let c = complete_answer_usage(WireFormat::OpenAiResponses, responses).unwrap();
        assert_eq!(
            (c.input, c.cache_read, c.output, c.reasoning),
            (20, 10, 4, 2)
        );

        let embeddings =
            br#"{"data":[{"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        let c = complete_answer_usage(WireFormat::OpenAiEmbeddings, embeddings).unwrap();
        assert_eq!((c.input, c.output), (8, 0));
    }

    #[test]
    fn answers_without_readable_usage_give_none() {
        for body in [
            &br#"{"choices":[]}"#[..],
            br#"{"usage":null}"#,
            br#"{"usage":"many"}"#,
            br#"{"usage":{"prompt_tokens":-1}}"#,
            br#"[{"usage":{"prompt_tokens":1}}]"#,
            br#"{"usage":{"prompt_tokens":1}"#,
            b"",
            b"<html>Bad gateway</html>",
        ] {
            assert!(
                complete_answer_usage(WireFormat::OpenAiChat, body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let gemini = br#"{"usageMetadata":{"promptTokenCount":3},"usage":{"prompt_tokens":3}}"#;
        assert!(complete_answer_usage(WireFormat::Gemini, gemini).is_none());
    }

    #[test]
    fn a_repeated_usage_key_counts_the_last_one() {
        let body = br#"{"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":9}}"#;
        let c = complete_answer_usage(WireFormat::OpenAiChat, body).unwrap();
        assert_eq!(c.input, 9);
    }

    /// Usage objects as providers send them, and odd ones: the walk over plain counts
    /// and serde must agree on all of them, whichever of the two reads them.
    const USAGE_OBJECTS: [&str; 16] = [
        r#"{"prompt_tokens":212,"completion_tokens":12,"total_tokens":224,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":5,"audio_tokens":0,"accepted_prediction_tokens":0}}"#,
        r#" { "prompt_tokens" : 100 , "completion_tokens":5,"prompt_cache_hit_tokens":60,"prompt_cache_miss_tokens":40 } "#,
        r#"{"prompt_tokens":10,"completion_tokens":2,"cost":0.0012,"is_byok":false,"cost_details":{"upstream_inference_cost":null},"note":"x \" y"}"#,
        r#"{"input_tokens":12,"cache_creation_input_tokens":300,"cache_read_input_tokens":4000,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":1,"service_tier":"standard"}"#,
        r#"{"input_tokens":30,"input_tokens_details":{"cached_tokens":10},"output_tokens":4,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":34}"#,
        r#"{}"#,
        r#"{"prompt_tokens_details":null,"prompt_tokens":5}"#,
        r#"{"prompt_tokens_details":{},"prompt_tokens":5,"cache_creation":{}}"#,
        r#"{"prompt_tokens":5,"prompt_tokens":6}"#,
        r#"{"prompt_tokens":1.0}"#,
        r#"{"prompt_tokens":1e3,"input_tokens":7}"#,
        r#"{"prompt_tokens":012}"#,
        r#"{"prompt_tokens":-1}"#,
        r#"{"prompt_tokens":18446744073709551616,"output_tokens":18446744073709551615}"#,
        r#"{"prompt\u005ftokens":9,"completion_tokens":3}"#,
        r#"{"prompt_tokens":4,"completion_tokens_details":{"reasoning_tokens":1,"reasoning_tokens":2}}"#,
    ];

    fn agree<T: UsageReport>(counts: impl Fn(&T) -> TokenCounts) {
        for raw in USAGE_OBJECTS {
            let by_serde = serde_json::from_str::<T>(raw).ok().map(|u| counts(&u));
            if let Some(plain) = T::from_plain_counts(raw.as_bytes()) {
                assert_eq!(Some(counts(&plain)), by_serde, "{raw}");
            }
            let read = read_usage::<T>(raw.as_bytes()).map(|u| counts(&u));
            assert_eq!(read, by_serde, "{raw}");
        }
    }

    #[test]
    fn plain_counts_read_as_serde_reads_them() {
        agree::<OpenAiUsage>(OpenAiUsage::to_counts);
        agree::<AnthropicUsage>(AnthropicUsage::to_counts);
        agree::<ResponsesUsage>(ResponsesUsage::to_counts);
        // Streams fold later reports into earlier ones: what each carries must match too.
        for raw in USAGE_OBJECTS {
            let by_serde = serde_json::from_str::<AnthropicUsage>(raw).ok();
            if let Some(plain) = AnthropicUsage::from_plain_counts(raw.as_bytes()) {
                let mut merged_plain =
                    AnthropicUsage::from_plain_counts(USAGE_OBJECTS[3].as_bytes()).unwrap();
                let mut merged_serde = merged_plain.clone();
                merged_plain.update(plain);
                merged_serde.update(by_serde.expect("serde reads what the walk reads"));
                assert_eq!(merged_plain.to_counts(), merged_serde.to_counts(), "{raw}");
            }
        }
    }

    #[test]
    fn usage_as_providers_send_it_is_read_without_serde() {
        for raw in &USAGE_OBJECTS[..5] {
            assert!(
                OpenAiUsage::from_plain_counts(raw.as_bytes()).is_some(),
                "{raw}"
            );
        }
        let c = read_usage::<OpenAiUsage>(USAGE_OBJECTS[0].as_bytes())
            .unwrap()
            .to_counts();
        assert_eq!(
            (c.input, c.cache_read, c.output, c.reasoning),
            (212, 0, 12, 5)
        );
        // Declined, and then read by serde: a null details object.
        assert!(OpenAiUsage::from_plain_counts(USAGE_OBJECTS[6].as_bytes()).is_none());
        assert_eq!(
            read_usage::<OpenAiUsage>(USAGE_OBJECTS[6].as_bytes())
                .unwrap()
                .to_counts()
                .input,
            5
        );
    }

    #[test]
    fn openai_cached_tokens_are_taken_out_of_input() {
        let u: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens":1000,"completion_tokens":50,"prompt_tokens_details":{"cached_tokens":800},"completion_tokens_details":{"reasoning_tokens":20}}"#,
        )
        .unwrap();
        let c = u.to_counts();
        assert_eq!(
            (c.input, c.cache_read, c.output, c.reasoning),
            (200, 800, 50, 20)
        );
    }

    #[test]
    fn deepseek_cache_hits_count_as_cache_reads() {
        let u: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens":100,"completion_tokens":5,"prompt_cache_hit_tokens":60,"prompt_cache_miss_tokens":40}"#,
        )
        .unwrap();
        assert_eq!((u.to_counts().input, u.to_counts().cache_read), (40, 60));
    }

    #[test]
    fn anthropic_stream_usage_merges_start_and_delta() {
        let mut u: AnthropicUsage = serde_json::from_str(
            r#"{"input_tokens":12,"cache_creation_input_tokens":300,"cache_read_input_tokens":4000,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":1}"#,
        )
        .unwrap();
        u.update(serde_json::from_str(r#"{"output_tokens":87}"#).unwrap());
        let c = u.to_counts();
        assert_eq!(
            (
                c.input,
                c.cache_read,
                c.cache_write_5m,
                c.cache_write_1h,
                c.output
            ),
            (12, 4000, 100, 200, 87)
        );
    }

    #[test]
    fn anthropic_cache_writes_without_breakdown_are_five_minute_writes() {
        let u: AnthropicUsage = serde_json::from_str(
            r#"{"input_tokens":1,"cache_creation_input_tokens":50,"output_tokens":2}"#,
        )
        .unwrap();
        assert_eq!(u.to_counts().cache_write_5m, 50);
    }
}
