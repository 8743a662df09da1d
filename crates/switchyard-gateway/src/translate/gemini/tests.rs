//! Gemini translation, compared as JSON values: requests from both client formats,
//! schema cleaning, thinking settings per model generation, answers and usage from
//! fixtures written after Google's documentation (kept in `tests/fixtures/gemini/`),
//! and stream transcripts fed in arbitrary byte chunks.

use super::*;
use crate::providers::WireFormat;
use crate::sse::{event_data, SseSplitter};
use crate::stream::EventHandler;
use bytes::Bytes;
use std::collections::VecDeque;

const RESPONSE_FIXTURE: &str =
    include_str!("../../../../../tests/fixtures/gemini/response-thinking-and-call.json");
const STREAM_FIXTURE: &str =
    include_str!("../../../../../tests/fixtures/gemini/stream-thinking-text-calls.sse");

/// The Gemini request as the JSON that would be sent.
fn render_value(request: &Request, model: &str, target: &Target, names: &ToolNames) -> Value {
    serde_json::to_value(render_request(request, model, target, names)).expect("serializes")
}

fn gemini_target() -> Target {
    Target {
        max_output_tokens: Some(65_535),
        ..Default::default()
    }
}

#[test]
fn a_claude_code_request_becomes_generate_content() {
    let body = json!({
        "model": "x", "max_tokens": 32000, "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture and /tmp?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "document", "source": {"type": "url", "url": "https://x.test/spec.pdf"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Let me look.", "signature": "sig"},
                {"type": "text", "text": "I'll check."},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls /tmp"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "/tmp/a.png"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [
                    {"type": "text", "text": "an image"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "BBBB"}}]},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.png", "is_error": true},
                {"type": "text", "text": "Thanks", "cache_control": {"type": "ephemeral"}}]}
        ],
        "tools": [{"name": "Bash", "description": "Run", "input_schema": {
                      "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                      "properties": {"command": {"type": "string"}}, "required": ["command"],
                      "additionalProperties": false}},
                  {"name": "Read", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}},
                  {"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "auto"},
        "stop_sequences": ["END"], "temperature": 0.5,
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "metadata": {"user_id": "u-1"}
    });
    let request = anthropic::parse_request(body).unwrap();
    let names = ToolNames::for_tools(&request.tools, MAX_TOOL_NAME);
    let out = render_value(&request, "gemini-2.5-pro", &gemini_target(), &names);
    assert_eq!(
        out,
        json!({
            "systemInstruction": {"parts": [{"text": "You are Claude Code."}, {"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [
                    {"text": "What is in this picture and /tmp?"},
                    {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
                    {"fileData": {"fileUri": "https://x.test/spec.pdf", "mimeType": "application/pdf"}}]},
                {"role": "model", "parts": [
                    {"text": "I'll check."},
                    {"functionCall": {"name": "Bash", "args": {"command": "ls /tmp"}}},
                    {"functionCall": {"name": "Read", "args": {"path": "/tmp/a.png"}}}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "Bash", "response": {"error": "a.png"}}},
                    {"functionResponse": {"name": "Read", "response": {"output": "an image"}}},
                    {"inlineData": {"mimeType": "image/png", "data": "BBBB"}},
                    {"text": "Thanks"}]}
            ],
            "tools": [{"functionDeclarations": [
                {"name": "Bash", "description": "Run", "parameters": {
                    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
                {"name": "Read", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
            "generationConfig": {
                "maxOutputTokens": 32000, "temperature": 0.5, "stopSequences": ["END"],
                "thinkingConfig": {"thinkingBudget": 10000, "includeThoughts": true}
            }
        })
    );
    assert!(
        !out.to_string().contains("cache_control") && !out.to_string().contains("stream"),
        "no cache_control for Gemini; streaming is chosen by the URL"
    );
}

#[test]
fn an_openai_request_becomes_generate_content() {
    let long = "mcp__server__".to_string() + &"x".repeat(70);
    let body = json!({
        "model": "x",
        "messages": [
            {"role": "developer", "content": "System one."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"},
                {"type": "image_url", "image_url": {"url": "https://x.test/cat.jpg"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": long, "arguments": "{\"q\":1}"}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "42"},
            {"role": "system", "content": "Mid-conversation rule."},
            {"role": "tool", "tool_call_id": "call_zzz", "content": "stray"}
        ],
        "tools": [{"type": "function", "function": {"name": long, "parameters": {"type": "object", "properties": {"q": {"type": "integer"}}}}},
                  {"type": "function", "function": {"name": "noargs", "parameters": {"type": "object", "properties": {}}}}],
        "tool_choice": {"type": "function", "function": {"name": long}},
        "max_completion_tokens": 100_000, "top_p": 0.9, "stop": ["a", "b", "c", "d", "e", "f"],
        "reasoning_effort": "low",
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": true, "schema":
            {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], "additionalProperties": false}}},
        "user": "u-2"
    });
    let request = openai::parse_request(&body).unwrap();
    let names = ToolNames::for_tools(&request.tools, MAX_TOOL_NAME);
    let short = names.outbound(&long);
    assert_eq!(short.len(), MAX_TOOL_NAME);
    let out = render_value(&request, "gemini-2.5-flash", &gemini_target(), &names);
    assert_eq!(
        out,
        json!({
            "systemInstruction": {"parts": [{"text": "System one."}, {"text": "Mid-conversation rule."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}, {"fileData": {"fileUri": "https://x.test/cat.jpg", "mimeType": "image/jpeg"}}]},
                {"role": "model", "parts": [{"functionCall": {"name": short, "args": {"q": 1}}}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": short, "response": {"output": "42"}}},
                    {"text": "[result of tool call call_zzz]\nstray"}]}
            ],
            "tools": [{"functionDeclarations": [
                {"name": short, "parameters": {"type": "object", "properties": {"q": {"type": "integer"}}}},
                {"name": "noargs"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [short]}},
            "generationConfig": {
                "maxOutputTokens": 65_535, "topP": 0.9, "stopSequences": ["a", "b", "c", "d", "e"],
                "responseMimeType": "application/json",
                "responseSchema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
                "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}
            }
        })
    );
}

#[test]
fn calls_without_results_get_error_responses_and_model_turns_never_come_first() {
    let request = Request {
        messages: vec![
            Message {
                role: Role::Assistant,
                content: vec![Block::ToolUse {
                    id: "c1".into(),
                    name: "a".into(),
                    input: json!("not an object").into(),
                    cache: None,
                }],
            },
            Message {
                role: Role::Assistant,
                content: vec![Block::ToolUse {
                    id: "c2".into(),
                    name: "b".into(),
                    input: json!({}).into(),
                    cache: None,
                }],
            },
        ],
        tool_choice: Some(ToolChoice::None),
        ..Default::default()
    };
    let out = render_value(
        &request,
        "gemini-3-pro-preview",
        &Target::default(),
        &ToolNames::default(),
    );
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "(conversation continues)"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {}}, "thoughtSignature": SKIP_SIGNATURE}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "a", "response": {"error": "(no result)"}}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "b", "args": {}}, "thoughtSignature": SKIP_SIGNATURE}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "b", "response": {"error": "(no result)"}}}]}
        ])
    );
    assert!(out.get("tools").is_none() && out.get("toolConfig").is_none());
    assert!(out.get("generationConfig").is_none());
}

#[test]
fn call_arguments_go_to_gemini_as_the_client_wrote_them() {
    let written = r#"{"path": "src/a.rs",  "text": "caf\u00e9 \"quoted\"", "n": 1.50}"#;
    let request = Request {
        messages: vec![
            Message {
                role: Role::User,
                content: vec![Block::Text {
                    text: "edit it".into(),
                    cache: None,
                }],
            },
            Message {
                role: Role::Assistant,
                content: vec![Block::ToolUse {
                    id: "c1".into(),
                    name: "Write".into(),
                    input: RawJson::parse(written.to_string()).expect("JSON"),
                    cache: None,
                }],
            },
        ],
        ..Default::default()
    };
    let body = serde_json::to_string(&render_request(
        &request,
        "gemini-2.5-pro",
        &Target::default(),
        &ToolNames::default(),
    ))
    .expect("serializes");
    assert!(
        body.contains(&format!(
            r#""functionCall":{{"name":"Write","args":{written}}}"#
        )),
        "{body}"
    );
}

#[test]
fn schemas_are_cleaned_to_the_subset_gemini_accepts() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "x", "title": "Params", "type": "object", "additionalProperties": false,
        "$defs": {"Node": {"type": "object", "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/Node"}}}},
        "definitions": {"Unit": {"type": "string", "enum": ["c", "f"]}},
        "properties": {
            "path": {"type": "string", "format": "uri", "description": "Where", "default": "/", "examples": ["/a"]},
            "when": {"type": "string", "format": "date-time"},
            "count": {"type": ["integer", "null"], "exclusiveMinimum": 0, "maximum": 10, "format": "int32"},
            "mode": {"const": "fast"},
            "level": {"enum": [1, 2, 3], "description": "Level"},
            "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": true, "minItems": 1},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]},
            "meta": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "additionalProperties": {"type": "string"}},
            "unit": {"$ref": "#/definitions/Unit", "description": "Unit to use"},
            "tree": {"$ref": "#/$defs/Node"},
            "either": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "maybe": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]},
            "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                               {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}]},
            "anything": true,
            "conditional": {"type": "object", "if": {"properties": {"a": {}}}, "then": {"required": ["a"]}, "not": {}}
        },
        "required": ["path", "ghost"],
        "dependentRequired": {"a": ["b"]}
    });
    let cleaned = clean_schema(&schema);
    let node_level = |depth: usize| {
        // The recursive Node is inlined a few levels deep, then cut off.
        let mut node = json!({"type": "object"});
        for _ in 0..depth {
            node = json!({"type": "object", "properties": {"name": {"type": "string"}, "child": node}});
        }
        node
    };
    assert_eq!(
        cleaned,
        json!({
            "type": "object", "description": "Params",
            "properties": {
                "path": {"type": "string", "description": "Where (format: uri)"},
                "when": {"type": "string", "format": "date-time"},
                "count": {"type": "integer", "nullable": true, "minimum": 0, "maximum": 10, "format": "int32"},
                "mode": {"type": "string", "enum": ["fast"]},
                "level": {"description": "Level (one of: 1, 2, 3)"},
                "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                "pair": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
                "meta": {"type": "object"},
                "unit": {"type": "string", "enum": ["c", "f"], "description": "Unit to use"},
                "tree": node_level(MAX_REF_DEPTH),
                "either": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                "maybe": {"type": "string", "maxLength": 5, "nullable": true},
                "both": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}}, "required": ["a", "b"]},
                "anything": {},
                "conditional": {"type": "object"}
            },
            "required": ["path"]
        })
    );
    fn keywords_ok(v: &Value) -> bool {
        match v {
            Value::Object(map) => map.iter().all(|(k, v)| {
                if k == "properties" {
                    v.as_object()
                        .is_some_and(|props| props.values().all(keywords_ok))
                } else {
                    SCHEMA_KEYWORDS.contains(&k.as_str()) && keywords_ok(v)
                }
            }),
            Value::Array(items) => items.iter().all(keywords_ok),
            _ => true,
        }
    }
    assert!(keywords_ok(&cleaned));
    // Property names that look like keywords are names, not keywords.
    let named = clean_schema(
        &json!({"type": "object", "properties": {"$schema": {"type": "string"}, "default": {"type": "number"}}}),
    );
    assert_eq!(
        named["properties"],
        json!({"$schema": {"type": "string"}, "default": {"type": "number"}})
    );
}

#[test]
fn thinking_settings_follow_the_model_generation() {
    let cfg = |r: Reasoning, model: &str, max: Option<u64>| {
        thinking_config(r, model, max).map(|c| serde_json::to_value(c).expect("serializes"))
    };
    let effort = Reasoning::Effort;
    // 2.5: budgets from the effort table, within each model's range.
    assert_eq!(
        cfg(effort(Effort::Medium), "gemini-2.5-flash", None),
        Some(json!({"thinkingBudget": 8192, "includeThoughts": true}))
    );
    assert_eq!(
        cfg(effort(Effort::High), "gemini-2.5-flash", Some(65_535)),
        Some(json!({"thinkingBudget": 16384, "includeThoughts": true}))
    );
    assert_eq!(
        cfg(effort(Effort::Max), "gemini-2.5-pro", Some(65_535)),
        Some(json!({"thinkingBudget": 32_768, "includeThoughts": true}))
    );
    assert_eq!(
        cfg(effort(Effort::None), "gemini-2.5-flash", None),
        Some(json!({"thinkingBudget": 0}))
    );
    assert_eq!(
        cfg(effort(Effort::None), "gemini-2.5-pro", None),
        Some(json!({"thinkingBudget": 128})),
        "2.5 Pro cannot stop thinking: its least"
    );
    assert_eq!(
        cfg(Reasoning::Budget(100), "gemini-2.5-flash-lite", None),
        Some(json!({"thinkingBudget": 512, "includeThoughts": true}))
    );
    assert_eq!(
        cfg(Reasoning::Budget(20_000), "gemini-2.5-pro", Some(4096)),
        Some(json!({"thinkingBudget": 4095, "includeThoughts": true})),
        "below the output limit"
    );
    assert_eq!(
        cfg(Reasoning::Budget(0), "gemini-flash-latest", None),
        Some(json!({"thinkingBudget": 0}))
    );
    // 3: levels.
    assert_eq!(
        cfg(effort(Effort::Low), "gemini-3-pro-preview", None),
        Some(json!({"thinkingLevel": "low", "includeThoughts": true}))
    );
    assert_eq!(
        cfg(effort(Effort::Medium), "gemini-3-pro-preview", None),
        Some(json!({"thinkingLevel": "high", "includeThoughts": true}))
    );
    assert_eq!(
        cfg(Reasoning::Budget(8192), "gemini-3.1-pro-preview", None),
        Some(json!({"thinkingLevel": "medium", "includeThoughts": true}))
    );
    assert_eq!(
        cfg(effort(Effort::None), "gemini-3-flash-preview", None),
        Some(json!({"thinkingLevel": "minimal"}))
    );
    // Models without thinking settings get none.
    assert_eq!(cfg(effort(Effort::High), "gemini-2.0-flash", None), None);
    assert_eq!(cfg(effort(Effort::High), "gemma-3-27b-it", None), None);
    assert_eq!(generation("models/gemini-1.5-pro"), Generation::Old);
}

#[test]
fn usage_is_split_into_disjoint_buckets() {
    let counts = token_counts(&Counts::from_value(&json!({
        "promptTokenCount": 1200, "cachedContentTokenCount": 1000, "toolUsePromptTokenCount": 10,
        "candidatesTokenCount": 40, "thoughtsTokenCount": 25, "totalTokenCount": 1275
    })));
    assert_eq!(
        counts,
        TokenCounts {
            input: 210,
            cache_read: 1000,
            output: 65,
            reasoning: 25,
            ..Default::default()
        }
    );
    assert_eq!(
        token_counts(&Counts::from_value(&json!({}))),
        TokenCounts::default()
    );
}

#[test]
fn an_answer_with_thinking_and_calls_reaches_both_client_formats() {
    let names = ToolNames::default();
    let parsed = parse_response(&serde_json::from_str(RESPONSE_FIXTURE).unwrap(), &names).unwrap();
    let seed = "mcZRaPXbJ8ySz7IP8J2e0Ao";
    let (id0, id1) = (call_id(None, seed, 0), call_id(None, seed, 1));
    assert!(id0.starts_with("call_") && id0.len() <= 40 && id0 != id1);
    let again = parse_response(&serde_json::from_str(RESPONSE_FIXTURE).unwrap(), &names).unwrap();
    assert_eq!(parsed, again, "ids are stable for one answer");

    let convert::TranslatedAnswer {
        body,
        usage,
        tool_calls,
    } = convert::response(
        WireFormat::Gemini,
        WireFormat::AnthropicMessages,
        RESPONSE_FIXTURE.as_bytes(),
        &names,
        "gem/gemini-2.5-flash",
    )
    .unwrap();
    assert_eq!(
        usage,
        TokenCounts {
            input: 200,
            cache_read: 1000,
            output: 65,
            reasoning: 25,
            ..Default::default()
        }
    );
    assert_eq!(tool_calls, ["get_weather", "get_weather"]);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({
            "id": "mcZRaPXbJ8ySz7IP8J2e0Ao", "type": "message", "role": "assistant", "model": "gem/gemini-2.5-flash",
            "content": [
                {"type": "thinking", "thinking": "The user wants the weather. I should call the tool.", "signature": ""},
                {"type": "text", "text": "Let me check both cities."},
                {"type": "tool_use", "id": id0, "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": id1, "name": "get_weather", "input": {"city": "Berlin", "unit": "celsius"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1000, "output_tokens": 65}
        })
    );

    let body = convert::response(
        WireFormat::Gemini,
        WireFormat::OpenAiChat,
        RESPONSE_FIXTURE.as_bytes(),
        &names,
        "gem/gemini-2.5-flash",
    )
    .unwrap()
    .body;
    let mut body: Value = serde_json::from_slice(&body).unwrap();
    body["created"] = json!(0);
    assert_eq!(
        body,
        json!({
            "id": "mcZRaPXbJ8ySz7IP8J2e0Ao", "object": "chat.completion", "created": 0, "model": "gem/gemini-2.5-flash",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Let me check both cities.",
                "reasoning_content": "The user wants the weather. I should call the tool.",
                "tool_calls": [
                    {"id": id0, "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": id1, "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Berlin\",\"unit\":\"celsius\"}"}}
                ]}}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 65, "total_tokens": 1265,
                "prompt_tokens_details": {"cached_tokens": 1000}, "completion_tokens_details": {"reasoning_tokens": 25}}
        })
    );
}

#[test]
fn shortened_names_come_back_and_finish_reasons_map() {
    let long = "a".repeat(80);
    let names = ToolNames::for_tools(
        &[Tool {
            name: long.clone(),
            description: None,
            schema: json!({}).into(),
            cache: None,
        }],
        MAX_TOOL_NAME,
    );
    let body = json!({"candidates": [{"content": {"parts": [{"functionCall": {"id": "fc-7", "name": names.outbound(&long)}}]},
        "finishReason": "MAX_TOKENS"}]});
    let parsed = parse_response(&body, &names).unwrap();
    assert_eq!(
        parsed.content,
        vec![Block::ToolUse {
            id: "fc-7".into(),
            name: long,
            input: json!({}).into(),
            cache: None
        }]
    );
    assert_eq!(parsed.stop, StopReason::MaxTokens);
    assert_eq!(parse_stop("SAFETY"), StopReason::ContentFilter);
    assert_eq!(parse_stop("RECITATION"), StopReason::ContentFilter);
    assert_eq!(parse_stop("STOP"), StopReason::EndTurn);
    assert_eq!(parse_stop("MALFORMED_FUNCTION_CALL"), StopReason::EndTurn);

    let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 7}});
    let parsed = parse_response(&blocked, &names).unwrap();
    assert_eq!(
        (parsed.content.len(), parsed.stop, parsed.usage.input),
        (0, StopReason::ContentFilter, 7)
    );
    assert!(parse_response(&json!({}), &names).is_err());
}

/// Runs a transcript through a translator in `chunk`-byte pieces, as the proxy would:
/// the stream counts as cut when it ends before the translator saw it complete.
fn run(
    mut t: stream::Translator,
    transcript: &str,
    chunk: usize,
) -> (Vec<(String, Value)>, Option<TokenCounts>, bool) {
    let mut splitter = SseSplitter::default();
    let mut out = VecDeque::new();
    for piece in transcript.as_bytes().chunks(chunk.max(1)) {
        splitter.push(piece);
        while let Some(e) = splitter.next_event() {
            t.event(e, &mut out);
        }
    }
    if let Some(rest) = splitter.take_rest() {
        t.event(rest, &mut out);
    }
    let complete = t.completed();
    let failure = (!complete).then(|| {
        ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            crate::errors::ErrorKind::Upstream,
            "cut",
        )
    });
    t.end(failure.as_ref(), &mut out);
    let text: String = out
        .iter()
        .map(|b: &Bytes| String::from_utf8_lossy(b).into_owned())
        .collect();
    let mut splitter = SseSplitter::default();
    splitter.push(text.as_bytes());
    let mut events = Vec::new();
    while let Some(e) = splitter.next_event() {
        let s = String::from_utf8_lossy(&e).into_owned();
        let name = s
            .lines()
            .find_map(|l| l.strip_prefix("event: "))
            .unwrap_or("")
            .to_string();
        let data = event_data(&e).unwrap_or_default();
        let value = serde_json::from_slice(&data)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&data).into()));
        events.push((name, value));
    }
    (events, t.tokens(), complete)
}

fn translator(to: WireFormat, wants_usage: bool) -> stream::Translator {
    convert::stream(
        WireFormat::Gemini,
        to,
        ToolNames::default(),
        "gem/gemini-2.5-flash",
        wants_usage,
    )
    .expect("supported")
}

#[test]
fn a_gemini_stream_becomes_a_well_formed_anthropic_stream() {
    let ids = (
        call_id(None, "r-stream-1", 0),
        call_id(None, "r-stream-1", 1),
    );
    for chunk in [1, 3, 17, 64, 100_000] {
        let (events, usage, complete) = run(
            translator(WireFormat::AnthropicMessages, false),
            STREAM_FIXTURE,
            chunk,
        );
        assert!(
            complete,
            "a finishReason ends the stream cleanly (chunk {chunk})"
        );
        let data: Vec<Value> = events.iter().map(|(_, v)| v.clone()).collect();
        assert_eq!(
            data,
            vec![
                json!({"type": "message_start", "message": {"id": "msg_r-stream-1", "type": "message", "role": "assistant",
                    "model": "gem/gemini-2.5-flash", "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}}}),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Checking the forecast."}}),
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Sure, "}}),
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "one moment."}}),
                json!({"type": "content_block_stop", "index": 1}),
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": ids.0, "name": "get_weather", "input": {}}}),
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":\"Paris\"}"}}),
                json!({"type": "content_block_stop", "index": 2}),
                json!({"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": ids.1, "name": "get_time", "input": {}}}),
                json!({"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
                json!({"type": "content_block_stop", "index": 3}),
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                    "usage": {"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 200, "output_tokens": 42}}),
                json!({"type": "message_stop"}),
            ],
            "chunk {chunk}"
        );
        assert_eq!(
            usage,
            Some(TokenCounts {
                input: 100,
                cache_read: 200,
                output: 42,
                reasoning: 12,
                ..Default::default()
            })
        );
    }
}

/// Like [`run`], with the transcript split in two at `cut`.
fn run_split(to: WireFormat, transcript: &str, cut: usize) -> Vec<(String, Value)> {
    let mut t = translator(to, true);
    let mut splitter = SseSplitter::default();
    let mut out = VecDeque::new();
    for piece in [&transcript.as_bytes()[..cut], &transcript.as_bytes()[cut..]] {
        splitter.push(piece);
        while let Some(e) = splitter.next_event() {
            t.event(e, &mut out);
        }
    }
    assert!(t.completed(), "cut at {cut}");
    t.end(None, &mut out);
    let text: String = out
        .iter()
        .map(|b: &Bytes| String::from_utf8_lossy(b).into_owned())
        .collect();
    let mut splitter = SseSplitter::default();
    splitter.push(text.as_bytes());
    std::iter::from_fn(|| splitter.next_event())
        .map(|e| {
            let data = event_data(&e).unwrap_or_default();
            let value = serde_json::from_slice(&data).unwrap_or(Value::Null);
            (String::from_utf8_lossy(&e).into_owned(), value)
        })
        .collect()
}

#[test]
fn every_split_point_of_a_gemini_stream_gives_the_same_client_stream() {
    for to in [WireFormat::AnthropicMessages, WireFormat::OpenAiChat] {
        let whole = run_split(to, STREAM_FIXTURE, 0);
        // Everything but the OpenAI timestamps must match byte for byte.
        let strip = |events: Vec<(String, Value)>| -> Vec<Value> {
            events
                .into_iter()
                .map(|(_, mut v)| {
                    if let Some(map) = v.as_object_mut() {
                        map.remove("created");
                    }
                    v
                })
                .collect()
        };
        let whole = strip(whole);
        for cut in 1..STREAM_FIXTURE.len() {
            assert_eq!(
                strip(run_split(to, STREAM_FIXTURE, cut)),
                whole,
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn a_gemini_stream_becomes_openai_chunks_with_usage() {
    let (events, _, complete) = run(translator(WireFormat::OpenAiChat, true), STREAM_FIXTURE, 5);
    assert!(complete);
    let data: Vec<&Value> = events.iter().map(|(_, v)| v).collect();
    assert_eq!(data.last().unwrap().as_str(), Some("[DONE]"));
    let chunks: Vec<&Value> = data.iter().copied().filter(|v| v.is_object()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks.iter().all(|c| c["id"] == "chatcmpl-r-stream-1"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Sure, one moment.");
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "Checking the forecast.");
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(calls[1]["function"]["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(
        (
            calls[2]["index"].as_u64(),
            calls[2]["function"]["name"].as_str()
        ),
        (Some(1), Some("get_time"))
    );
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["tool_calls"]);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        usage,
        &json!({"prompt_tokens": 300, "completion_tokens": 42, "total_tokens": 342,
            "prompt_tokens_details": {"cached_tokens": 200}, "completion_tokens_details": {"reasoning_tokens": 12}})
    );
}

#[test]
fn a_gemini_stream_without_its_finish_reason_is_cut_and_errors_are_passed_on() {
    // Everything but the last chunk: the stream ends without a finishReason.
    let cut_at = STREAM_FIXTURE.rfind("data:").unwrap();
    let (events, usage, complete) = run(
        translator(WireFormat::AnthropicMessages, false),
        &STREAM_FIXTURE[..cut_at],
        11,
    );
    assert!(!complete);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "error"
        ]
    );
    assert_eq!(usage.map(|u| u.input), Some(300), "usage so far is kept");

    let failing = format!(
        "{}data: {}\r\n\r\n",
        &STREAM_FIXTURE[..cut_at],
        json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})
    );
    let (events, _, complete) = run(
        translator(WireFormat::AnthropicMessages, false),
        &failing,
        64,
    );
    assert!(complete, "an error is an end too");
    assert_eq!(
        events.last().unwrap().1["error"]["message"],
        "The model is overloaded."
    );
}
