//! Runs the hand-written translation fixtures in `tests/fixtures/translate/` (see the
//! README there) and compares the gateway's output with theirs as JSON values.

use super::*;
use crate::providers::WireFormat;
use crate::sse::{event_data, SseSplitter};
use crate::stream::EventHandler;
use std::collections::VecDeque;
use std::path::PathBuf;

fn format(name: &str) -> WireFormat {
    match name {
        "openai-chat" => WireFormat::OpenAiChat,
        "anthropic-messages" => WireFormat::AnthropicMessages,
        "openai-responses" => WireFormat::OpenAiResponses,
        "gemini" => WireFormat::Gemini,
        other => panic!("unknown format {other}"),
    }
}

fn run_stream(from: WireFormat, to: WireFormat, model: &str, input: &str) -> Value {
    let mut t = convert::stream(from, to, ToolNames::default(), model, false).expect("supported");
    let mut splitter = SseSplitter::default();
    let mut out = VecDeque::new();
    splitter.push(input.as_bytes());
    while let Some(e) = splitter.next_event() {
        t.event(e, &mut out);
    }
    t.end(None, &mut out);
    let text: Vec<u8> = out.iter().flat_map(|b| b.to_vec()).collect();
    let mut events = SseSplitter::default();
    events.push(&text);
    let mut pairs = Vec::new();
    while let Some(e) = events.next_event() {
        let s = String::from_utf8_lossy(&e).into_owned();
        let name = s
            .lines()
            .find_map(|l| l.strip_prefix("event: "))
            .unwrap_or("")
            .to_string();
        let data = event_data(&e).unwrap_or_default();
        let value = serde_json::from_slice(&data)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&data).into_owned()));
        pairs.push(serde_json::json!([name, value]));
    }
    Value::Array(pairs)
}

#[test]
fn every_fixture_translates_as_written() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/translate");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 4, "fixtures found: {entries:?}");
    for path in entries {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
        let (from, to) = (
            format(case["from"].as_str().expect("from")),
            format(case["to"].as_str().expect("to")),
        );
        let model = case["model"].as_str().expect("model");
        let got = match case["kind"].as_str() {
            Some("request") => {
                let request = convert::parse_request(
                    from,
                    &serde_json::to_vec(&case["input"]).expect("JSON"),
                )
                .expect("parses");
                let names = ToolNames::for_tools(&request.tools, MAX_TOOL_NAME);
                let body =
                    convert::render_request(to, &request, model, &Target::default(), &names, 0)
                        .expect("renders");
                serde_json::from_slice(&body).expect("JSON")
            }
            Some("response") => {
                let body = serde_json::to_vec(&case["input"]).expect("serializes");
                let out = convert::response(from, to, &body, &ToolNames::default(), model)
                    .expect("translates");
                let mut v: Value = serde_json::from_slice(&out.body).expect("JSON");
                // The clock's, not the fixture's.
                for stamp in ["created", "created_at"] {
                    if v.get(stamp).is_some() {
                        v[stamp] = serde_json::json!(0);
                    }
                }
                v
            }
            Some("stream") => {
                run_stream(from, to, model, case["input"].as_str().expect("SSE text"))
            }
            other => panic!("{}: unknown kind {other:?}", path.display()),
        };
        assert_eq!(got, case["expected"], "{}", path.display());
    }
}
