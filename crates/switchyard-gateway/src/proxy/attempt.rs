//! One try of a request at one provider: build the upstream request, send it, and
//! sort the outcome into a success (a complete answer, or a stream whose first chunk
//! has arrived) or a failure that says whether retrying could help.

use super::Inbound;
use crate::errors::{ApiError, ErrorKind};
use crate::providers::WireFormat;
use crate::routing::retry::{is_retryable_status, retry_after};
use crate::routing::Attempt;
use crate::snapshot::{KeyStatus, Provider};
use crate::state::AppState;
use crate::stream::UpstreamStream;
use crate::usage::{AnthropicResponseUsage, OpenAiResponseUsage, ResponsesResponseUsage};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use switchyard_store::TokenCounts;

/// How much of an upstream error body is read to build the client's error message.
const MAX_ERROR_BODY_BYTES: usize = 1024 * 1024;
/// Sent to Anthropic when the client names no API version.
pub(crate) const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
/// Request headers passed on to the provider as they are; everything else (the
/// gateway key, metadata headers, cookies) stays here.
const FORWARDED_REQUEST_HEADERS: [&str; 3] = ["anthropic-beta", "openai-beta", "accept"];

pub enum Success {
    Complete {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        tokens: Option<TokenCounts>,
    },
    /// A stream whose first chunk has already arrived (and is at its front).
    Stream {
        status: StatusCode,
        headers: HeaderMap,
        stream: UpstreamStream,
    },
}

pub struct Failure {
    pub error: ApiError,
    /// Whether another try (of this step, then of the next) could succeed.
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: ApiError) -> Failure {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    fn retryable(error: ApiError) -> Failure {
        Failure {
            error,
            retryable: true,
            retry_after: None,
        }
    }
}

/// The provider URL for one request in `format`: a copy of the URL parsed with the
/// configuration, except for Gemini (the model is in the path) and Anthropic requests
/// carrying a query string.
fn upstream_url(
    provider: &Provider,
    format: WireFormat,
    model: &str,
    inbound: &Inbound<'_>,
) -> Result<reqwest::Url, Failure> {
    let base = &provider.base_url;
    let endpoints = &provider.endpoints;
    let parsed = match format {
        WireFormat::OpenAiChat => endpoints.chat.clone(),
        WireFormat::OpenAiResponses => endpoints.responses.clone(),
        WireFormat::OpenAiEmbeddings => endpoints.embeddings.clone(),
        WireFormat::AnthropicMessages => endpoints.messages.clone().map(|mut url| {
            url.set_query(inbound.query);
            url
        }),
        WireFormat::Gemini => {
            let method = if inbound.stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            reqwest::Url::parse(&format!("{base}/models/{model}:{method}")).ok()
        }
    };
    parsed.ok_or_else(|| {
        Failure::fatal(ApiError::internal(format!(
            "Provider '{}' has a base_url that is not a valid URL: {base}",
            provider.name
        )))
    })
}

/// Sends `body` (already carrying the attempt's model id) to the attempt's provider.
pub async fn send(
    app: &AppState,
    inbound: &Inbound<'_>,
    attempt: &Attempt,
    body: Bytes,
) -> Result<Success, Failure> {
    let provider = &attempt.provider;
    let format = provider.kind.format_for(inbound.api);
    let credential = provider
        .credential(attempt.credential.as_deref())
        .ok_or_else(|| {
            Failure::fatal(ApiError::internal(format!(
                "Provider '{}' has no credential named '{}'.",
                provider.name,
                attempt.credential.as_deref().unwrap_or_default()
            )))
        })?;
    if let KeyStatus::Missing(why) = &credential.status {
        return Err(Failure::fatal(
            ApiError::internal(format!(
                "Provider '{}' has no usable API key: {why}",
                provider.name
            ))
            .with_code("provider_key_missing"),
        ));
    }

    let url = upstream_url(provider, format, &attempt.model, inbound)?;
    let mut request = app
        .http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    for name in FORWARDED_REQUEST_HEADERS {
        if let Some(value) = inbound.headers.get(name) {
            request = request.header(name, value.clone());
        }
    }
    match format {
        WireFormat::OpenAiChat | WireFormat::OpenAiResponses | WireFormat::OpenAiEmbeddings => {
            if let Some(key) = &credential.secret {
                request = request.bearer_auth(key.expose());
            }
        }
        WireFormat::Gemini => {
            if let Some(key) = &credential.secret {
                request = request.header("x-goog-api-key", key.expose());
            }
        }
        WireFormat::AnthropicMessages => {
            if let Some(key) = &credential.secret {
                request = request.header("x-api-key", key.expose());
            }
            let version = inbound
                .headers
                .get("anthropic-version")
                .cloned()
                .unwrap_or(HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
            request = request.header("anthropic-version", version);
        }
    }

    let deadline = Instant::now() + provider.timeout;
    let mut response = match tokio::time::timeout(provider.timeout, request.send()).await {
        Err(_) => return Err(Failure::retryable(timeout_error(provider))),
        Ok(Err(e)) => return Err(Failure::retryable(send_error(provider, &e))),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    // Taken, not copied: the body is all that is read from the response afterwards.
    let headers = std::mem::take(response.headers_mut());
    if !status.is_success() {
        let body = read_limited(response, MAX_ERROR_BODY_BYTES).await;
        let mut error = upstream_error(provider, status, body, format == inbound.api);
        error.upstream.get_or_insert_default().headers = super::forwardable_headers(&headers);
        return Err(Failure {
            error,
            retryable: is_retryable_status(status),
            retry_after: retry_after(&headers),
        });
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    if inbound.stream {
        let mut stream: UpstreamStream = Box::pin(response.bytes_stream());
        // Wait for the first chunk before committing the response, so that a provider
        // that fails right away can still be retried or fallen back from.
        let first = match tokio::time::timeout(remaining, stream.next()).await {
            Err(_) => return Err(Failure::retryable(timeout_error(provider))),
            Ok(None) => {
                return Err(Failure::retryable(lost_connection(
                    provider,
                    "the stream ended before any data",
                )))
            }
            Ok(Some(Err(e))) => {
                return Err(Failure::retryable(lost_connection(
                    provider,
                    &e.to_string(),
                )))
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        if first.starts_with(b"event: error") {
            let message = String::from_utf8_lossy(&first).into_owned();
            return Err(Failure::retryable(ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorKind::Upstream,
                format!(
                    "Provider '{}' failed at the start of its stream: {}",
                    provider.name,
                    message.trim()
                ),
            )));
        }
        let stream = futures_util::stream::once(async move { Ok(first) }).chain(stream);
        return Ok(Success::Stream {
            status,
            headers,
            stream: Box::pin(stream),
        });
    }
    let body = match tokio::time::timeout(remaining, response.bytes()).await {
        Err(_) => return Err(Failure::retryable(timeout_error(provider))),
        Ok(Err(e)) => {
            return Err(Failure::retryable(lost_connection(
                provider,
                &e.to_string(),
            )))
        }
        Ok(Ok(b)) => b,
    };
    let tokens = match format {
        WireFormat::OpenAiChat | WireFormat::OpenAiEmbeddings => {
            serde_json::from_slice::<OpenAiResponseUsage>(&body)
                .ok()
                .and_then(|r| r.usage)
                .map(|u| u.to_counts())
        }
        WireFormat::AnthropicMessages => serde_json::from_slice::<AnthropicResponseUsage>(&body)
            .ok()
            .and_then(|r| r.usage)
            .map(|u| u.to_counts()),
        WireFormat::OpenAiResponses => serde_json::from_slice::<ResponsesResponseUsage>(&body)
            .ok()
            .and_then(|r| r.usage)
            .map(|u| u.to_counts()),
        // Gemini answers are always translated; their usage comes from the translation.
        WireFormat::Gemini => None,
    };
    Ok(Success::Complete {
        status,
        headers,
        body,
        tokens,
    })
}

fn timeout_error(provider: &Provider) -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Timeout,
        format!(
            "Provider '{}' did not answer within {} s.",
            provider.name,
            provider.timeout.as_secs()
        ),
    )
}

fn lost_connection(provider: &Provider, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        ErrorKind::Upstream,
        format!(
            "Lost the connection to provider '{}' while reading its answer: {why}",
            provider.name
        ),
    )
}

fn send_error(provider: &Provider, e: &reqwest::Error) -> ApiError {
    // The innermost cause says what actually happened (refused, reset, TLS, ...).
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_timeout() {
        return timeout_error(provider);
    }
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        ErrorKind::Upstream,
        format!(
            "Could not reach provider '{}' at {}: {cause}",
            provider.name, provider.base_url
        ),
    )
}

async fn read_limited(response: reqwest::Response, limit: usize) -> Bytes {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Bytes::from(body)
}

/// An upstream failure for the client: same status, the provider's message, in the
/// client's dialect (the provider's own body when it already speaks that dialect).
fn upstream_error(
    provider: &Provider,
    status: StatusCode,
    body: Bytes,
    same_format: bool,
) -> ApiError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: ErrorDetail,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum ErrorDetail {
        Object { message: Option<String> },
        Text(String),
    }
    let parsed = serde_json::from_slice::<ErrorBody>(&body).ok();
    let detail = match &parsed {
        Some(ErrorBody {
            error: ErrorDetail::Object { message: Some(m) },
        }) => m.clone(),
        Some(ErrorBody {
            error: ErrorDetail::Text(t),
        }) => t.clone(),
        _ => {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text.chars().take(500).collect()
            }
        }
    };
    let mut error = ApiError::new(
        status,
        ErrorKind::from_status(status),
        format!(
            "Provider '{}' returned HTTP {}: {detail}",
            provider.name,
            status.as_u16()
        ),
    );
    if same_format && parsed.is_some() {
        error.upstream.get_or_insert_default().body = Some(body);
    }
    error
}
