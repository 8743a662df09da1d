//! Stream translation: whole transcripts in, the client's events out, checked as JSON.

use super::*;
use crate::sse::SseSplitter;
use serde_json::json;

fn sse_events(text: &str) -> Vec<Bytes> {
    let mut splitter = SseSplitter::default();
    splitter.push(text.as_bytes());
    let mut events = Vec::new();
    while let Some(e) = splitter.next_event() {
        events.push(e);
    }
    events
}

/// Runs a transcript through a translator, fed in chunks of `chunk` bytes.
fn translate(
    mut t: Translator,
    transcript: &str,
    chunk: usize,
    cut: bool,
) -> (Vec<(String, Value)>, Option<TokenCounts>) {
    let mut splitter = SseSplitter::default();
    let mut out = VecDeque::new();
    for piece in transcript.as_bytes().chunks(chunk.max(1)) {
        splitter.push(piece);
        while let Some(e) = splitter.next_event() {
            t.event(e, &mut out);
        }
    }
    let failure = (cut || !t.completed()).then(|| {
        ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            crate::errors::ErrorKind::Upstream,
            "cut",
        )
    });
    t.end(failure.as_ref(), &mut out);
    let text: String = out
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    let parsed = sse_events(&text)
        .iter()
        .map(|e| {
            let s = String::from_utf8_lossy(e);
            let name = s
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("")
                .to_string();
            let data = event_data(e).unwrap_or_default();
            let value = serde_json::from_slice(&data)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&data).into()));
            (name, value)
        })
        .collect();
    (parsed, t.tokens())
}

fn openai_chunk(delta: Value, finish: Value) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "gpt-4.1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    )
}

fn openai_transcript() -> String {
    let mut s = String::new();
    s += &openai_chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    s += &openai_chunk(json!({"reasoning_content": "Think"}), Value::Null);
    s += &openai_chunk(json!({"content": "Hel"}), Value::Null);
    s += &openai_chunk(json!({"content": "lo"}), Value::Null);
    s += &openai_chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "Read", "arguments": ""}}]}),
        Value::Null,
    );
    s += &openai_chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"path\":"}}]}),
        Value::Null,
    );
    s += &openai_chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"/a\"}"}}]}),
        Value::Null,
    );
    s += &openai_chunk(
        json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]}),
        Value::Null,
    );
    // Some providers say "stop" alongside tool calls.
    s += &openai_chunk(json!({}), json!("stop"));
    s += &format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-9", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 20}}})
    );
    s += "data: [DONE]\n\n";
    s
}

fn to_anthropic() -> Translator {
    convert::stream(
        WireFormat::OpenAiChat,
        WireFormat::AnthropicMessages,
        ToolNames::default(),
        "oai/gpt-4.1",
        false,
    )
    .expect("supported")
}

use crate::providers::WireFormat;

#[test]
fn openai_chunks_become_a_well_formed_anthropic_stream() {
    for chunk in [1, 7, 64, 100_000] {
        let (events, usage) = translate(to_anthropic(), &openai_transcript(), chunk, false);
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
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ],
            "chunk size {chunk}"
        );
        assert_eq!(
            events[0].1,
            json!({"type": "message_start", "message": {
                "id": "msg_chatcmpl-9", "type": "message", "role": "assistant", "model": "oai/gpt-4.1",
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}}})
        );
        assert_eq!(
            events[1].1["content_block"],
            json!({"type": "thinking", "thinking": ""})
        );
        assert_eq!(
            events[2].1["delta"],
            json!({"type": "thinking_delta", "thinking": "Think"})
        );
        assert_eq!(events[4].1["index"], 1);
        assert_eq!(
            events[5].1["delta"],
            json!({"type": "text_delta", "text": "Hel"})
        );
        assert_eq!(
            events[8].1["content_block"],
            json!({"type": "tool_use", "id": "call_a", "name": "Read", "input": {}})
        );
        assert_eq!(
            events[9].1["delta"],
            json!({"type": "input_json_delta", "partial_json": "{\"path\":"})
        );
        assert_eq!(events[12].1["index"], 3);
        assert_eq!(events[12].1["content_block"]["name"], "Bash");
        assert_eq!(events[14].1["index"], 3);
        assert_eq!(
            events[15].1["delta"]["stop_reason"], "tool_use",
            "tool calls win over stop"
        );
        assert_eq!(events[15].1["delta"]["stop_sequence"], Value::Null);
        assert_eq!(events[16].1, json!({"type": "message_stop"}));
        assert_eq!(
            events[15].1["usage"],
            json!({"input_tokens": 30, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 20, "output_tokens": 9})
        );
        assert_eq!(
            usage,
            Some(TokenCounts {
                input: 30,
                cache_read: 20,
                output: 9,
                ..Default::default()
            })
        );
    }
}

#[test]
fn a_cut_openai_stream_still_closes_every_anthropic_block() {
    let transcript: String = openai_transcript()
        .split("data: {\"id\":\"chatcmpl-9\",\"object\"")
        .take(7)
        .collect::<Vec<_>>()
        .join("data: {\"id\":\"chatcmpl-9\",\"object\"");
    let (events, _) = translate(to_anthropic(), &transcript, 5, false);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let opened = names
        .iter()
        .filter(|n| **n == "content_block_start")
        .count();
    let closed = names.iter().filter(|n| **n == "content_block_stop").count();
    assert_eq!(opened, closed, "{names:?}");
    assert_eq!(*names.last().unwrap(), "error");
    assert_eq!(events.last().unwrap().1["error"]["type"], "api_error");
}

fn anthropic_transcript() -> String {
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    [
        ev("message_start", json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 12, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 30, "output_tokens": 1}}})),
        ev("ping", json!({"type": "ping"})),
        ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm"}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "SIG"}})),
        ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        ev("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}})),
        ev("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        ev("content_block_start", json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}})),
        ev("content_block_delta", json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}})),
        ev("content_block_stop", json!({"type": "content_block_stop", "index": 2})),
        ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 42}})),
        ev("message_stop", json!({"type": "message_stop"})),
    ]
    .concat()
}

#[test]
fn anthropic_events_become_openai_chunks_with_role_first_and_finish_before_done() {
    for wants_usage in [false, true] {
        let t = convert::stream(
            WireFormat::AnthropicMessages,
            WireFormat::OpenAiChat,
            ToolNames::default(),
            "ant/claude",
            wants_usage,
        )
        .expect("supported");
        let (events, usage) = translate(t, &anthropic_transcript(), 3, false);
        let chunks: Vec<&Value> = events.iter().map(|(_, v)| v).collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[0]["model"], "ant/claude");
        assert!(chunks
            .iter()
            .any(|c| c["choices"][0]["delta"]["reasoning_content"] == "Hmm"));
        assert!(chunks
            .iter()
            .any(|c| c["choices"][0]["delta"]["content"] == "Hi"));
        let tool_start = chunks
            .iter()
            .find(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"] == "toolu_1")
            .unwrap();
        assert_eq!(
            tool_start["choices"][0]["delta"]["tool_calls"][0]["index"],
            0
        );
        let args: String = chunks
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(args, "{\"city\":\"Paris\"}");
        let n = chunks.len();
        assert_eq!(*chunks[n - 1], Value::String("[DONE]".into()));
        let finish_at = if wants_usage { n - 3 } else { n - 2 };
        assert_eq!(
            chunks[finish_at]["choices"][0]["finish_reason"],
            "tool_calls"
        );
        if wants_usage {
            assert_eq!(
                chunks[n - 2]["usage"],
                json!({"prompt_tokens": 142, "completion_tokens": 42, "total_tokens": 184,
                "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 0}})
            );
            assert_eq!(chunks[n - 2]["choices"], json!([]));
        } else {
            assert!(chunks.iter().all(|c| c.get("usage").is_none()));
        }
        assert_eq!(
            usage,
            Some(TokenCounts {
                input: 12,
                cache_read: 100,
                cache_write_5m: 30,
                output: 42,
                ..Default::default()
            })
        );
    }
}

#[test]
fn an_anthropic_error_event_becomes_an_openai_error_chunk() {
    let transcript = anthropic_transcript().split("event: content_block_start").next().unwrap().to_string()
        + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let t = convert::stream(
        WireFormat::AnthropicMessages,
        WireFormat::OpenAiChat,
        ToolNames::default(),
        "m",
        false,
    )
    .expect("supported");
    let (events, _) = translate(t, &transcript, 10, false);
    let last = &events.last().unwrap().1;
    assert_eq!(last["error"]["message"], "Overloaded");
    assert!(!events
        .iter()
        .any(|(_, v)| *v == Value::String("[DONE]".into())));
}

/// The chunks' exact text: field order, the role in the first delta, `null`s.
#[test]
fn openai_chunks_are_written_field_for_field_as_before() {
    let mut emitter = OpenAiEmitter::new("ant/claude", 7, false);
    let mut out = VecDeque::new();
    let events = [
        Event::ToolStart {
            index: 3,
            id: "toolu_1".into(),
            name: "get_weather".into(),
        },
        Event::ToolArgs {
            index: 3,
            fragment: "{\"city\":".into(),
        },
        Event::Text("caf\u{e9} \"hi\"\n".into()),
        Event::Thinking("hmm".into()),
        Event::Done,
    ];
    for event in &events {
        emitter.emit(event, &mut out);
    }
    let written: Vec<String> = out
        .iter()
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .collect();
    let head = r#"data: {"id":"chatcmpl","object":"chat.completion.chunk","created":7,"model":"ant/claude","choices":[{"index":0,"delta":"#;
    let expected = [
        format!(
            r#"{head}{{"tool_calls":[{{"index":0,"id":"toolu_1","type":"function","function":{{"name":"get_weather","arguments":""}}}}],"role":"assistant"}},"finish_reason":null}}]}}"#
        ),
        format!(
            r#"{head}{{"tool_calls":[{{"index":0,"function":{{"arguments":"{{\"city\":"}}}}]}},"finish_reason":null}}]}}"#
        ),
        format!(r#"{head}{{"content":"café \"hi\"\n"}},"finish_reason":null}}]}}"#),
        format!(r#"{head}{{"reasoning_content":"hmm"}},"finish_reason":null}}]}}"#),
        format!(r#"{head}{{}},"finish_reason":"tool_calls"}}]}}"#),
    ];
    assert_eq!(written.len(), expected.len() + 1);
    for (got, want) in written.iter().zip(&expected) {
        assert_eq!(got, &format!("{want}\n\n"));
    }
    assert_eq!(written[expected.len()], "data: [DONE]\n\n");
}

#[test]
fn openai_chunks_are_written_byte_for_byte_as_serializing_writes_them() {
    let hostile = [
        "",
        "plain",
        "caf\u{e9} \"quoted\" back\\slash\n\ttab \u{1} \u{1f} \u{7f} \u{2028} \u{1f600}",
        "{\"path\":\"/tmp/a b\",\"n\":[1,2]}",
    ];
    let mut deltas = vec![ChunkDelta::default()];
    for text in hostile {
        deltas.push(ChunkDelta::content(text));
        deltas.push(ChunkDelta::reasoning(text));
        for (id, kind, name) in [
            (None, None, None),
            (Some(text), Some("function"), Some(text)),
        ] {
            deltas.push(ChunkDelta::tool_call(ToolCallDelta {
                index: usize::MAX,
                id,
                kind,
                function: FunctionDelta {
                    name,
                    arguments: text,
                },
            }));
        }
    }
    let first_chunks: Vec<ChunkDelta<'_>> = deltas
        .iter()
        .map(|d| ChunkDelta {
            role: Some("assistant"),
            ..*d
        })
        .collect();
    deltas.extend(first_chunks);
    let mut checked = 0;
    for (id, model) in [("chatcmpl", ""), ("chatcmpl-\"x\\", "ant/claude \u{e9}\n")] {
        let mut emitter = OpenAiEmitter::new(model, u64::MAX, false);
        emitter.id = id.to_string();
        for delta in &deltas {
            for finish in [None, Some("stop"), Some("tool_calls")] {
                let shape = ChunkShape {
                    id: &emitter.id,
                    object: "chat.completion.chunk",
                    created: emitter.created,
                    model: &emitter.model,
                    choices: [ChoiceShape {
                        index: 0,
                        delta: *delta,
                        finish_reason: finish,
                    }],
                };
                assert_eq!(
                    String::from_utf8_lossy(&emitter.chunk(*delta, finish)),
                    String::from_utf8_lossy(&encode_event(None, &shape))
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 34 * 3);
}
