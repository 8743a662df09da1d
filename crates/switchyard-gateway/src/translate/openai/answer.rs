//! A complete OpenAI chat answer read straight from its bytes into the pivot, without
//! a `Value` tree in between. Scalars are forgiving (a field of the wrong type reads as
//! absent); an answer whose containers have the wrong shape is refused with the reason.

use super::super::lenient::Lenient;
use super::super::*;
use super::parse_stop;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireAnswer<'a> {
    id: Lenient<String>,
    model: Lenient<String>,
    choices: Option<Vec<WireChoice>>,
    /// Kept as text and read on its own, so that a malformed usage costs the usage,
    /// not the answer; a `Value` tree of it cost more than the rest of the answer.
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireChoice {
    message: Option<WireMessage>,
    finish_reason: Lenient<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireMessage {
    content: Lenient<String>,
    /// DeepSeek's name for the reasoning text.
    reasoning_content: Lenient<String>,
    /// OpenRouter's and others'.
    reasoning: Lenient<String>,
    refusal: Lenient<String>,
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireToolCall {
    id: Lenient<String>,
    function: Option<WireFunction>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireFunction {
    name: Lenient<String>,
    arguments: Lenient<String>,
}

/// An OpenAI chat answer as the pivot; tool names are mapped back to the client's.
pub fn parse_response(body: &[u8], names: &ToolNames) -> Result<Response, ApiError> {
    let answer: WireAnswer = crate::json_body::parse_json(body).map_err(|e| {
        invalid(format!(
            "the provider's answer is not a chat completion: {e}"
        ))
    })?;
    let choice = answer
        .choices
        .and_then(|choices| choices.into_iter().next())
        .ok_or_else(|| invalid("the provider's answer has no choices"))?;
    let message = choice.message.unwrap_or_default();
    let mut content = Vec::new();
    if let Some(reasoning) = message
        .reasoning_content
        .0
        .filter(|r| !r.is_empty())
        .or(message.reasoning.0.filter(|r| !r.is_empty()))
    {
        content.push(Block::Thinking {
            text: reasoning,
            signature: None,
        });
    }
    if let Some(text) = message.content.0.filter(|t| !t.is_empty()) {
        content.push(Block::Text { text, cache: None });
    }
    let refused = message.refusal.0.is_some();
    if let Some(refusal) = message.refusal.0 {
        content.push(Block::Text {
            text: refusal,
            cache: None,
        });
    }
    for call in message.tool_calls.into_iter().flatten() {
        let function = call.function.unwrap_or_default();
        let arguments = function.arguments.0.unwrap_or_default();
        content.push(Block::ToolUse {
            id: call.id.0.unwrap_or_default(),
            name: names.inbound(&function.name.0.unwrap_or_default()),
            input: RawJson::parse(arguments).unwrap_or_else(RawJson::empty_object),
            cache: None,
        });
    }
    let mut stop = parse_stop(choice.finish_reason.0.as_deref());
    if refused {
        stop = StopReason::Refusal;
    }
    let usage = answer
        .usage
        .and_then(|u| crate::usage::read_usage::<crate::usage::OpenAiUsage>(u.get().as_bytes()))
        .map(|u| u.to_counts())
        .unwrap_or_default();
    Ok(Response {
        id: answer.id.0.unwrap_or_else(|| "chatcmpl".to_string()),
        model: answer.model.0.unwrap_or_default(),
        content,
        stop,
        usage,
    })
}
