//! A Responses request as it arrives (Codex CLI's), read straight from the body's
//! bytes, or from a `Value` tree when the typed reading refuses it.
//!
//! As for chat requests (see `openai::wire`): reading the body into a `Value` tree
//! first built an ordered map for every input item and part of an agent's conversation,
//! and copied every string twice; the typed reading moves each string once and steps
//! over what the gateway does not use (a reasoning item's encrypted content, say)
//! without building it. It is strict: a field of another type than expected, an array
//! where an object belongs, a key given twice or a body that is not an object does not
//! read, and the body is then read into a `Value` and through
//! [`WireResponses::from_value`], which reads any shape as the gateway always has (a
//! field of another type counts as absent). One conversion turns either into the pivot.

use crate::translate::object_only::{optional_list, present};
use crate::translate::string_field;
use crate::translate::wire_content::WireContent;
use crate::translate::RawJson;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireResponses {
    /// Given and not `null`: the request continues a conversation kept at OpenAI.
    pub previous_response_id: Option<Value>,
    pub stream: Option<bool>,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub parallel_tool_calls: Option<bool>,
    pub user: Option<String>,
    pub instructions: Option<String>,
    // Small fields of several shapes, read from their `Value` where they are used.
    pub reasoning: Option<Value>,
    pub text: Option<Value>,
    pub tool_choice: Option<Value>,
    /// A string (one user message) or an array of items; any other type is ignored.
    pub input: WireContent<WireItem>,
    #[serde(deserialize_with = "optional_list")]
    pub tools: Option<Vec<WireTool>>,
}

/// An input item: a message, a function call, its output or a reasoning summary (the
/// fields of all of them; `type` says which are read).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireItem {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub role: Option<String>,
    pub content: WireContent<WirePart>,
    pub call_id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
    pub output: WireContent<WirePart>,
    #[serde(deserialize_with = "optional_list")]
    pub summary: Option<Vec<WireSummary>>,
}

/// A content part of a message or of a function call's output.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WirePart {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub text: Option<String>,
    pub refusal: Option<String>,
    pub image_url: Option<String>,
    pub file_data: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireSummary {
    pub text: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(Null)` for `"parameters": null`, which is passed on as it is.
    #[serde(deserialize_with = "present")]
    pub parameters: Option<RawJson>,
}

impl WireResponses {
    /// The typed reading of `body`, or `None` for what only the `Value` reading takes.
    pub fn read(body: &[u8]) -> Option<WireResponses> {
        // Only objects: derived structs would also read a JSON array, field by field.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return None;
        }
        crate::json_body::parse_json(body).ok()
    }

    /// The same reading of a request already parsed into a `Value`, for any shape.
    pub fn from_value(body: &Value) -> WireResponses {
        WireResponses {
            previous_response_id: body
                .get("previous_response_id")
                .filter(|v| !v.is_null())
                .cloned(),
            stream: body.get("stream").and_then(Value::as_bool),
            max_output_tokens: body.get("max_output_tokens").and_then(Value::as_u64),
            temperature: body.get("temperature").and_then(Value::as_f64),
            top_p: body.get("top_p").and_then(Value::as_f64),
            parallel_tool_calls: body.get("parallel_tool_calls").and_then(Value::as_bool),
            user: string_field(body, "user"),
            instructions: string_field(body, "instructions"),
            reasoning: body.get("reasoning").cloned(),
            text: body.get("text").cloned(),
            tool_choice: body.get("tool_choice").cloned(),
            input: content_from_value(body.get("input"), WireItem::from_value),
            tools: body
                .get("tools")
                .and_then(Value::as_array)
                .map(|tools| tools.iter().map(WireTool::from_value).collect()),
        }
    }
}

/// `content`, `output` or `input` from a `Value`: items that are not objects read as
/// items with no fields.
fn content_from_value<T>(value: Option<&Value>, item: fn(&Value) -> T) -> WireContent<T> {
    match value {
        None | Some(Value::Null) => WireContent::Absent,
        Some(Value::String(s)) => WireContent::Text(s.clone()),
        Some(Value::Array(items)) => WireContent::Items(items.iter().map(item).collect()),
        Some(_) => WireContent::Invalid,
    }
}

impl WireItem {
    fn from_value(item: &Value) -> WireItem {
        WireItem {
            kind: string_field(item, "type"),
            role: string_field(item, "role"),
            content: content_from_value(item.get("content"), WirePart::from_value),
            call_id: string_field(item, "call_id"),
            name: string_field(item, "name"),
            arguments: string_field(item, "arguments"),
            output: content_from_value(item.get("output"), WirePart::from_value),
            summary: item.get("summary").and_then(Value::as_array).map(|parts| {
                parts
                    .iter()
                    .map(|p| WireSummary {
                        text: string_field(p, "text"),
                    })
                    .collect()
            }),
        }
    }
}

impl WirePart {
    fn from_value(p: &Value) -> WirePart {
        WirePart {
            kind: string_field(p, "type"),
            text: string_field(p, "text"),
            refusal: string_field(p, "refusal"),
            image_url: string_field(p, "image_url"),
            file_data: string_field(p, "file_data"),
        }
    }
}

impl WireTool {
    fn from_value(t: &Value) -> WireTool {
        WireTool {
            kind: string_field(t, "type"),
            name: string_field(t, "name"),
            description: string_field(t, "description"),
            parameters: t.get("parameters").map(RawJson::from_value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_request, parse_request_body};
    use super::*;
    use crate::translate::json_gen;
    use proptest::prelude::*;

    /// The request both ways: read from the bytes (typed when it can), and through a
    /// `Value` tree.
    fn both_ways(body: &str) -> (String, String) {
        json_gen::both_ways(body, parse_request_body, parse_request)
    }

    #[test]
    fn a_codex_request_reads_typed_and_as_through_a_value() {
        let body = r#"{"model":"m","stream":true,"store":false,"instructions":"You are Codex.",
            "max_output_tokens":900,"temperature":0.5,"top_p":1,"parallel_tool_calls":false,"user":"u",
            "reasoning":{"effort":"high","summary":"auto"},"include":["reasoning.encrypted_content"],
            "text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object"},"strict":true}},
            "tool_choice":{"type":"function","name":"shell"},
            "input":[
              {"type":"message","role":"developer","content":[{"type":"input_text","text":"Rules"}]},
              {"type":"message","role":"user","content":[{"type":"input_text","text":"Fix it"},
                {"type":"input_image","image_url":"data:image/png;base64,AAAA"},
                {"type":"input_file","file_data":"data:application/pdf;base64,JVBE"}]},
              {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Look first"},{"type":"summary_text","text":"then fix"}],
                "encrypted_content":"gAAAAB...long..."},
              {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Reading."},{"type":"refusal","refusal":"no"}]},
              {"type":"function_call","call_id":"c1","name":"shell","arguments":"{\"command\":[\"ls\"]}"},
              {"type":"function_call","call_id":"c2","name":"shell","arguments":""},
              {"type":"function_call","call_id":"c3","name":"shell","arguments":"not json"},
              {"type":"function_call_output","call_id":"c1","output":"a.rs\nb.rs"},
              {"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"ok"}]},
              {"type":"local_shell_call","call_id":"c4"},
              {"role":"user","content":"Thanks"},
              {"type":"message","role":"system","content":"Mid-conversation"}],
            "tools":[
              {"type":"function","name":"shell","description":"Runs","parameters":{"type":"object"},"strict":false},
              {"type":"function","name":"nothing","parameters":null},
              {"type":"function","name":"bare"},
              {"type":"web_search"}]}"#;
        assert!(WireResponses::read(body.as_bytes()).is_some());
        let (typed, general) = both_ways(body);
        assert_eq!(typed, general);
        assert!(!typed.starts_with("error"), "{typed}");
    }

    #[test]
    fn odd_shapes_read_the_same_whichever_reading_takes_them() {
        // (body, whether the typed reading takes it)
        let bodies = [
            (
                r#"{"input":"hi","stream":null,"tools":null,"text":null}"#,
                true,
            ),
            (r#"{"input":null,"previous_response_id":null}"#, true),
            (r#"{"input":"hi","previous_response_id":"resp_1"}"#, true),
            (r#"{"input":[{"type":"message","content":5}]}"#, true),
            (
                r#"{"input":[{"type":"function_call_output","output":{"a":1}}]}"#,
                true,
            ),
            (
                r#"{"input":[{"type":"function_call_output","output":null}]}"#,
                true,
            ),
            (
                r#"{"input":[{"type":"message","content":[{"type":"input_image"}]}]}"#,
                true,
            ),
            (
                r#"{"input":7,"reasoning":[1],"tool_choice":"required"}"#,
                true,
            ),
            (
                r#"{"input":[{"type":"message","content":[{"type":"input_image","image_url":{"url":"x"}}]}]}"#,
                false,
            ),
            (
                r#"{"input":["hi",{"type":"message","content":"x"}]}"#,
                false,
            ),
            (
                r#"{"input":[{"type":"message","content":["x",{"type":"input_text","text":"y"}]}]}"#,
                false,
            ),
            (r#"{"input":[{"type":5,"content":"x"}]}"#, false),
            (r#"{"stream":"yes","input":"hi"}"#, false),
            (r#"{"input":"a","input":"b"}"#, false),
            (r#"{"tools":{"type":"function"}}"#, false),
            (r#"{"tools":[5,{"type":"function","name":"t"}]}"#, false),
            (
                r#"{"input":[{"type":"reasoning","summary":"flat"}]}"#,
                false,
            ),
            (
                r#"{"max_output_tokens":-1,"temperature":"hot","input":"x"}"#,
                false,
            ),
            (r#"[{"input":"hi"}]"#, false),
        ];
        for (body, typed) in bodies {
            assert_eq!(
                WireResponses::read(body.as_bytes()).is_some(),
                typed,
                "{body}"
            );
            let (typed, general) = both_ways(body);
            assert_eq!(typed, general, "{body}");
        }
    }

    fn value(key: &'static str) -> BoxedStrategy<String> {
        let (fitting, odd): (Vec<&'static str>, Vec<&'static str>) = match key {
            "stream" | "parallel_tool_calls" => (vec!["true", "false", "null"], vec!["\"yes\""]),
            "max_output_tokens" => (vec!["100", "0", "null"], vec!["-1", "1.5"]),
            "temperature" | "top_p" => (vec!["0.5", "1", "null"], vec!["\"hot\""]),
            "previous_response_id" => (vec!["null"], vec!["\"resp_1\""]),
            "reasoning" => (
                vec![
                    r#"{"effort":"high"}"#,
                    r#"{"effort":"minimal"}"#,
                    r#"{"effort":5}"#,
                    "null",
                ],
                vec!["[1]"],
            ),
            "text" => (
                vec![
                    r#"{"format":{"type":"json_object"}}"#,
                    r#"{"format":{"type":"json_schema","schema":{"type":"object"}}}"#,
                    "null",
                ],
                vec!["\"x\""],
            ),
            "tool_choice" => (
                vec![
                    "\"auto\"",
                    "\"required\"",
                    r#"{"type":"function","name":"t"}"#,
                    "null",
                ],
                vec!["5"],
            ),
            "type" => (
                vec![
                    "\"message\"",
                    "\"function_call\"",
                    "\"function_call_output\"",
                    "\"reasoning\"",
                    "\"input_text\"",
                    "\"output_text\"",
                    "\"refusal\"",
                    "\"input_image\"",
                    "\"input_file\"",
                    "\"function\"",
                    "\"web_search\"",
                    "null",
                ],
                vec!["5"],
            ),
            "role" => (
                vec![
                    "\"user\"",
                    "\"assistant\"",
                    "\"system\"",
                    "\"developer\"",
                    "null",
                ],
                vec!["5"],
            ),
            "arguments" => (
                vec![
                    "\"{\\\"k\\\":1}\"",
                    "\"\"",
                    "\"  \"",
                    "\"not json\"",
                    "null",
                ],
                vec!["{}"],
            ),
            "parameters" => (vec![r#"{"type":"object"}"#, "null", "[]"], vec![]),
            "user" | "instructions" | "refusal" | "image_url" | "file_data" | "call_id"
            | "name" | "description" => (vec!["\"a\"", "\"\"", "null"], vec!["5", "{}"]),
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

    /// `content` or `output`: text, parts, or another type.
    fn content() -> BoxedStrategy<String> {
        let part = object(
            &["type", "refusal", "image_url", "file_data"],
            vec![(
                "text",
                prop_oneof![Just("\"t\"".to_string()), Just("null".to_string())].boxed(),
            )],
        );
        prop_oneof![
            10 => Just("\"hello\"".to_string()),
            10 => json_gen::array(part, "{}"),
            2 => Just("null".to_string()),
            1 => Just("5".to_string()),
        ]
        .boxed()
    }

    fn request() -> BoxedStrategy<String> {
        let summary = object(
            &[],
            vec![(
                "text",
                prop_oneof![Just("\"s\"".to_string()), Just("7".to_string())].boxed(),
            )],
        );
        let item = object(
            &["type", "role", "call_id", "name", "arguments"],
            vec![
                ("content", content()),
                ("output", content()),
                ("summary", json_gen::array(summary, "\"flat\"")),
            ],
        );
        let tool = object(&["type", "name", "description", "parameters"], vec![]);
        let input = prop_oneof![
            10 => json_gen::array(item, "5"),
            2 => Just("\"hi\"".to_string()),
        ]
        .boxed();
        object(
            &[
                "previous_response_id",
                "stream",
                "max_output_tokens",
                "temperature",
                "top_p",
                "parallel_tool_calls",
                "user",
                "instructions",
                "reasoning",
                "text",
                "tool_choice",
            ],
            vec![("input", input), ("tools", json_gen::array(tool, "{}"))],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        #[test]
        fn any_request_reads_the_same_either_way(body in request()) {
            let (typed, general) = both_ways(&body);
            prop_assert_eq!(typed, general, "{}", body);
        }

        /// The bodies written by hand for each provider are what serializing the
        /// requests writes (the helpers assert it), whatever the request holds.
        #[test]
        fn any_request_is_written_as_serializing_it_writes_it(body in request()) {
            if let Ok(request) = parse_request_body(body.as_bytes()) {
                crate::translate::tests::check_written_as_serialized(&request);
            }
        }
    }
}
