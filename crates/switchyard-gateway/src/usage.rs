//! Reading token usage from provider responses into the log's disjoint buckets.
//!
//! OpenAI's `prompt_tokens` *includes* cached tokens; Anthropic's `input_tokens`
//! *excludes* cache reads and writes. Getting this wrong is the classic gateway cost
//! bug, so both conversions live here, next to their tests.

use crate::json_body::last_field;
use crate::providers::WireFormat;
use crate::sse::Marker;
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
#[derive(Debug, Default, Deserialize, Clone)]
pub struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Default, Deserialize, Clone)]
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

/// The top-level `usage` of a JSON object (an answer, or a stream chunk's data), read
/// from the object's end (see [`last_field`]); `None` when absent, `null` or unreadable.
pub fn usage_field<T: DeserializeOwned>(object: &[u8]) -> Option<T> {
    match last_field(object, "usage")? {
        b"null" => None,
        raw => serde_json::from_slice(raw).ok(),
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

/// The names of the tool calls in a complete answer of `format`, in order.
pub fn tool_call_names(format: WireFormat, body: &[u8]) -> Vec<String> {
    use serde_json::Value;
    static TOOL_CALLS: Marker = Marker::new(b"tool_calls");
    static TOOL_USE: Marker = Marker::new(b"tool_use");
    static FUNCTION_CALL: Marker = Marker::new(b"function_call");
    static GEMINI_FUNCTION_CALL: Marker = Marker::new(b"functionCall");
    // Most answers call no tool: skip the parse when no call can be in the body.
    let marker = match format {
        WireFormat::OpenAiChat => &TOOL_CALLS,
        WireFormat::AnthropicMessages => &TOOL_USE,
        WireFormat::OpenAiResponses => &FUNCTION_CALL,
        WireFormat::Gemini => &GEMINI_FUNCTION_CALL,
        WireFormat::OpenAiEmbeddings => return Vec::new(),
    };
    if !marker.is_in(body) {
        return Vec::new();
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let names = |items: Option<&Vec<Value>>,
                 pick: &dyn Fn(&Value) -> Option<String>|
     -> Vec<String> { items.into_iter().flatten().filter_map(pick).collect() };
    match format {
        WireFormat::OpenAiChat => names(
            v.pointer("/choices/0/message/tool_calls")
                .and_then(Value::as_array),
            &|c| {
                c.pointer("/function/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            },
        ),
        WireFormat::AnthropicMessages => names(v.get("content").and_then(Value::as_array), &|b| {
            (b.get("type")? == "tool_use").then(|| b.get("name")?.as_str().map(str::to_string))?
        }),
        WireFormat::OpenAiResponses => names(v.get("output").and_then(Value::as_array), &|o| {
            (o.get("type")? == "function_call")
                .then(|| o.get("name")?.as_str().map(str::to_string))?
        }),
        WireFormat::Gemini => names(
            v.pointer("/candidates/0/content/parts")
                .and_then(Value::as_array),
            &|p| {
                p.pointer("/functionCall/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            },
        ),
        WireFormat::OpenAiEmbeddings => Vec::new(),
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
