//! Request and response translation, compared as JSON values.

use super::*;
use serde_json::json;

/// The OpenAI chat request as the JSON that would be sent; checks on the way that the
/// body written by hand is byte for byte what serializing the request writes.
pub(crate) fn openai_value(
    request: &Request,
    model: &str,
    target: &Target,
    names: &ToolNames,
) -> Value {
    let chat = openai::render_request(request, model, target, names);
    let mut written = Vec::new();
    chat.write_json(&mut written).expect("writes");
    assert_eq!(
        String::from_utf8_lossy(&written),
        serde_json::to_string(&chat).expect("serializes")
    );
    // Read from the request itself rather than from its text, whose floats would come
    // back a unit in the last place off (the parser's default float reading).
    serde_json::to_value(&chat).expect("serializes")
}

/// The Anthropic messages request as the JSON that would be sent; checks on the way
/// that the body written by hand is byte for byte what serializing the request writes.
pub(crate) fn anthropic_value(request: &Request, model: &str, target: &Target) -> Value {
    let messages = anthropic::render_request(request, model, target);
    let mut written = Vec::new();
    messages.write_json(&mut written).expect("writes");
    assert_eq!(
        String::from_utf8_lossy(&written),
        serde_json::to_string(&messages).expect("serializes")
    );
    serde_json::to_value(&messages).expect("serializes")
}

/// Writes `request` for both providers under every target of [`targets`]; the helpers
/// assert that each body written by hand is what serializing the request writes.
pub(crate) fn check_written_as_serialized(request: &Request) {
    let names = ToolNames::for_tools(&request.tools, MAX_TOOL_NAME);
    for target in targets() {
        anthropic_value(request, "m", &target);
        openai_value(request, "m", &target, &names);
    }
}

/// Targets that change how a request is written: the defaults, a Claude model's
/// (cache markers kept, an output limit), and an OpenAI model's.
pub(crate) fn targets() -> [Target; 3] {
    [Target::default(), claude_target(), openai_target()]
}

fn openai_target() -> Target {
    Target {
        uses_max_completion_tokens: false,
        ..Default::default()
    }
}

fn claude_target() -> Target {
    Target {
        keeps_cache_control: true,
        max_output_tokens: Some(64_000),
        ..Default::default()
    }
}

#[test]
fn anthropic_request_becomes_openai_chat() {
    let body = json!({
        "model": "x", "max_tokens": 1000, "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                   {"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is in /tmp?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Let me look.", "signature": "sig"},
                {"type": "text", "text": "I'll check."},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls /tmp"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "/tmp/a"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a\nb"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "hello"}], "is_error": true},
                {"type": "text", "text": "Thanks"}]}
        ],
        "tools": [{"name": "Bash", "description": "Run", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
                  {"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "stop_sequences": ["END"], "temperature": 0.5,
        "metadata": {"user_id": "u-1"}
    });
    let request = anthropic::parse_request(body).unwrap();
    let names = ToolNames::for_tools(&request.tools, MAX_TOOL_NAME);
    let out = openai_value(&request, "gpt-4.1", &openai_target(), &names);
    assert_eq!(
        out,
        json!({
            "model": "gpt-4.1",
            "messages": [
                {"role": "system", "content": "You are Claude Code.\n\nBe brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in /tmp?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": "I'll check.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls /tmp\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "Read", "arguments": "{\"path\":\"/tmp/a\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "a\nb"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: hello"},
                {"role": "user", "content": "Thanks"}
            ],
            "max_tokens": 1000, "temperature": 0.5, "stop": ["END"],
            "stream": true, "stream_options": {"include_usage": true},
            "tools": [{"type": "function", "function": {"name": "Bash", "description": "Run",
                "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}],
            "tool_choice": "required", "parallel_tool_calls": false, "user": "u-1"
        })
    );
}

#[test]
fn openai_request_becomes_anthropic_messages() {
    let body = json!({
        "model": "x",
        "messages": [
            {"role": "system", "content": "System one."},
            {"role": "developer", "content": [{"type": "text", "text": "System two."}]},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "rainy"},
            {"role": "system", "content": "Mid-conversation note."},
            {"role": "user", "content": "Thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_completion_tokens": 500, "reasoning_effort": "medium", "temperature": 0.2,
        "stop": "STOP", "user": "u-9"
    });
    let request = openai::parse_request(&body).unwrap();
    let out = anthropic_value(&request, "claude-sonnet-4-5", &claude_target());
    assert_eq!(
        out,
        json!({
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "rainy"}]},
                    {"type": "text", "text": "Thanks"}]}
            ],
            "system": [{"type": "text", "text": "System one."}, {"type": "text", "text": "System two."},
                       {"type": "text", "text": "Mid-conversation note."}],
            // medium effort is 8192 tokens of thinking; max_tokens must exceed it.
            "thinking": {"type": "enabled", "budget_tokens": 8192},
            "max_tokens": 8193,
            "stop_sequences": ["STOP"],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "get_weather"},
            "metadata": {"user_id": "u-9"}
        })
    );
}

#[test]
fn anthropic_needs_max_tokens_and_every_tool_call_answered() {
    let body = json!({"model": "x", "messages": [
        {"role": "assistant", "content": "Hi"},
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}]},
        {"role": "user", "content": "never mind"},
        {"role": "tool", "tool_call_id": "ghost", "content": "orphan"}
    ]});
    let out = anthropic_value(
        &openai::parse_request(&body).unwrap(),
        "m",
        &Target::default(),
    );
    assert_eq!(out["max_tokens"], anthropic::DEFAULT_MAX_TOKENS);
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(
        messages[0]["role"], "user",
        "a conversation starts with the user"
    );
    let results = &messages[4]["content"];
    assert_eq!(results[0]["type"], "tool_result");
    assert_eq!(results[0]["tool_use_id"], "c1");
    assert_eq!(
        results[0]["is_error"], true,
        "an unanswered call gets a placeholder result"
    );
    assert!(
        results[2]["text"].as_str().unwrap().contains("orphan"),
        "an orphan result survives as text"
    );
}

#[test]
fn cache_control_is_kept_for_claude_and_removed_for_others() {
    let body = json!({"model": "x", "max_tokens": 10, "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "5m"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]});
    let request = anthropic::parse_request(body).unwrap();
    let to_claude = anthropic_value(&request, "m", &claude_target());
    assert_eq!(to_claude["system"][0]["cache_control"]["ttl"], "5m");
    assert_eq!(
        to_claude["messages"][0]["content"][0]["cache_control"]["type"],
        "ephemeral"
    );
    let to_openrouter_claude = openai_value(
        &request,
        "anthropic/claude-sonnet-4.5",
        &claude_target(),
        &ToolNames::default(),
    );
    assert_eq!(
        to_openrouter_claude["messages"][0]["content"][0]["cache_control"]["ttl"],
        "5m"
    );
    let to_gpt = openai_value(&request, "gpt-4.1", &openai_target(), &ToolNames::default());
    assert!(!to_gpt.to_string().contains("cache_control"));
}

#[test]
fn reasoning_round_trips_for_deepseek_and_is_dropped_across_providers() {
    let body = json!({"model": "x", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "thought"},
        {"role": "user", "content": "q2"}]});
    let request = openai::parse_request(&body).unwrap();
    let deepseek = Target {
        wants_reasoning_content: true,
        ..Default::default()
    };
    let out = openai_value(
        &request,
        "deepseek-reasoner",
        &deepseek,
        &ToolNames::default(),
    );
    assert_eq!(out["messages"][1]["reasoning_content"], "thought");
    let plain = openai_value(&request, "gpt-4.1", &openai_target(), &ToolNames::default());
    assert!(plain["messages"][1].get("reasoning_content").is_none());
    // Unsigned reasoning cannot go to Anthropic; signed thinking goes back unchanged.
    let to_claude = anthropic_value(&request, "m", &claude_target());
    assert!(!to_claude.to_string().contains("thought"));
    let signed = anthropic::parse_request(json!({"model": "x", "max_tokens": 5, "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "SIG"}, {"type": "text", "text": "a"}]},
        {"role": "user", "content": "q2"}]})).unwrap();
    let back = anthropic_value(&signed, "m", &claude_target());
    assert_eq!(
        back["messages"][1]["content"][0],
        json!({"type": "thinking", "thinking": "t", "signature": "SIG"})
    );
}

#[test]
fn responses_translate_both_ways_with_usage_buckets() {
    let openai_body = json!({"id": "chatcmpl-1", "model": "gpt-4.1", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 60}}});
    let response = openai::parse_response(
        &serde_json::to_vec(&openai_body).unwrap(),
        &ToolNames::default(),
    )
    .unwrap();
    assert_eq!(
        response.usage,
        TokenCounts {
            input: 40,
            cache_read: 60,
            output: 20,
            ..Default::default()
        }
    );
    let as_anthropic =
        serde_json::to_value(anthropic::render_response(&response, "oai/gpt-4.1")).unwrap();
    assert_eq!(
        as_anthropic,
        json!({
            "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "oai/gpt-4.1",
            "content": [{"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 40, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 60, "output_tokens": 20}
        }),
        "tool calls win over a plain stop"
    );

    let anthropic_body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "text", "text": "Done."}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50, "output_tokens": 7}});
    let response = anthropic::parse_response(anthropic_body).unwrap();
    let as_openai =
        serde_json::to_value(openai::render_response(&response, "ant/claude", 1)).unwrap();
    assert_eq!(
        as_openai,
        json!({
            "id": "msg_1", "object": "chat.completion", "created": 1, "model": "ant/claude",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done.", "reasoning_content": "hmm"},
                "finish_reason": "length"}],
            "usage": {"prompt_tokens": 160, "completion_tokens": 7, "total_tokens": 167,
                "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 0}}
        })
    );
}

#[test]
fn long_tool_names_are_shortened_for_openai_and_restored_in_answers() {
    let long = format!("mcp__server__{}", "x".repeat(70));
    let body = json!({"model": "x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": long, "input_schema": {"type": "object"}}]});
    let request = anthropic::parse_request(body).unwrap();
    let names = ToolNames::for_tools(&request.tools, MAX_TOOL_NAME);
    let out = openai_value(&request, "gpt", &openai_target(), &names);
    let sent = out["tools"][0]["function"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sent.len() <= MAX_TOOL_NAME);
    let answer = json!({"id": "c", "model": "gpt", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function", "function": {"name": sent, "arguments": "{}"}}]}}]});
    let response = openai::parse_response(&serde_json::to_vec(&answer).unwrap(), &names).unwrap();
    assert!(matches!(&response.content[0], Block::ToolUse { name, .. } if *name == long));
}

#[test]
fn response_format_becomes_anthropic_structured_output() {
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false});
    let body = json!({"model": "x", "messages": [{"role": "user", "content": "Where?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": true}}});
    let out = anthropic_value(
        &openai::parse_request(&body).unwrap(),
        "m",
        &claude_target(),
    );
    assert_eq!(
        out["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    // And back: an Anthropic client's output_config reaches OpenAI as response_format.
    let back = openai_value(
        &anthropic::parse_request(out).unwrap(),
        "gpt",
        &openai_target(),
        &ToolNames::default(),
    );
    assert_eq!(back["response_format"]["json_schema"]["schema"], schema);

    let body = json!({"model": "x", "messages": [{"role": "user", "content": "Where?"}], "response_format": {"type": "json_object"}});
    let out = anthropic_value(
        &openai::parse_request(&body).unwrap(),
        "m",
        &claude_target(),
    );
    assert!(out.get("output_config").is_none());
    assert_eq!(out["system"][0]["text"], anthropic::JSON_OBJECT_INSTRUCTION);
}

#[test]
fn anthropic_requests_read_the_same_from_bytes_and_from_a_value() {
    let body = json!({
        "model": "x", "max_tokens": 64, "stream": true, "temperature": 0.2, "top_p": 0.9,
        "system": [{"type": "text", "text": "Be \"brief\".\n", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "caf\u{e9} \u{1f600} \\ tab\t"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}]},
            {"role": "assistant", "content": [
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_use", "id": "t1", "name": "Read", "input": {"path": "/a", "n": [1, 2.5, null]}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": null}]}
        ],
        "tools": [{"type": "custom", "name": "Read", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "Read"},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stop_sequences": ["a", 7, "b"],
        "metadata": {"user_id": "u-9"}
    });
    let from_bytes =
        anthropic::parse_request_body(&serde_json::to_vec(&body).unwrap()).expect("parses");
    assert_eq!(from_bytes, anthropic::parse_request(body).expect("parses"));
    assert_eq!(from_bytes.stop, ["a", "b"]);
    assert_eq!(
        from_bytes.tool_choice,
        Some(ToolChoice::Named("Read".into()))
    );
    assert_eq!(from_bytes.reasoning, Some(Reasoning::Budget(2048)));
    assert_eq!(from_bytes.user.as_deref(), Some("u-9"));
    assert!(matches!(
        &from_bytes.messages[0].content[0],
        Block::Text { text, .. } if text == "caf\u{e9} \u{1f600} \\ tab\t"
    ));
    assert!(matches!(
        &from_bytes.messages[2].content[0],
        Block::ToolResult { content, .. } if content.is_empty()
    ));
}

#[test]
fn anthropic_scalars_of_the_wrong_type_read_as_absent() {
    let body = br#"{"model": "x", "max_tokens": "lots", "stream": "yes", "temperature": null,
        "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}"#;
    let request = anthropic::parse_request_body(body).expect("parses");
    assert_eq!(request.max_tokens, None);
    assert!(!request.stream);
    assert_eq!(request.temperature, None);
    assert!(matches!(&request.messages[0].content[0], Block::Text { text, .. } if text.is_empty()));
}

#[test]
fn anthropic_requests_of_the_wrong_shape_are_refused_with_the_reason() {
    let refused = |body: &[u8]| anthropic::parse_request_body(body).expect_err("refused");

    let e = refused(br#"{"messages": [{"role": "user", "content": 5}]}"#);
    assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    assert!(
        e.message.contains("must be a string or an array of blocks"),
        "{}",
        e.message
    );

    let e = refused(br#"{"messages": {"role": "user"}}"#);
    assert!(
        e.message.contains("Anthropic messages format"),
        "{}",
        e.message
    );
    assert_ne!(e.code, Some(INVALID_JSON));

    let e = refused(br#"{"messages": [{"role": "critic", "content": "hi"}]}"#);
    assert!(e.message.contains("unknown message role"), "{}", e.message);

    // A block given as an array is not read field by field as if it were an object.
    let e = refused(br#"{"messages": [{"role": "user", "content": [["text", "hi"]]}]}"#);
    assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    assert!(
        e.message.contains("Anthropic messages format")
            && e.message.contains("expected a JSON object"),
        "{}",
        e.message
    );

    let e = refused(br#"{"messages": [{"role": "user", "content": [{"type": "video"}]}]}"#);
    assert!(e.message.contains("'video'"), "{}", e.message);

    let e = refused(br#"{"messages": [{"role": "user", "content": "hi"}"#);
    assert_eq!(e.code, Some(INVALID_JSON));
    assert!(
        e.message.starts_with("Request body is not valid JSON"),
        "{}",
        e.message
    );
}

#[test]
fn openai_answers_are_read_forgivingly_and_refused_when_misshapen() {
    let read = |body: Value| {
        openai::parse_response(&serde_json::to_vec(&body).unwrap(), &ToolNames::default())
    };

    // Reasoning under OpenRouter's name, a call with unreadable arguments, usage kept.
    let answer = read(json!({"id": "a1", "model": "m", "choices": [{"finish_reason": "tool_calls", "message": {
        "content": "", "reasoning": "Think.", "tool_calls": [{"id": "c1", "function": {"name": "Read", "arguments": "{not json"}}]}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3}}))
    .unwrap();
    assert_eq!(
        answer.content,
        [
            Block::Thinking {
                text: "Think.".into(),
                signature: None
            },
            Block::ToolUse {
                id: "c1".into(),
                name: "Read".into(),
                input: json!({}).into(),
                cache: None
            },
        ]
    );
    assert_eq!(answer.stop, StopReason::ToolUse);
    assert_eq!((answer.usage.input, answer.usage.output), (7, 3));

    // Wrong scalar types read as absent; a null message is an empty one.
    let answer =
        read(json!({"id": 5, "choices": [{"message": null, "finish_reason": 1}]})).unwrap();
    assert_eq!(answer.id, "chatcmpl");
    assert!(answer.content.is_empty());
    assert_eq!(answer.stop, StopReason::EndTurn);

    // A usage that cannot be read costs the usage, not the answer.
    for usage in [json!("many"), json!({"prompt_tokens": -1}), json!(null)] {
        let answer = read(json!({"choices": [{"message": {"content": "Hi"}}], "usage": usage}))
            .expect("read without its usage");
        assert_eq!(joined_text(&answer.content), "Hi");
        assert_eq!(answer.usage, TokenCounts::default(), "{usage}");
    }

    // A refusal is the answer's text and its stop reason.
    let answer = read(json!({"choices": [{"message": {"content": null, "refusal": "No."}, "finish_reason": "stop"}]})).unwrap();
    assert_eq!(answer.stop, StopReason::Refusal);
    assert_eq!(joined_text(&answer.content), "No.");

    for misshapen in [
        json!({"choices": []}),
        json!({"object": "error"}),
        json!({"choices": {"0": {}}}),
        json!([1]),
    ] {
        let e = read(misshapen.clone()).expect_err("refused");
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{misshapen}");
    }
}

#[test]
fn anthropic_answers_read_from_bytes_as_from_a_value() {
    let answers = [
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "text", "text": "Done."}],
            "stop_reason": "max_tokens",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50, "output_tokens": 7}}),
        json!({"id": 7, "model": null, "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, "x"]}}],
            "stop_reason": "tool_use", "usage": null}),
        json!({"content": "plain text", "stop_reason": "stop_sequence", "stop_sequence": "END",
            "usage": {"input_tokens": "many", "output_tokens": 3}}),
        json!({"content": [{"type": "redacted_thinking", "data": "xyz"}], "usage": {"cache_creation": {"ephemeral_1h_input_tokens": 4}}}),
        json!({"id": "msg_2", "stop_reason": "end_turn"}),
        json!({"id": "msg_3", "content": [{"type": "text", "text": "caf\u{e9} \"quoted\"\n"}], "extra": {"ignored": [true]}}),
    ];
    for answer in answers {
        let bytes = serde_json::to_vec(&answer).unwrap();
        let from_bytes = anthropic::parse_response_bytes(&bytes)
            .expect("an object reads from bytes")
            .unwrap();
        assert_eq!(from_bytes, anthropic::parse_response(answer).unwrap());
    }
    // What the typed reading does not take goes to the `Value` reading, whose errors
    // say what is wrong; content of the wrong type is refused either way.
    for not_typed in [&b"[1, 2]"[..], b"not json", br#"{"id": "a", "id": "b"}"#] {
        assert!(anthropic::parse_response_bytes(not_typed).is_none());
    }
    let refused = anthropic::parse_response_bytes(br#"{"content": 5}"#).expect("an object");
    assert!(refused.is_err());
    assert!(anthropic::parse_response(json!({"content": 5})).is_err());
}
