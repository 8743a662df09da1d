//! The Responses stream the gateway writes for Codex, pinned byte for byte: its events
//! are written by hand from typed structs (`output.rs`), so a change to a field's order,
//! spelling or escaping shows here before a client sees it. The pinned text is in
//! `tests/fixtures/responses/emitter-stream.sse`; a deliberate change to the format
//! updates it.

use super::*;
use crate::translate::stream::Emitter;
use serde_json::Value;

const PINNED: &str = include_str!("../../../../../tests/fixtures/responses/emitter-stream.sse");

/// A provider's answer as format-free events: reasoning, text with characters JSON
/// escapes, two tool calls (the second's arguments in fragments), usage, a stop.
fn answer() -> Vec<Event> {
    vec![
        Event::Start {
            id: "chatcmpl-42".into(),
            model: "provider-model".into(),
        },
        Event::Thinking("Read the file first.".into()),
        Event::Text("Hello \"world\"\n\ttab \\ é 🎉".into()),
        Event::Text(" and more.".into()),
        Event::ToolStart {
            index: 0,
            id: "call_a".into(),
            name: "shell".into(),
        },
        Event::ToolArgs {
            index: 0,
            fragment: "{\"command\":[\"ls\"]}".into(),
        },
        Event::ToolStart {
            index: 1,
            id: "call_b".into(),
            name: "apply_patch".into(),
        },
        Event::ToolArgs {
            index: 1,
            fragment: "{\"input\":\"*** Begin".into(),
        },
        Event::ToolArgs {
            index: 1,
            fragment: " Patch\\n\"}".into(),
        },
        Event::Usage(TokenCounts {
            input: 1200,
            cache_read: 800,
            output: 95,
            reasoning: 40,
            ..TokenCounts::default()
        }),
        Event::Stop(StopReason::ToolUse),
        Event::Done,
    ]
}

fn written(events: &[Event]) -> String {
    let mut emitter = ResponsesEmitter::new("gpt-5-codex", 1_700_000_000);
    let mut out = VecDeque::new();
    for event in events {
        emitter.emit(event, &mut out);
    }
    emitter.finish(None, &mut out);
    let bytes: Vec<u8> = out.iter().flat_map(|b| b.iter().copied()).collect();
    String::from_utf8(bytes).expect("UTF-8")
}

#[test]
fn the_stream_is_written_byte_for_byte_as_pinned() {
    assert_eq!(written(&answer()), PINNED);
}

#[test]
fn each_pinned_event_names_its_type_and_counts_in_sequence() {
    let mut last_data = Value::Null;
    let mut count = 0;
    for (n, event) in PINNED.split_terminator("\n\n").enumerate() {
        let (name, data) = event
            .strip_prefix("event: ")
            .and_then(|e| e.split_once("\ndata: "))
            .unwrap_or_else(|| panic!("an SSE event with one data line: {event:?}"));
        let data: Value = serde_json::from_str(data).expect("JSON");
        assert_eq!(data["type"], name, "{event}");
        assert_eq!(data["sequence_number"], n, "{event}");
        last_data = data;
        count = n + 1;
    }
    assert!(count > 10, "{count} events");
    let response = &last_data["response"];
    assert_eq!(last_data["type"], "response.completed");
    assert_eq!(response["model"], "gpt-5-codex");
    let output = response["output"].as_array().expect("output items");
    let kinds: Vec<&str> = output.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["reasoning", "message", "function_call", "function_call"]
    );
    assert_eq!(
        output[1]["content"][0]["text"],
        "Hello \"world\"\n\ttab \\ é 🎉 and more."
    );
    assert_eq!(output[3]["arguments"], "{\"input\":\"*** Begin Patch\\n\"}");
    assert_eq!(response["usage"]["input_tokens"], 2000);
    assert_eq!(response["usage"]["output_tokens"], 95);
}
