//! Converting whole requests, answers and streams between two formats: the one place
//! that knows which format module handles which side.

use super::*;
use crate::providers::WireFormat;

fn not_yet(what: &str, format: WireFormat) -> ApiError {
    invalid(format!(
        "{what} {} is not supported yet; choose a provider of another kind for this client",
        format.display_name()
    ))
    .with_code("translation_unsupported")
}

/// Parses a client's request body in its format.
pub fn parse_request(format: WireFormat, body: &[u8]) -> Result<Request, ApiError> {
    match format {
        WireFormat::AnthropicMessages => anthropic::parse_request_body(body),
        WireFormat::OpenAiChat => openai::parse_request_body(body),
        WireFormat::OpenAiResponses => responses::parse_request_body(body),
        WireFormat::OpenAiEmbeddings => Err(invalid(
            "embeddings are only available from OpenAI-compatible providers; choose a model of one",
        )
        .with_code("embeddings_unsupported")),
        WireFormat::Gemini => Err(not_yet("translating requests from", format)),
    }
}

/// The request in the provider's format, for `model`, as the body to send.
///
/// `size_hint` is the length of the client's body, which the provider's is close to:
/// the body is written into a buffer of about that size from the start, where growing
/// one by doubling to the hundreds of kilobytes of an agent's request copied it over
/// again three times.
pub fn render_request(
    format: WireFormat,
    request: &Request,
    model: &str,
    target: &Target,
    names: &ToolNames,
    size_hint: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(size_hint.saturating_add(size_hint / 8).max(1024));
    let written = match format {
        WireFormat::OpenAiChat => {
            openai::render_request(request, model, target, names).write_json(&mut out)
        }
        WireFormat::AnthropicMessages => {
            anthropic::render_request(request, model, target).write_json(&mut out)
        }
        WireFormat::Gemini => serde_json::to_writer(
            &mut out,
            &gemini::render_request(request, model, target, names),
        ),
        WireFormat::OpenAiResponses | WireFormat::OpenAiEmbeddings => {
            return Err(not_yet("translating requests to", format))
        }
    };
    written.map_err(|e| ApiError::internal(format!("could not write the request: {e}")))?;
    Ok(out)
}

/// A provider's complete answer, translated for the client.
#[derive(Debug)]
pub struct TranslatedAnswer {
    /// The answer in the client's format.
    pub body: Vec<u8>,
    pub usage: TokenCounts,
    /// The tools it calls, by the client's names, in order (for the request log).
    pub tool_calls: Vec<String>,
}

/// A provider's complete answer in the client's format, with its usage.
pub fn response(
    from: WireFormat,
    to: WireFormat,
    body: &[u8],
    names: &ToolNames,
    client_model: &str,
) -> Result<TranslatedAnswer, ApiError> {
    let value = || {
        crate::json_body::parse_json::<Value>(body)
            .map_err(|e| invalid(format!("the provider's answer is not valid JSON: {e}")))
    };
    let response = match from {
        WireFormat::OpenAiChat => openai::parse_response(body, names)?,
        WireFormat::AnthropicMessages => match anthropic::parse_response_bytes(body) {
            Some(response) => response?,
            None => anthropic::parse_response(value()?)?,
        },
        WireFormat::Gemini => gemini::parse_response_body(body, names)?,
        WireFormat::OpenAiResponses | WireFormat::OpenAiEmbeddings => {
            return Err(not_yet("translating answers from", from))
        }
    };
    let written = match to {
        WireFormat::OpenAiChat => serde_json::to_vec(&openai::render_response(
            &response,
            client_model,
            unix_now(),
        )),
        WireFormat::AnthropicMessages => {
            anthropic::render_response(&response, client_model).to_json()
        }
        WireFormat::OpenAiResponses => {
            responses::render_response(&response, client_model, unix_now()).to_json()
        }
        WireFormat::Gemini | WireFormat::OpenAiEmbeddings => {
            return Err(not_yet("translating answers to", to))
        }
    };
    let body = written
        .map_err(|e| ApiError::internal(format!("could not write the translated answer: {e}")))?;
    let tool_calls = response
        .content
        .iter()
        .filter_map(|b| match b {
            Block::ToolUse { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    Ok(TranslatedAnswer {
        body,
        usage: response.usage,
        tool_calls,
    })
}

/// The event handler that translates a provider's stream for the client.
pub fn stream(
    from: WireFormat,
    to: WireFormat,
    names: ToolNames,
    client_model: &str,
    client_wants_usage: bool,
) -> Result<stream::Translator, ApiError> {
    let parser: Box<dyn stream::Parser> = match from {
        WireFormat::OpenAiChat => Box::new(stream::OpenAiParser::new(names)),
        WireFormat::AnthropicMessages => Box::new(stream::AnthropicParser::default()),
        WireFormat::Gemini => Box::new(gemini::GeminiParser::new(names)),
        WireFormat::OpenAiResponses | WireFormat::OpenAiEmbeddings => {
            return Err(not_yet("translating streams from", from))
        }
    };
    let emitter: Box<dyn stream::Emitter> = match to {
        WireFormat::OpenAiChat => Box::new(stream::OpenAiEmitter::new(
            client_model,
            unix_now(),
            client_wants_usage,
        )),
        WireFormat::AnthropicMessages => Box::new(stream::AnthropicEmitter::new(client_model)),
        WireFormat::OpenAiResponses => {
            Box::new(responses::ResponsesEmitter::new(client_model, unix_now()))
        }
        WireFormat::Gemini | WireFormat::OpenAiEmbeddings => {
            return Err(not_yet("translating streams to", to))
        }
    };
    Ok(stream::Translator::new(parser, emitter))
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
