//! `POST /v1/messages/count_tokens` (Anthropic): exact from Anthropic itself, an
//! estimate for models of other providers.
//!
//! The estimate counts about 4 characters of text (system prompt, messages, tool calls
//! and results, tool definitions) per token, plus 1,600 tokens per image or document
//! page-sized attachment; providers tokenize differently, so treat it as a guide.

use crate::errors::{ApiError, Dialect};
use crate::providers::{ProviderKind, WireFormat};
use crate::proxy::{
    authenticate, lost_connection, provider_headers, read_json_body, send_error, timeout_error,
};
use crate::routing::{self, PlanInput};
use crate::state::AppState;
use crate::translate::{anthropic, Block, Request as Pivot};
use crate::upstream;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// Characters per token assumed by the estimate.
pub const CHARS_PER_TOKEN: usize = 4;
/// Tokens assumed per image or document.
pub const TOKENS_PER_ATTACHMENT: u64 = 1600;

pub async fn count_tokens(State(app): State<Arc<AppState>>, request: Request) -> Response {
    match count(&app, request).await {
        Ok(response) => response,
        Err(error) => error.render(Dialect::Anthropic),
    }
}

async fn count(app: &AppState, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let snapshot = app.snapshot();
    let key = authenticate(&snapshot, &parts.headers)?;
    let bytes = read_json_body(&parts.headers, body).await?;
    let mut value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    let model = value
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("Missing `model`."))?
        .to_string();
    let plan = routing::plan(
        &PlanInput {
            snapshot: &snapshot,
            health: &app.health,
            key,
            sticky_id: &model,
        },
        &model,
    )?;
    let Some(attempt) = plan.attempts.first() else {
        return Err(ApiError::not_found(format!(
            "Model '{model}' has no usable provider."
        )));
    };
    if attempt.provider.kind != ProviderKind::Anthropic {
        let pivot = anthropic::parse_request(value)?;
        return Ok(Json(json!({ "input_tokens": estimate(&pivot) })).into_response());
    }
    // Anthropic counts exactly.
    value["model"] = json!(attempt.model);
    let provider = &attempt.provider;
    let url = format!("{}/v1/messages/count_tokens", provider.base_url);
    let uri = upstream::parse_url(&url).ok_or_else(|| {
        ApiError::internal(format!(
            "Provider '{}' has a base_url that is not a valid URL: {}",
            provider.name, provider.base_url
        ))
    })?;
    let body = serde_json::to_vec(&value).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut upstream = axum::http::Request::post(uri)
        .body(bytes::Bytes::from(body))
        .map_err(|e| ApiError::internal(format!("Bad upstream request: {e}")))?;
    provider_headers(
        provider,
        attempt.credential.as_deref(),
        WireFormat::AnthropicMessages,
        &parts.headers,
        upstream.headers_mut(),
    )?;
    // The same errors as a model request to this provider would give.
    let exchange = async {
        let answer = app
            .http
            .send(upstream)
            .await
            .map_err(|e| send_error(provider, &e))?;
        let status = answer.status();
        let body = answer
            .into_body()
            .bytes()
            .await
            .map_err(|e| lost_connection(provider, &e.to_string()))?;
        Ok::<_, ApiError>((status, body))
    };
    let (status, body) = tokio::time::timeout(provider.timeout, exchange)
        .await
        .map_err(|_| timeout_error(provider))??;
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// About how many input tokens a request holds (see the module notes).
pub fn estimate(request: &Pivot) -> u64 {
    let mut chars = 0usize;
    let mut attachments = 0u64;
    let mut count = |blocks: &[Block]| {
        for b in blocks {
            match b {
                Block::Text { text, .. } | Block::Thinking { text, .. } => chars += text.len(),
                Block::ToolUse { name, input, .. } => chars += name.len() + input.json().len(),
                Block::ToolResult { content, .. } => {
                    for c in content {
                        match c {
                            Block::Text { text, .. } => chars += text.len(),
                            _ => attachments += 1,
                        }
                    }
                }
                Block::Image { .. } | Block::Document { .. } => attachments += 1,
                Block::RedactedThinking { data } => chars += data.len(),
            }
        }
    };
    count(&request.system);
    for m in &request.messages {
        count(&m.content);
    }
    for t in &request.tools {
        chars +=
            t.name.len() + t.description.as_deref().map_or(0, str::len) + t.schema.json().len();
    }
    let messages = request.messages.len() as u64;
    (chars.div_ceil(CHARS_PER_TOKEN)) as u64 + attachments * TOKENS_PER_ATTACHMENT + 3 * messages
}
