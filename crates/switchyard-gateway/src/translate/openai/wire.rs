//! An OpenAI chat request as it arrives, read straight from the body's bytes, or from a
//! `Value` tree when the typed reading refuses it.
//!
//! Reading the request into a `Value` tree first built an ordered map for every message
//! and content part of an agent's conversation, then copied each string out of it into
//! the pivot. The typed reading moves each string once. It is strict: a field of another
//! type than the one expected (a numeric `role`, a string `tools`, an array where an
//! object belongs), a key given twice or a body that is not an object does not read, and the body is then read into a `Value`
//! and through [`WireChat::from_value`], which reads any shape as the gateway always
//! has (a field of another type counts as absent). Both readings give a `WireChat`, and
//! one conversion turns it into the pivot, so they cannot disagree on what a field means.

use crate::translate::object_only::{optional, optional_list, present, present_object};
use crate::translate::string_field;
use crate::translate::RawJson;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireChat {
    pub stream: Option<bool>,
    /// When given, even as `null`, it is the limit and `max_tokens` is not read.
    #[serde(deserialize_with = "present")]
    pub max_completion_tokens: Option<Option<u64>>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<Value>,
    pub user: Option<String>,
    // Small fields of several shapes, read from their `Value` where they are used.
    pub stop: Option<Value>,
    pub reasoning_effort: Option<Value>,
    pub tool_choice: Option<Value>,
    #[serde(deserialize_with = "optional_list")]
    pub messages: Option<Vec<WireMessage>>,
    #[serde(deserialize_with = "optional_list")]
    pub tools: Option<Vec<WireTool>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireMessage {
    pub role: Option<String>,
    pub content: WireContent,
    pub reasoning_content: Option<String>,
    pub refusal: Option<String>,
    #[serde(deserialize_with = "optional_list")]
    pub tool_calls: Option<Vec<WireToolCall>>,
    pub tool_call_id: Option<String>,
}

/// `content`: a string, an array of parts, or nothing.
pub type WireContent = crate::translate::wire_content::WireContent<WirePart>;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WirePart {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub text: Option<String>,
    pub image_url: Option<Value>,
    pub file: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub cache_control: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireToolCall {
    pub id: Option<String>,
    #[serde(deserialize_with = "optional")]
    pub function: Option<WireFunction>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireFunction {
    pub name: Option<String>,
    pub arguments: Option<String>,
}

/// A tool, nested (`{"type": "function", "function": {...}}`) or flat (the function's
/// fields beside `type`); the nested function's fields are read when it is there.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `Some(None)` for `"function": null`, which stands for a function with no fields.
    #[serde(deserialize_with = "present_object")]
    pub function: Option<Option<WireToolFunction>>,
    // The flat form's fields, listed rather than `#[serde(flatten)]`ed: flattening
    // buffers every tool (its schema included) before reading it.
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(deserialize_with = "present")]
    pub parameters: Option<RawJson>,
    #[serde(deserialize_with = "present")]
    pub cache_control: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireToolFunction {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(deserialize_with = "present")]
    pub parameters: Option<RawJson>,
}

impl WireChat {
    /// The typed reading of `body`, or `None` for what only the `Value` reading takes.
    pub fn read(body: &[u8]) -> Option<WireChat> {
        // Only objects: derived structs would also read a JSON array, field by field.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return None;
        }
        crate::json_body::parse_json(body).ok()
    }

    /// The same reading of a request already parsed into a `Value`, for any shape: a
    /// field of another type mostly counts as absent. (`max_completion_tokens` of another
    /// type counts as given without a value, so `max_tokens` is not read; a tool whose
    /// `function` is not an object counts as a function with no fields.)
    pub fn from_value(body: &Value) -> WireChat {
        WireChat {
            stream: body.get("stream").and_then(Value::as_bool),
            max_completion_tokens: body.get("max_completion_tokens").map(Value::as_u64),
            max_tokens: body.get("max_tokens").and_then(Value::as_u64),
            temperature: body.get("temperature").and_then(Value::as_f64),
            top_p: body.get("top_p").and_then(Value::as_f64),
            parallel_tool_calls: body.get("parallel_tool_calls").and_then(Value::as_bool),
            response_format: body.get("response_format").cloned(),
            user: string_field(body, "user"),
            stop: body.get("stop").cloned(),
            reasoning_effort: body.get("reasoning_effort").cloned(),
            tool_choice: body.get("tool_choice").cloned(),
            messages: body
                .get("messages")
                .and_then(Value::as_array)
                .map(|messages| messages.iter().map(WireMessage::from_value).collect()),
            tools: body
                .get("tools")
                .and_then(Value::as_array)
                .map(|tools| tools.iter().map(WireTool::from_value).collect()),
        }
    }
}

impl WireMessage {
    fn from_value(m: &Value) -> WireMessage {
        let content = match m.get("content") {
            None | Some(Value::Null) => WireContent::Absent,
            Some(Value::String(s)) => WireContent::Text(s.clone()),
            Some(Value::Array(parts)) => {
                WireContent::Items(parts.iter().map(WirePart::from_value).collect())
            }
            Some(_) => WireContent::Invalid,
        };
        WireMessage {
            role: string_field(m, "role"),
            content,
            reasoning_content: string_field(m, "reasoning_content"),
            refusal: string_field(m, "refusal"),
            tool_calls: m.get("tool_calls").and_then(Value::as_array).map(|calls| {
                calls
                    .iter()
                    .map(|call| {
                        let text = |pointer: &str| {
                            call.pointer(pointer)
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        };
                        WireToolCall {
                            id: text("/id"),
                            function: Some(WireFunction {
                                name: text("/function/name"),
                                arguments: text("/function/arguments"),
                            }),
                        }
                    })
                    .collect()
            }),
            tool_call_id: string_field(m, "tool_call_id"),
        }
    }
}

impl WirePart {
    fn from_value(p: &Value) -> WirePart {
        WirePart {
            kind: string_field(p, "type"),
            text: string_field(p, "text"),
            image_url: p.get("image_url").cloned(),
            file: p.get("file").cloned(),
            cache_control: p.get("cache_control").cloned(),
        }
    }
}

impl WireTool {
    fn from_value(t: &Value) -> WireTool {
        WireTool {
            kind: string_field(t, "type"),
            function: t
                .get("function")
                .map(|f| Some(WireToolFunction::from_value(f))),
            name: string_field(t, "name"),
            description: string_field(t, "description"),
            parameters: t.get("parameters").map(RawJson::from_value),
            cache_control: t.get("cache_control").cloned(),
        }
    }

    /// The function's fields (the nested function's when there is one) and the tool's
    /// cache marker.
    pub fn into_parts(self) -> (WireToolFunction, Option<Value>) {
        let function = match self.function {
            Some(Some(nested)) => nested,
            Some(None) => WireToolFunction::default(),
            None => WireToolFunction {
                name: self.name,
                description: self.description,
                parameters: self.parameters,
            },
        };
        (function, self.cache_control)
    }
}

impl WireToolFunction {
    fn from_value(f: &Value) -> WireToolFunction {
        WireToolFunction {
            name: string_field(f, "name"),
            description: string_field(f, "description"),
            parameters: f.get("parameters").map(RawJson::from_value),
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
    fn an_agent_request_reads_typed_and_as_before() {
        let body = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},
            "max_completion_tokens":500,"max_tokens":9,"temperature":0.2,"top_p":1,
            "parallel_tool_calls":false,"user":"u-1","stop":["END",3,"STOP"],
            "reasoning_effort":"high","response_format":{"type":"json_object"},
            "tool_choice":{"type":"function","function":{"name":"Read"}},
            "messages":[
              {"role":"system","content":"You are terse."},
              {"role":"developer","content":[{"type":"text","text":"Rules","cache_control":{"type":"ephemeral"}}]},
              {"role":"user","content":[{"type":"text","text":"Look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE"}}]},
              {"role":"assistant","content":null,"reasoning_content":"think","refusal":"no","tool_calls":[
                {"id":"c1","type":"function","function":{"name":"Read","arguments":"{\"path\":\"a.rs\"}"}},
                {"id":"c2","type":"function","function":{"name":"Bash","arguments":""}},
                {"id":"c3","type":"function","function":{"name":"Edit","arguments":"not json"}}]},
              {"role":"tool","tool_call_id":"c1","content":"fn main() {}"},
              {"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"ok"}]},
              {"role":"system","content":"Mid-conversation"},
              {"role":"user","content":"Thanks"}],
            "tools":[
              {"type":"function","function":{"name":"Read","description":"Reads","parameters":{"type":"object"}},"cache_control":{"type":"ephemeral"}},
              {"type":"function","function":{"name":"Bash"}},
              {"type":"function","name":"Flat","parameters":null},
              {"type":"function","function":null},
              {"type":"function","name":"Flat too","function":null},
              {"type":"web_search"}]}"#;
        assert!(WireChat::read(body.as_bytes()).is_some());
        let (typed, general) = both_ways(body);
        assert_eq!(typed, general);
        assert!(!typed.starts_with("error"), "{typed}");
    }

    #[test]
    fn odd_shapes_read_as_before_whichever_reading_takes_them() {
        // (body, whether the typed reading takes it)
        let bodies = [
            (
                r#"{"messages":null,"tools":null,"max_completion_tokens":null,"max_tokens":9}"#,
                true,
            ),
            (
                r#"{"messages":[{"role":"user"},{"role":"user","content":null}]}"#,
                true,
            ),
            (
                r#"{"messages":[{"role":"user","content":{"text":"x"}}]}"#,
                true,
            ),
            (r#"{"messages":[{"role":"user","content":5}]}"#, true),
            (r#"{"messages":[{"role":"robot","content":"x"}]}"#, true),
            (r#"{"messages":[{"content":"x"}]}"#, true),
            (
                r#"{"messages":[{"role":"user","content":[{"type":"audio"}]}]}"#,
                true,
            ),
            (
                r#"{"messages":[{"role":"user","content":[{"text":"no type"}]}]}"#,
                true,
            ),
            (
                r#"{"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":null}]}]}"#,
                true,
            ),
            (
                r#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":"http://x/a.png"}]}]}"#,
                true,
            ),
            (
                r#"{"messages":[{"role":"assistant","tool_calls":[{"function":null},{}]}]}"#,
                true,
            ),
            (
                r#"{"reasoning_effort":4096,"stop":"S","tool_choice":"required","temperature":1}"#,
                true,
            ),
            (r#"{"messages":[{"role":5,"content":"x"}]}"#, false),
            (r#"{"messages":"hello"}"#, false),
            (
                r#"{"messages":[{"role":"user","content":["plain string part"]}]}"#,
                false,
            ),
            (
                r#"{"messages":[{"role":"assistant","tool_calls":["x"]}]}"#,
                false,
            ),
            (
                r#"{"messages":[{"role":"assistant","tool_calls":[{"id":7}]}]}"#,
                false,
            ),
            (r#"{"tools":[{"type":"function","function":"x"}]}"#, false),
            (r#"{"tools":{}}"#, false),
            (
                r#"{"stream":"yes","max_tokens":-1,"temperature":"hot","user":5}"#,
                false,
            ),
            (r#"{"max_completion_tokens":1.5,"max_tokens":9}"#, false),
            (
                r#"{"messages":[],"messages":[{"role":"user","content":"second"}]}"#,
                false,
            ),
            (r#"[{"role":"user"}]"#, false),
            // Arrays where objects belong: `serde_json` would fill a struct from them.
            (r#"{"messages":[["user","hi"]]}"#, false),
            (
                r#"{"messages":[{"role":"user","content":[["text","x"]]}]}"#,
                false,
            ),
            (
                r#"{"messages":[{"role":"assistant","tool_calls":[["c1",["Read","{}"]]]}]}"#,
                false,
            ),
            (
                r#"{"messages":[{"role":"assistant","tool_calls":[{"id":"c1","function":["Read","{}"]}]}]}"#,
                false,
            ),
            (r#"{"tools":[["function",["Read"]]]}"#, false),
            (
                r#"{"tools":[{"type":"function","function":["Read","d"]}]}"#,
                false,
            ),
        ];
        for (body, typed) in bodies {
            let (fast, general) = both_ways(body);
            assert_eq!(fast, general, "{body}");
            assert_eq!(WireChat::read(body.as_bytes()).is_some(), typed, "{body}");
        }
    }

    /// A JSON value for the field `key`: mostly of its type (or `null`), now and then of
    /// another.
    fn value(key: &'static str) -> BoxedStrategy<String> {
        let (fitting, odd): (Vec<&'static str>, Vec<&'static str>) = match key {
            "stream" | "parallel_tool_calls" => {
                (vec!["true", "false", "null"], vec!["\"yes\"", "0"])
            }
            "max_completion_tokens" | "max_tokens" => {
                (vec!["100", "null"], vec!["-1", "\"5\"", "1.5"])
            }
            "temperature" | "top_p" => (vec!["0.2", "1", "null"], vec!["\"hot\""]),
            "response_format" => (
                vec![
                    r#"{"type":"json_object"}"#,
                    r#"{"type":"json_schema","json_schema":{"schema":{"type":"object"}}}"#,
                    "null",
                    "\"x\"",
                ],
                vec![],
            ),
            "user" | "tool_call_id" | "reasoning_content" | "refusal" | "text" | "name"
            | "description" | "arguments" => (
                vec!["\"a\"", "\"\"", "\"{\\\"k\\\":1}\"", "null"],
                vec!["5"],
            ),
            "stop" => (vec!["\"S\"", r#"["A",1,"B"]"#, "null", "3"], vec![]),
            "reasoning_effort" => (
                vec![
                    "\"low\"",
                    "\"max\"",
                    "\"none\"",
                    "\"bogus\"",
                    "2048",
                    "null",
                    "-1",
                ],
                vec![],
            ),
            "tool_choice" => (
                vec![
                    "\"auto\"",
                    "\"required\"",
                    "\"x\"",
                    r#"{"type":"function","function":{"name":"f"}}"#,
                    "null",
                    "5",
                ],
                vec![],
            ),
            "role" => (
                vec![
                    "\"system\"",
                    "\"developer\"",
                    "\"user\"",
                    "\"assistant\"",
                    "\"tool\"",
                    "\"function\"",
                    "\"robot\"",
                    "null",
                ],
                vec!["5"],
            ),
            "type" => (
                vec![
                    "\"text\"",
                    "\"input_text\"",
                    "\"image_url\"",
                    "\"file\"",
                    "\"function\"",
                    "\"audio\"",
                    "null",
                ],
                vec!["5"],
            ),
            "image_url" => (
                vec![
                    r#"{"url":"data:image/png;base64,AA"}"#,
                    "\"http://x/a.png\"",
                    "null",
                    r#"{"url":5}"#,
                ],
                vec![],
            ),
            "file" => (
                vec![
                    r#"{"file_data":"data:application/pdf;base64,AA"}"#,
                    "null",
                    "7",
                ],
                vec![],
            ),
            "cache_control" => (vec![r#"{"type":"ephemeral"}"#, "null"], vec![]),
            "parameters" => (vec![r#"{"type":"object"}"#, "null", "[]"], vec![]),
            "id" => (vec!["\"c1\"", "\"c2\"", "null"], vec!["5"]),
            _ => (vec!["null"], vec![]),
        };
        json_gen::pick(fitting, odd)
    }

    /// An object of some of `keys`, their values as [`value`] picks them.
    fn object(
        keys: &'static [&'static str],
        nested: Vec<(&'static str, BoxedStrategy<String>)>,
    ) -> BoxedStrategy<String> {
        json_gen::object(keys, nested, value)
    }

    fn request() -> BoxedStrategy<String> {
        let part = object(
            &["type", "text", "image_url", "file", "cache_control"],
            vec![],
        );
        let content = prop_oneof![
            10 => Just("\"hello\"".to_string()),
            10 => json_gen::array(part, "{}"),
            2 => Just("null".to_string()),
            1 => Just("5".to_string()),
        ]
        .boxed();
        let function = object(&["name", "arguments"], vec![]);
        let call = object(&["id"], vec![("function", function)]);
        let message = object(
            &["role", "reasoning_content", "refusal", "tool_call_id"],
            vec![
                ("content", content),
                ("tool_calls", json_gen::array(call, "\"x\"")),
            ],
        );
        let tool_function = prop_oneof![
            6 => object(&["name", "description", "parameters"], vec![]),
            1 => Just("null".to_string()),
        ]
        .boxed();
        let tool = object(
            &["type", "name", "description", "parameters", "cache_control"],
            vec![("function", tool_function)],
        );
        object(
            &[
                "stream",
                "max_completion_tokens",
                "max_tokens",
                "temperature",
                "top_p",
                "parallel_tool_calls",
                "response_format",
                "user",
                "stop",
                "reasoning_effort",
                "tool_choice",
            ],
            vec![
                ("messages", json_gen::array(message, "\"hi\"")),
                ("tools", json_gen::array(tool, "{}")),
            ],
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
