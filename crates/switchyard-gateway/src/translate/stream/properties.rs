//! Property tests: any well-formed stream of one format, cut into arbitrary chunks,
//! translates into a well-formed stream of the other that carries the same text and
//! tool calls.

use super::*;
use crate::providers::WireFormat;
use crate::sse::SseSplitter;
use proptest::prelude::*;
use serde_json::json;

#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    Thinking(String),
    /// A tool call: name and its argument JSON cut into fragments.
    Tool(String, Vec<String>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        "[a-zA-Z0-9 .,!?é\"\\\\\n]{1,12}".prop_map(Piece::Text),
        "[a-z ]{1,12}".prop_map(Piece::Thinking),
        (
            "[a-z_]{1,10}",
            prop::collection::vec("[a-z0-9:{}\" ,]{1,6}", 1..4)
        )
            .prop_map(|(n, a)| Piece::Tool(n, a)),
    ]
}

/// Whole text, whole thinking and each tool call's name and arguments, in order.
fn expected(pieces: &[Piece]) -> (String, String, Vec<(String, String)>) {
    let mut text = String::new();
    let mut thinking = String::new();
    let mut tools = Vec::new();
    for p in pieces {
        match p {
            Piece::Text(t) => text.push_str(t),
            Piece::Thinking(t) => thinking.push_str(t),
            Piece::Tool(n, a) => tools.push((n.clone(), a.concat())),
        }
    }
    (text, thinking, tools)
}

fn openai_stream(pieces: &[Piece]) -> String {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut s = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    let mut tool_index = 0;
    for p in pieces {
        match p {
            Piece::Text(t) => s += &chunk(json!({"content": t}), Value::Null),
            Piece::Thinking(t) => s += &chunk(json!({"reasoning_content": t}), Value::Null),
            Piece::Tool(name, args) => {
                s += &chunk(
                    json!({"tool_calls": [{"index": tool_index, "id": format!("call_{tool_index}"), "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                    Value::Null,
                );
                for a in args {
                    s += &chunk(
                        json!({"tool_calls": [{"index": tool_index, "function": {"arguments": a}}]}),
                        Value::Null,
                    );
                }
                tool_index += 1;
            }
        }
    }
    s += &chunk(json!({}), json!("stop"));
    s += &format!(
        "data: {}\n\n",
        json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}})
    );
    s + "data: [DONE]\n\n"
}

fn anthropic_stream(pieces: &[Piece]) -> String {
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut s = ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg", "model": "m", "usage": {"input_tokens": 5, "output_tokens": 1}}}),
    );
    for (index, p) in pieces.iter().enumerate() {
        let (start, deltas): (Value, Vec<Value>) = match p {
            Piece::Text(t) => (
                json!({"type": "text", "text": ""}),
                vec![json!({"type": "text_delta", "text": t})],
            ),
            Piece::Thinking(t) => (
                json!({"type": "thinking", "thinking": ""}),
                vec![
                    json!({"type": "thinking_delta", "thinking": t}),
                    json!({"type": "signature_delta", "signature": "sig"}),
                ],
            ),
            Piece::Tool(name, args) => (
                json!({"type": "tool_use", "id": format!("toolu_{index}"), "name": name, "input": {}}),
                args.iter()
                    .map(|a| json!({"type": "input_json_delta", "partial_json": a}))
                    .collect(),
            ),
        };
        s += &ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        for d in deltas {
            s += &ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": d}),
            );
        }
        s += &ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
    }
    s += &ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
    );
    s + &ev("message_stop", json!({"type": "message_stop"}))
}

/// Feeds `input` to a translator in the given chunk sizes; returns (event name, data) pairs.
fn run(mut t: Translator, input: &str, cuts: &[usize]) -> Vec<(String, Value)> {
    let bytes = input.as_bytes();
    let mut splitter = SseSplitter::default();
    let mut out = VecDeque::new();
    let mut at = 0;
    let mut cut = cuts.iter().cycle();
    while at < bytes.len() {
        let n = (*cut.next().unwrap_or(&1)).max(1).min(bytes.len() - at);
        splitter.push(&bytes[at..at + n]);
        at += n;
        while let Some(e) = splitter.next_event() {
            t.event(e, &mut out);
        }
    }
    assert!(t.completed(), "a whole stream is complete");
    t.end(None, &mut out);
    let text: Vec<u8> = out.iter().flat_map(|b| b.to_vec()).collect();
    let mut splitter = SseSplitter::default();
    splitter.push(&text);
    let mut events = Vec::new();
    while let Some(e) = splitter.next_event() {
        let s = String::from_utf8_lossy(&e).into_owned();
        let name = s
            .lines()
            .find_map(|l| l.strip_prefix("event: "))
            .unwrap_or("")
            .to_string();
        let data = event_data(&e).unwrap_or_default();
        events.push((
            name,
            serde_json::from_slice(&data)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&data).into())),
        ));
    }
    events
}

/// Checks an Anthropic stream's grammar and returns its text, thinking and tool calls.
fn check_anthropic(events: &[(String, Value)]) -> (String, String, Vec<(String, String)>) {
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("message_start"));
    let n = events.len();
    assert_eq!(events[n - 2].0, "message_delta");
    assert_eq!(events[n - 1].0, "message_stop");
    let (mut text, mut thinking, mut tools) =
        (String::new(), String::new(), Vec::<(String, String)>::new());
    let mut open: Option<u64> = None;
    let mut next = 0u64;
    for (name, data) in &events[1..n - 2] {
        let index = data["index"].as_u64();
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(
                    open, None,
                    "a block starts only after the previous one stopped"
                );
                assert_eq!(index, Some(next), "indices are consecutive");
                open = index;
                next += 1;
                if data["content_block"]["type"] == "tool_use" {
                    tools.push((
                        data["content_block"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        String::new(),
                    ));
                }
            }
            "content_block_delta" => {
                assert_eq!(index, open, "deltas go to the open block");
                let d = &data["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => text.push_str(d["text"].as_str().unwrap_or_default()),
                    Some("thinking_delta") => {
                        thinking.push_str(d["thinking"].as_str().unwrap_or_default())
                    }
                    Some("input_json_delta") => tools
                        .last_mut()
                        .expect("a tool block")
                        .1
                        .push_str(d["partial_json"].as_str().unwrap_or_default()),
                    Some("signature_delta") => {}
                    other => panic!("unexpected delta {other:?}"),
                }
            }
            "content_block_stop" => {
                assert_eq!(index, open);
                open = None;
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(open, None, "every block is closed");
    (text, thinking, tools)
}

/// Checks an OpenAI stream's grammar and returns its text, reasoning and tool calls.
fn check_openai(events: &[(String, Value)]) -> (String, String, Vec<(String, String)>) {
    let n = events.len();
    assert_eq!(events[n - 1].1, Value::String("[DONE]".into()));
    assert_eq!(
        events[0].1["choices"][0]["delta"]["role"], "assistant",
        "the role comes first"
    );
    let finish_at = events
        .iter()
        .position(|(_, v)| v["choices"][0]["finish_reason"].is_string())
        .expect("a finish_reason");
    assert_eq!(
        finish_at,
        n - 2,
        "finish_reason is the last chunk before [DONE]"
    );
    let (mut text, mut thinking, mut tools) =
        (String::new(), String::new(), Vec::<(String, String)>::new());
    for (_, v) in &events[..n - 1] {
        let delta = &v["choices"][0]["delta"];
        text.push_str(delta["content"].as_str().unwrap_or_default());
        thinking.push_str(delta["reasoning_content"].as_str().unwrap_or_default());
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().expect("index") as usize;
            if let Some(name) = call["function"]["name"].as_str() {
                assert_eq!(i, tools.len(), "tool indices are consecutive");
                tools.push((name.to_string(), String::new()));
            }
            tools[i]
                .1
                .push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    (text, thinking, tools)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_openai_stream_becomes_a_well_formed_anthropic_stream(
        pieces in prop::collection::vec(piece(), 0..8),
        cuts in prop::collection::vec(1usize..40, 1..6),
    ) {
        let t = convert::stream(WireFormat::OpenAiChat, WireFormat::AnthropicMessages, ToolNames::default(), "m", false).expect("supported");
        let events = run(t, &openai_stream(&pieces), &cuts);
        let got = check_anthropic(&events);
        let (text, thinking, tools) = expected(&pieces);
        prop_assert_eq!(got, (text, thinking, tools));
    }

    #[test]
    fn any_anthropic_stream_becomes_a_well_formed_openai_stream(
        pieces in prop::collection::vec(piece(), 0..8),
        cuts in prop::collection::vec(1usize..40, 1..6),
        wants_usage in any::<bool>(),
    ) {
        let t = convert::stream(WireFormat::AnthropicMessages, WireFormat::OpenAiChat, ToolNames::default(), "m", wants_usage).expect("supported");
        let mut events = run(t, &anthropic_stream(&pieces), &cuts);
        if wants_usage {
            // The usage chunk sits between finish_reason and [DONE].
            let usage = events.remove(events.len() - 2);
            prop_assert_eq!(&usage.1["usage"]["completion_tokens"], &json!(3));
        }
        let got = check_openai(&events);
        let (text, thinking, tools) = expected(&pieces);
        prop_assert_eq!(got, (text, thinking, tools));
    }

    #[test]
    fn chat_requests_round_trip_through_anthropic(
        turns in prop::collection::vec(("[a-zA-Z0-9 ]{1,20}", "[a-zA-Z0-9 ]{1,20}"), 1..5),
        temperature in prop::option::of(0.0f64..1.0),
        stop in prop::collection::vec("[A-Z]{1,5}", 0..3),
    ) {
        let mut messages = vec![json!({"role": "system", "content": "sys"})];
        for (q, a) in &turns {
            messages.push(json!({"role": "user", "content": q}));
            messages.push(json!({"role": "assistant", "content": a}));
        }
        messages.push(json!({"role": "user", "content": "last"}));
        let mut body = json!({"model": "m", "messages": messages, "max_tokens": 100, "stop": stop});
        if let Some(t) = temperature {
            body["temperature"] = json!(t);
        }
        let pivot = openai::parse_request(&body).expect("parses");
        let anthropic_body = crate::translate::tests::anthropic_value(&pivot, "m", &Target::default());
        let again = anthropic::parse_request(anthropic_body).expect("parses back");
        let back = crate::translate::tests::openai_value(&again, "m", &Target::default(), &ToolNames::default());
        prop_assert_eq!(&back["messages"], &body["messages"]);
        prop_assert_eq!(&back["max_tokens"], &body["max_tokens"]);
        prop_assert_eq!(back.get("temperature"), body.get("temperature"));
        if stop.is_empty() {
            prop_assert!(back.get("stop").is_none());
        } else {
            prop_assert_eq!(&back["stop"], &body["stop"]);
        }
    }
}
