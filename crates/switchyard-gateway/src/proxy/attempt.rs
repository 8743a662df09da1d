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
use crate::upstream::{self, RequestBody, SendError, UpstreamBody};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::Duration;

/// How much of an upstream error body is read to build the client's error message.
const MAX_ERROR_BODY_BYTES: usize = 1024 * 1024;
/// Sent to Anthropic when the client names no API version.
const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
/// Request headers passed on to the provider as they are; everything else (the
/// gateway key, metadata headers, cookies) stays here.
/// Names built once, not parsed from text on every request.
static FORWARDED_REQUEST_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("anthropic-beta"),
    HeaderName::from_static("openai-beta"),
    header::ACCEPT,
];
static ANTHROPIC_VERSION: HeaderName = HeaderName::from_static("anthropic-version");
static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static X_GOOG_API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

pub enum Success {
    Complete {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    /// A stream whose first chunk has already arrived (and is at its front).
    Stream {
        status: StatusCode,
        headers: HeaderMap,
        stream: UpstreamBody,
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
) -> Result<Uri, Failure> {
    let base = &provider.base_url;
    let endpoints = &provider.endpoints;
    let parsed = match format {
        WireFormat::OpenAiChat => endpoints.chat.clone(),
        WireFormat::OpenAiResponses => endpoints.responses.clone(),
        WireFormat::OpenAiEmbeddings => endpoints.embeddings.clone(),
        WireFormat::AnthropicMessages => endpoints
            .messages
            .as_ref()
            .and_then(|uri| upstream::with_query(uri, inbound.query)),
        WireFormat::Gemini => {
            let method = if inbound.stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            upstream::parse_url(&format!("{base}/models/{model}:{method}"))
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
    body: RequestBody,
) -> Result<Success, Failure> {
    let provider = &attempt.provider;
    let format = provider.kind.format_for(inbound.api);
    let url = upstream_url(provider, format, &attempt.model, inbound)?;
    let mut request = Request::post(url)
        .body(body)
        .map_err(|e| Failure::fatal(ApiError::internal(format!("Bad upstream request: {e}"))))?;
    provider_headers(
        provider,
        attempt.credential.as_deref(),
        format,
        inbound.headers,
        request.headers_mut(),
    )
    .map_err(Failure::fatal)?;
    if let Some(host) = &provider.endpoints.host {
        // Otherwise the HTTP client formats it for every request.
        request.headers_mut().insert(header::HOST, host.clone());
    }

    // One deadline for the whole exchange (one timer per try): the answer's head,
    // then its whole body, or a stream's first chunk.
    let deadline = tokio::time::Instant::now() + provider.timeout;
    let exchanged =
        tokio::time::timeout_at(deadline, exchange(app, provider, inbound, request)).await;
    match exchanged {
        Err(_) => Err(Failure::retryable(timeout_error(provider))),
        Ok(Err(failure)) => Err(failure),
        Ok(Ok(Answer::Success(success))) => Ok(success),
        Ok(Ok(Answer::Refused {
            status,
            headers,
            body,
        })) => {
            // The status decides what happens next and the body only words the
            // message: a body that stalls past the deadline is cut, not turned into
            // a timeout (which would retry a 400).
            let body = body.read_limited(MAX_ERROR_BODY_BYTES, deadline).await;
            let mut error = upstream_error(provider, status, body, format == inbound.api);
            error.upstream.get_or_insert_default().headers =
                super::forwardable_headers(&headers, 0);
            Err(Failure {
                error,
                retryable: is_retryable_status(status),
                retry_after: retry_after(&headers),
            })
        }
    }
}

/// What an exchange ends with besides a failure.
enum Answer {
    Success(Success),
    /// An answer with an error status, its body not read yet.
    Refused {
        status: StatusCode,
        headers: HeaderMap,
        body: UpstreamBody,
    },
}

/// Sends the request and reads as much of the answer as a try needs to be judged.
async fn exchange(
    app: &AppState,
    provider: &Provider,
    inbound: &Inbound<'_>,
    request: Request<RequestBody>,
) -> Result<Answer, Failure> {
    let response = app
        .http
        .send(request)
        .await
        .map_err(|e| Failure::retryable(send_error(provider, &e)))?;
    // Taken apart, not copied: the body is all that is read afterwards.
    let (parts, mut response) = response.into_parts();
    let (status, headers) = (parts.status, parts.headers);
    if !status.is_success() {
        return Ok(Answer::Refused {
            status,
            headers,
            body: response,
        });
    }
    if inbound.stream {
        // Wait for the first chunk before committing the response, so that a provider
        // that fails right away can still be retried or fallen back from.
        let first = match response.next().await {
            None => {
                return Err(Failure::retryable(lost_connection(
                    provider,
                    "the stream ended before any data",
                )))
            }
            Some(Err(e)) => {
                return Err(Failure::retryable(lost_connection(
                    provider,
                    &e.to_string(),
                )))
            }
            Some(Ok(chunk)) => chunk,
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
        response.put_back(first);
        return Ok(Answer::Success(Success::Stream {
            status,
            headers,
            stream: response,
        }));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::retryable(lost_connection(provider, &e.to_string())))?;
    Ok(Answer::Success(Success::Complete {
        status,
        headers,
        body,
    }))
}

/// The headers of a request to `provider` in `format`: JSON content type, the
/// client's headers that providers read (betas, accept), the provider key in the
/// provider's header and, for Anthropic, the API version. Fails when the named
/// credential does not exist or its key could not be read, rather than sending the
/// request without one.
pub(crate) fn provider_headers(
    provider: &Provider,
    credential: Option<&str>,
    format: WireFormat,
    client_headers: &HeaderMap,
    out: &mut HeaderMap,
) -> Result<(), ApiError> {
    let credential = provider.credential(credential).ok_or_else(|| {
        ApiError::internal(format!(
            "Provider '{}' has no credential named '{}'.",
            provider.name,
            credential.unwrap_or_default()
        ))
    })?;
    if let KeyStatus::Missing(why) = &credential.status {
        return Err(ApiError::internal(format!(
            "Provider '{}' has no usable API key: {why}",
            provider.name
        ))
        .with_code("provider_key_missing"));
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for name in &FORWARDED_REQUEST_HEADERS {
        for value in client_headers.get_all(name) {
            out.append(name.clone(), value.clone());
        }
    }
    if let Some(key) = &credential.secret {
        let (name, value) = match format {
            WireFormat::OpenAiChat | WireFormat::OpenAiResponses | WireFormat::OpenAiEmbeddings => {
                (header::AUTHORIZATION, bearer(key.expose()))
            }
            WireFormat::Gemini => (X_GOOG_API_KEY.clone(), key.expose().to_string()),
            WireFormat::AnthropicMessages => (X_API_KEY.clone(), key.expose().to_string()),
        };
        out.insert(name, key_header(provider, value)?);
    }
    if format == WireFormat::AnthropicMessages {
        out.insert(ANTHROPIC_VERSION.clone(), anthropic_version(client_headers));
    }
    Ok(())
}

/// `Bearer <key>`, built by hand: `format!` cost several times as much, per request.
fn bearer(key: &str) -> String {
    let mut value = String::with_capacity("Bearer ".len() + key.len());
    value.push_str("Bearer ");
    value.push_str(key);
    value
}

/// A provider key as a header value, marked sensitive so that it never shows in
/// debug output.
fn key_header(provider: &Provider, value: String) -> Result<HeaderValue, ApiError> {
    let mut value = HeaderValue::try_from(value).map_err(|_| {
        ApiError::internal(format!(
            "Provider '{}' has an API key that cannot be sent in an HTTP header.",
            provider.name
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The `anthropic-version` the client sent, or the default.
fn anthropic_version(client_headers: &HeaderMap) -> HeaderValue {
    client_headers
        .get(&ANTHROPIC_VERSION)
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION))
}

pub(crate) fn timeout_error(provider: &Provider) -> ApiError {
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

pub(crate) fn lost_connection(provider: &Provider, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        ErrorKind::Upstream,
        format!(
            "Lost the connection to provider '{}' while reading its answer: {why}",
            provider.name
        ),
    )
}

pub(crate) fn send_error(provider: &Provider, e: &SendError) -> ApiError {
    // A timeout here is the connection's (TCP or TLS), not the provider's answer.
    let (status, kind) = if e.is_timeout() {
        (StatusCode::GATEWAY_TIMEOUT, ErrorKind::Timeout)
    } else {
        (StatusCode::BAD_GATEWAY, ErrorKind::Upstream)
    };
    // The innermost cause says what actually happened (refused, reset, TLS, ...).
    ApiError::new(
        status,
        kind,
        format!(
            "Could not reach provider '{}' at {}: {}",
            provider.name,
            provider.base_url,
            e.root_cause()
        ),
    )
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
