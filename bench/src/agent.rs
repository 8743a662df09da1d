//! Requests the size and shape of a coding agent's: a long system prompt with cache
//! markers, a dozen and a half tool definitions with JSON schemas, and thirty rounds of
//! tool calls whose results are source files — about 260 KB, as an agent sends after a
//! few minutes of work. The benchmark's 1 KB requests hide the cost of reading and
//! rewriting bodies; these show it.
//!
//! The same conversation is written in both dialects (Anthropic messages and OpenAI chat)
//! and is deterministic, so runs compare.

use serde_json::{json, Value};

/// Tool rounds in the conversation (each: a call and a ~4.5 KB file as its result).
const ROUNDS: usize = 30;
/// Tools offered to the model.
const TOOLS: usize = 16;

/// A source file of about 4.5 KB with quotes, tabs, backslashes and non-ASCII text,
/// the characters that make JSON strings expensive to read and write.
fn source_file(round: usize) -> String {
    let mut file = format!("//! Module {round}: parsing of the \"settings\" file.\n\n");
    for line in 0..60 {
        file.push_str(&format!(
            "\tlet field_{line} = map.get(\"key_{round}_{line}\").ok_or_else(|| Error::missing(\"key_{line}\", r\"C:\\path\\{line}\"))?; // größe {line}\n"
        ));
    }
    file
}

fn instructions(kb: usize) -> String {
    let paragraph = "When you change code, read the surrounding module first and keep its \
style. Prefer the smallest change that fixes the cause; run the tests that cover it and \
report what they printed. Never commit secrets; ask before deleting files. ";
    paragraph.repeat(kb * 1024 / paragraph.len() + 1)
}

fn tool(i: usize) -> (String, String, Value) {
    let name = format!("Tool{i}");
    let description = format!("Tool number {i}. {}", instructions(1));
    let schema = json!({
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "description": "The absolute path of the file"},
            "offset": {"type": "integer", "description": "The line to start at"},
            "limit": {"type": "integer", "description": "How many lines to read"},
            "pattern": {"type": "string", "description": "A regular expression"},
            "flags": {"type": "array", "items": {"type": "string", "enum": ["i", "m", "s"]}}
        },
        "required": ["file_path"],
        "additionalProperties": false,
        "$schema": "http://json-schema.org/draft-07/schema#"
    });
    (name, description, schema)
}

fn call_input(round: usize) -> Value {
    json!({"file_path": format!("/home/dev/project/src/module_{round}.rs"), "offset": 1, "limit": 2000})
}

/// An Anthropic messages request of about 260 KB.
pub fn anthropic_body(model: &str) -> String {
    let tools: Vec<Value> = (0..TOOLS)
        .map(|i| {
            let (name, description, schema) = tool(i);
            json!({"name": name, "description": description, "input_schema": schema})
        })
        .collect();
    let mut messages = vec![json!({"role": "user", "content": [
        {"type": "text", "text": format!("<system-reminder>{}</system-reminder>", instructions(2))},
        {"type": "text", "text": "Find why the settings parser rejects Windows paths and fix it."}
    ]})];
    for round in 0..ROUNDS {
        let id = format!("toolu_{round:04}");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": format!("I'll read module {round}.")},
            {"type": "tool_use", "id": id, "name": "Tool0", "input": call_input(round)}
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": source_file(round)}
        ]}));
    }
    json!({
        "model": model,
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "You are a coding agent working in the user's terminal."},
            {"type": "text", "text": instructions(12), "cache_control": {"type": "ephemeral"}}
        ],
        "tools": tools,
        "messages": messages,
        "metadata": {"user_id": "bench-user"},
        "stream": false,
    })
    .to_string()
}

/// The same conversation as an OpenAI chat completion request (about 260 KB).
pub fn openai_body(model: &str) -> String {
    let tools: Vec<Value> = (0..TOOLS)
        .map(|i| {
            let (name, description, schema) = tool(i);
            json!({"type": "function", "function": {"name": name, "description": description, "parameters": schema}})
        })
        .collect();
    let mut messages = vec![
        json!({"role": "system", "content": format!("You are a coding agent working in the user's terminal.\n\n{}", instructions(12))}),
        json!({"role": "user", "content": format!("<system-reminder>{}</system-reminder>\n\nFind why the settings parser rejects Windows paths and fix it.", instructions(2))}),
    ];
    for round in 0..ROUNDS {
        let id = format!("call_{round:04}");
        messages.push(json!({"role": "assistant", "content": format!("I'll read module {round}."), "tool_calls": [
            {"id": id, "type": "function", "function": {"name": "Tool0", "arguments": call_input(round).to_string()}}
        ]}));
        messages.push(json!({"role": "tool", "tool_call_id": id, "content": source_file(round)}));
    }
    json!({
        "model": model,
        "max_tokens": 32000,
        "tools": tools,
        "messages": messages,
        "stream": false,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_are_agent_sized_and_valid_json() {
        for body in [anthropic_body("m"), openai_body("m")] {
            assert!(
                (200_000..300_000).contains(&body.len()),
                "{} bytes",
                body.len()
            );
            let value: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(value["model"], "m");
        }
    }
}
