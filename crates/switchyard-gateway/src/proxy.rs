//! The model endpoints (`/v1/chat/completions`, `/v1/messages`): authenticate, read
//! just enough of the body, resolve `<provider>/<model>`, pass the request through to
//! the provider and its answer (or stream) back, and record the request.

use crate::auth::{hash_key, presented_key};
use crate::errors::{ApiError, Dialect, ErrorKind};
use crate::json_body::JsonObject;
use crate::metadata::{BodyMetadata, RequestMeta, BODY_METADATA_FIELDS};
use crate::providers::WireFormat;
use crate::recorder::PendingRecord;
use crate::snapshot::{KeyStatus, Provider, Snapshot};
use crate::state::AppState;
use crate::stream::{ProxyStream, StreamObserver};
use crate::usage::{AnthropicResponseUsage, OpenAiResponseUsage};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body accepted, in bytes (32 MiB: long agent sessions with images
/// run to a few MiB; anything near this limit is a mistake).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// How much of an upstream error body is read to build the client's error message.
const MAX_ERROR_BODY_BYTES: usize = 1024 * 1024;
/// Sent to Anthropic when the client names no API version.
const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// Request headers passed on to the provider as they are; everything else (the
/// gateway key, metadata headers, cookies) stays here.
const FORWARDED_REQUEST_HEADERS: [&str; 3] = ["anthropic-beta", "openai-beta", "accept"];
/// Response headers passed back to the client.
const FORWARDED_RESPONSE_HEADERS: [&str; 6] = [
    "retry-after",
    "x-request-id",
    "request-id",
    "openai-processing-ms",
    "anthropic-organization-id",
    "cache-control",
];
const FORWARDED_RESPONSE_PREFIXES: [&str; 2] = ["x-ratelimit-", "anthropic-ratelimit-"];

pub async fn openai_chat(State(app): State<Arc<AppState>>, request: Request) -> Response {
    proxy(app, WireFormat::OpenAiChat, request).await
}

pub async fn anthropic_messages(State(app): State<Arc<AppState>>, request: Request) -> Response {
    proxy(app, WireFormat::AnthropicMessages, request).await
}

pub fn dialect_of(api: WireFormat) -> Dialect {
    match api {
        WireFormat::OpenAiChat => Dialect::OpenAi,
        WireFormat::AnthropicMessages => Dialect::Anthropic,
    }
}

/// A request ready to leave for its provider.
struct Outbound {
    provider: Arc<Provider>,
    url: String,
    body: Vec<u8>,
    stream: bool,
    client_wants_usage: bool,
    anthropic_version: Option<HeaderValue>,
    forwarded: Vec<(HeaderName, HeaderValue)>,
}

async fn proxy(app: Arc<AppState>, api: WireFormat, request: Request) -> Response {
    let started = Instant::now();
    let dialect = dialect_of(api);
    let mut record = PendingRecord::new(app.log.clone(), api, started);
    let (parts, body) = request.into_parts();
    let snapshot = app.snapshot();
    let outbound = match prepare(&snapshot, api, &parts, body, &mut record).await {
        Ok(outbound) => outbound,
        Err(error) => {
            let response = error.render(dialect);
            record.fail(&error);
            return response;
        }
    };
    send(&app, outbound, record, dialect).await
}

async fn prepare(
    snapshot: &Snapshot,
    api: WireFormat,
    parts: &axum::http::request::Parts,
    body: Body,
    record: &mut PendingRecord,
) -> Result<Outbound, ApiError> {
    let headers = &parts.headers;
    *record.meta_mut() = RequestMeta::from_headers(headers);

    let presented = presented_key(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "Missing gateway key: send it as `Authorization: Bearer sy-...` or `x-api-key: sy-...`. \
             Create one with `switchyard key create NAME`.",
        )
    })?;
    let key = snapshot
        .keys
        .get(&hash_key(presented))
        .ok_or_else(|| ApiError::unauthorized("Invalid or revoked gateway key."))?;
    record.set_key(key.id);

    check_content_type(headers)?;
    let bytes = read_body(body).await?;
    let mut object = JsonObject::parse(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;

    let model: String = match object.get::<String>("model") {
        Some(Ok(m)) if !m.trim().is_empty() => m,
        Some(Err(_)) => return Err(ApiError::bad_request("`model` must be a string.")),
        _ => {
            return Err(ApiError::bad_request(
                "Missing `model`: name one as <provider>/<model>, for example openai/gpt-4.1.",
            ))
        }
    };
    let stream = match object.get::<bool>("stream") {
        None => false,
        Some(Ok(s)) => s,
        Some(Err(_)) => return Err(ApiError::bad_request("`stream` must be true or false.")),
    };
    record.set_requested_model(&model, stream);

    for field in BODY_METADATA_FIELDS {
        if let Some(raw) = object.remove(field) {
            let parsed: BodyMetadata = serde_json::from_str(&raw).map_err(|e| {
                ApiError::bad_request(format!(
                    "`{field}` must be an object with tags, user_id, trace_id, session_id and extra: {e}"
                ))
            })?;
            record.meta_mut().merge_body(parsed);
        }
    }

    let (provider, upstream_model) = resolve_model(snapshot, &model)?;
    record.set_route(
        &provider.name,
        upstream_model,
        snapshot.price_for(&provider, upstream_model),
    );
    let provider_format = provider.kind.wire_format();
    if provider_format != api {
        return Err(ApiError::bad_request(format!(
            "Model '{model}' is served by provider '{}', which speaks {}; translating {} requests to it \
             is not supported yet. Call {} for this model, or pick a model on a provider that speaks {}.",
            provider.name,
            provider_format.display_name(),
            api.display_name(),
            endpoint_path(provider_format),
            api.display_name(),
        ))
        .with_code("translation_unsupported"));
    }
    if let KeyStatus::Missing(why) = &provider.key_status {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Internal,
            format!("Provider '{}' has no usable API key: {why}", provider.name),
        )
        .with_code("provider_key_missing"));
    }

    object.set_string("model", upstream_model);
    let mut client_wants_usage = false;
    if stream && api == WireFormat::OpenAiChat {
        client_wants_usage = request_include_usage(&mut object)?;
    }

    let url = match provider_format {
        WireFormat::OpenAiChat => format!("{}/chat/completions", provider.base_url),
        WireFormat::AnthropicMessages => match parts.uri.query() {
            Some(q) => format!("{}/v1/messages?{q}", provider.base_url),
            None => format!("{}/v1/messages", provider.base_url),
        },
    };
    let forwarded = FORWARDED_REQUEST_HEADERS
        .iter()
        .filter_map(|name| {
            headers
                .get(*name)
                .map(|v| (HeaderName::from_static(name), v.clone()))
        })
        .collect();
    Ok(Outbound {
        url,
        body: object.to_bytes(),
        stream,
        client_wants_usage,
        anthropic_version: headers.get("anthropic-version").cloned(),
        forwarded,
        provider,
    })
}

fn endpoint_path(format: WireFormat) -> &'static str {
    match format {
        WireFormat::OpenAiChat => "/v1/chat/completions",
        WireFormat::AnthropicMessages => "/v1/messages",
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::UnsupportedMediaType,
            format!(
                "Content-Type must be application/json (got '{}').",
                if content_type.is_empty() {
                    "none"
                } else {
                    content_type
                }
            ),
        ))
    }
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorKind::TooLarge,
                    format!(
                        "Request body is larger than the gateway's limit of {} MiB.",
                        MAX_BODY_BYTES / (1024 * 1024)
                    ),
                )
            } else {
                ApiError::bad_request(format!("Could not read the request body: {e}"))
            }
        })
}

/// Splits `<provider>/<model>` and finds the provider.
fn resolve_model<'m>(
    snapshot: &Snapshot,
    model: &'m str,
) -> Result<(Arc<Provider>, &'m str), ApiError> {
    let configured = || {
        let mut names: Vec<&str> = snapshot.providers.keys().map(String::as_str).collect();
        names.sort_unstable();
        if names.is_empty() {
            "none yet; add providers with `switchyard apply FILE`".to_string()
        } else {
            names.join(", ")
        }
    };
    let not_found = |why: String| ApiError::not_found(why).with_code("model_not_found");
    if let Some(policy) = model.strip_prefix("policy/") {
        return Err(not_found(format!(
            "Model '{model}' is not available: no routing policy named '{policy}' is configured."
        )));
    }
    let Some((provider_name, upstream_model)) = model.split_once('/') else {
        return Err(not_found(format!(
            "Model '{model}' is not available: name models <provider>/<model>, for example \
             openai/gpt-4.1. Configured providers: {}.",
            configured()
        )));
    };
    let provider = snapshot.providers.get(provider_name).ok_or_else(|| {
        not_found(format!(
            "Model '{model}' is not available: no provider named '{provider_name}' is configured. \
             Configured providers: {}.",
            configured()
        ))
    })?;
    if upstream_model.is_empty() {
        return Err(not_found(format!(
            "Model '{model}' names no model after the provider '{provider_name}/'."
        )));
    }
    Ok((provider.clone(), upstream_model))
}

/// Makes an OpenAI-style stream end with a usage chunk, which is the only way such
/// providers report usage in a stream. Returns whether the client asked for it itself,
/// so the gateway can drop the chunk if it did not.
fn request_include_usage(object: &mut JsonObject<'_>) -> Result<bool, ApiError> {
    let mut options = match object
        .get::<serde_json::Map<String, serde_json::Value>>("stream_options")
    {
        None => serde_json::Map::new(),
        Some(Ok(map)) => map,
        Some(Err(_)) => return Err(ApiError::bad_request("`stream_options` must be an object.")),
    };
    let wanted = options.get("include_usage") == Some(&serde_json::Value::Bool(true));
    options.insert("include_usage".into(), serde_json::Value::Bool(true));
    object.set_raw(
        "stream_options",
        serde_json::Value::Object(options).to_string(),
    );
    Ok(wanted)
}

async fn send(
    app: &AppState,
    outbound: Outbound,
    mut record: PendingRecord,
    dialect: Dialect,
) -> Response {
    let provider = outbound.provider.clone();
    let format = provider.kind.wire_format();
    let mut request = app
        .http
        .post(&outbound.url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(outbound.body);
    for (name, value) in outbound.forwarded {
        request = request.header(name, value);
    }
    match format {
        WireFormat::OpenAiChat => {
            if let Some(key) = &provider.api_key {
                request = request.bearer_auth(key.expose());
            }
        }
        WireFormat::AnthropicMessages => {
            if let Some(key) = &provider.api_key {
                request = request.header("x-api-key", key.expose());
            }
            let version = outbound
                .anthropic_version
                .unwrap_or(HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
            request = request.header("anthropic-version", version);
        }
    }

    record.mark_dispatched();
    let upstream = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let error = send_error(&provider, &e);
            let response = error.render(dialect);
            record.fail(&error);
            return response;
        }
    };
    let status = upstream.status();
    let mut response_headers = HeaderMap::new();
    copy_response_headers(upstream.headers(), &mut response_headers);
    response_headers.insert("x-switchyard-provider", header_value(&provider.name));
    if let Some(model) = outbound_model(&record) {
        response_headers.insert("x-switchyard-model", header_value(&model));
    }
    response_headers.insert("x-switchyard-request-id", header_value(record.request_id()));

    if !status.is_success() {
        let body = read_limited(upstream, MAX_ERROR_BODY_BYTES).await;
        record.mark_upstream_done();
        let error = upstream_error(&provider, status, body, format == dialect_format(dialect));
        let mut response = error.render(dialect);
        response.headers_mut().extend(response_headers);
        record.fail(&error);
        return response;
    }

    let content_type = upstream
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    response_headers.insert(header::CONTENT_TYPE, content_type);

    if outbound.stream {
        let observer = match format {
            WireFormat::OpenAiChat => StreamObserver::openai(outbound.client_wants_usage),
            WireFormat::AnthropicMessages => StreamObserver::anthropic(),
        };
        let stream = ProxyStream::new(
            Box::pin(upstream.bytes_stream()),
            observer,
            record,
            dialect,
            provider.name.clone(),
            status.as_u16(),
        );
        let mut response = Response::new(Body::from_stream(stream));
        *response.status_mut() = status;
        response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        *response.headers_mut() = response_headers;
        return response;
    }

    let body = match upstream.bytes().await {
        Ok(b) => b,
        Err(e) => {
            let error = ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorKind::Upstream,
                format!(
                    "Lost the connection to provider '{}' while reading its answer: {e}",
                    provider.name
                ),
            );
            let response = error.render(dialect);
            record.fail(&error);
            return response;
        }
    };
    record.mark_upstream_done();
    let tokens = match format {
        WireFormat::OpenAiChat => serde_json::from_slice::<OpenAiResponseUsage>(&body)
            .ok()
            .and_then(|r| r.usage)
            .map(|u| u.to_counts()),
        WireFormat::AnthropicMessages => serde_json::from_slice::<AnthropicResponseUsage>(&body)
            .ok()
            .and_then(|r| r.usage)
            .map(|u| u.to_counts()),
    };
    if let Some(tokens) = tokens {
        record.set_tokens(tokens);
    }
    record.mark_first_byte();
    record.finish(status.as_u16());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    response
}

fn dialect_format(dialect: Dialect) -> WireFormat {
    match dialect {
        Dialect::OpenAi => WireFormat::OpenAiChat,
        Dialect::Anthropic => WireFormat::AnthropicMessages,
    }
}

fn outbound_model(record: &PendingRecord) -> Option<String> {
    record.upstream_model().map(str::to_string)
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("invalid"))
}

fn copy_response_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        let n = name.as_str();
        if FORWARDED_RESPONSE_HEADERS.contains(&n)
            || FORWARDED_RESPONSE_PREFIXES.iter().any(|p| n.starts_with(p))
        {
            to.append(name.clone(), value.clone());
        }
    }
}

fn send_error(provider: &Provider, e: &reqwest::Error) -> ApiError {
    // The innermost cause says what actually happened (refused, DNS, TLS, ...).
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_timeout() {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Timeout,
            format!("Provider '{}' did not answer in time.", provider.name),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorKind::Upstream,
            format!(
                "Could not reach provider '{}' at {}: {cause}",
                provider.name, provider.base_url
            ),
        )
    }
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
        error.upstream_body = Some(body);
    }
    error
}
