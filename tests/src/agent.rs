//! The mock's `agent` model, for driving real coding agents (Claude Code, Codex CLI)
//! through the gateway: on a fresh task it calls the agent's file-reading or shell
//! tool on the `.txt` path named in the conversation; once the tool's result is back,
//! it answers with that result. Both OpenAI chat and Anthropic messages, streamed or not.

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// What the model does next.
enum Turn {
    Call { name: String, input: Value },
    Say(String),
}

/// All text of a message's content, whatever its shape.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                _ => p
                    .get("text")
                    .or_else(|| p.get("content"))
                    .map(text_of)
                    .unwrap_or_default(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The first `/...something.txt` path in the text.
fn txt_path(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || "\"'`()<>,".contains(c))
        .find(|w| w.starts_with('/') && w.ends_with(".txt"))
        .map(|w| w.trim_end_matches(['.', ':']).to_string())
}

/// Picks the move from the conversation and the tools the client offers.
fn decide(tool_result: Option<String>, user_text: &str, tools: &[String]) -> Turn {
    if let Some(result) = tool_result {
        return Turn::Say(format!("The tool returned: {}", result.trim()));
    }
    let Some(path) = txt_path(user_text) else {
        return Turn::Say("Nothing to read.".into());
    };
    let has = |name: &str| tools.iter().any(|t| t == name);
    if has("Read") {
        Turn::Call {
            name: "Read".into(),
            input: json!({"file_path": path}),
        }
    } else if has("exec_command") {
        Turn::Call {
            name: "exec_command".into(),
            input: json!({"cmd": format!("cat {path}")}),
        }
    } else if has("shell") {
        Turn::Call {
            name: "shell".into(),
            input: json!({"command": ["cat", path]}),
        }
    } else {
        Turn::Say(format!("No tool to read {path} with."))
    }
}

fn sse(events: Vec<String>) -> Response {
    let stream = futures_util::stream::iter(
        events
            .into_iter()
            .map(|e| Ok::<_, std::io::Error>(Bytes::from(e))),
    );
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// OpenAI chat completions.
pub fn openai(body: &Value) -> Response {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let tool_result = (last["role"] == "tool").then(|| text_of(&last["content"]));
    // The newest user message naming a file is the task at hand.
    let user_text = messages
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .find(|t| txt_path(t).is_some())
        .unwrap_or_default();
    let tools: Vec<String> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            t.pointer("/function/name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    let turn = decide(tool_result, &user_text, &tools);
    let usage = json!({"prompt_tokens": 100, "completion_tokens": 10});
    if !body["stream"].as_bool().unwrap_or(false) {
        let (message, finish) = match turn {
            Turn::Say(text) => (json!({"role": "assistant", "content": text}), "stop"),
            Turn::Call { name, input } => (
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_agent", "type": "function",
                    "function": {"name": name, "arguments": input.to_string()}}]}),
                "tool_calls",
            ),
        };
        return axum::Json(json!({"id": "chatcmpl-agent", "object": "chat.completion", "created": 1, "model": "agent",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-agent", "object": "chat.completion.chunk", "created": 1,
            "model": "agent", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let finish = match turn {
        Turn::Say(text) => {
            events.push(chunk(json!({"content": text}), Value::Null));
            "stop"
        }
        Turn::Call { name, input } => {
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_agent", "type": "function",
                "function": {"name": name, "arguments": input.to_string()}}]}),
                Value::Null,
            ));
            "tool_calls"
        }
    };
    events.push(chunk(json!({}), json!(finish)));
    events.push(format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-agent", "choices": [], "usage": usage})
    ));
    events.push("data: [DONE]\n\n".into());
    sse(events)
}

/// Anthropic messages.
pub fn anthropic(body: &Value) -> Response {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let tool_result = last["content"].as_array().and_then(|blocks| {
        blocks
            .iter()
            .find(|b| b["type"] == "tool_result")
            .map(|b| text_of(&b["content"]))
    });
    // The newest user message naming a file is the task at hand.
    let user_text = messages
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .find(|t| txt_path(t).is_some())
        .unwrap_or_default();
    let tools: Vec<String> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    let turn = decide(tool_result, &user_text, &tools);
    let (block, stop) = match &turn {
        Turn::Say(text) => (json!({"type": "text", "text": text}), "end_turn"),
        Turn::Call { name, input } => (
            json!({"type": "tool_use", "id": "toolu_agent", "name": name, "input": input}),
            "tool_use",
        ),
    };
    if !body["stream"].as_bool().unwrap_or(false) {
        return axum::Json(
            json!({"id": "msg_agent", "type": "message", "role": "assistant", "model": "agent",
            "content": [block], "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": 100, "output_tokens": 10}}),
        )
        .into_response();
    }
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let (start, delta) = match turn {
        Turn::Say(text) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": text}),
        ),
        Turn::Call { name, input } => (
            json!({"type": "tool_use", "id": "toolu_agent", "name": name, "input": {}}),
            json!({"type": "input_json_delta", "partial_json": input.to_string()}),
        ),
    };
    sse(vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_agent", "type": "message", "role": "assistant",
            "model": "agent", "content": [], "usage": {"input_tokens": 100, "output_tokens": 1}}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": start}),
        ),
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 10}}),
        ),
        ev("message_stop", json!({"type": "message_stop"})),
    ])
}
