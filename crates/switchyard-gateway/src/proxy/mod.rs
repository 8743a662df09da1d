//! The model endpoints (`/v1/chat/completions`, `/v1/messages`): authenticate, read
//! just enough of the body, check approval and spend limits, plan the attempts
//! (a model, an alias or a routing policy), try them with retries and fallback until
//! one answers, pass its answer (or stream) back, and record the request.

mod attempt;

pub(crate) use attempt::{lost_connection, provider_headers, send_error, timeout_error};

use crate::auth::{find_key, presented_key};
use crate::errors::{ApiError, Dialect, ErrorKind};
use crate::json_body::JsonObject;
use crate::metadata::{BodyMetadata, RequestMeta, BODY_METADATA_FIELDS};
use crate::pricing::PriceCatalog;
use crate::providers::ProviderKind;
use crate::providers::WireFormat;
use crate::recorder::PendingRecord;
use crate::routing::retry::{backoff, random_unit};
use crate::routing::{self, Attempt, PlanInput};
use crate::snapshot::{ActiveKey, Snapshot};
use crate::state::AppState;
use crate::stream::{EventHandler, PassThrough, ProxyStream, StreamObserver};
use crate::translate::{self, convert, Target, ToolNames, INVALID_JSON};
use crate::upstream::RequestBody;
use attempt::{Failure, Success};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use switchyard_store::AttemptRecord;

/// Largest request body accepted, in bytes (32 MiB: long agent sessions with images
/// run to a few MiB; anything near this limit is a mistake).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

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

// Switchyard's own response headers, named once: a name given as a string is parsed
// again on every insert.
static PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-switchyard-provider");
static MODEL_HEADER: HeaderName = HeaderName::from_static("x-switchyard-model");
static ATTEMPTS_HEADER: HeaderName = HeaderName::from_static("x-switchyard-attempts");
static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-switchyard-request-id");
static OVERHEAD_HEADER: HeaderName = HeaderName::from_static("x-switchyard-overhead-ms");

/// The model endpoints and the wire format each speaks. The router serves them, and
/// [`crate::dispatch`] hands them to [`proxy`] without it.
pub const MODEL_ROUTES: [(&str, WireFormat); 4] = [
    ("/v1/chat/completions", WireFormat::OpenAiChat),
    ("/v1/messages", WireFormat::AnthropicMessages),
    ("/v1/responses", WireFormat::OpenAiResponses),
    ("/v1/embeddings", WireFormat::OpenAiEmbeddings),
];

pub fn dialect_of(api: WireFormat) -> Dialect {
    match api {
        WireFormat::AnthropicMessages => Dialect::Anthropic,
        WireFormat::OpenAiChat
        | WireFormat::OpenAiResponses
        | WireFormat::Gemini
        | WireFormat::OpenAiEmbeddings => Dialect::OpenAi,
    }
}

/// What every attempt needs to know about the client's request.
pub struct Inbound<'a> {
    pub api: WireFormat,
    /// The model as the client named it (echoed in translated answers).
    pub model: &'a str,
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    /// The body as the client sent it: parsed whole only when a request is translated
    /// (the pivot parsers ignore the gateway's own metadata objects).
    pub body: &'a Bytes,
    pub stream: bool,
    /// The client asked for the usage chunk of an OpenAI-style stream itself.
    pub client_wants_usage: bool,
}

/// Records the failure and answers it in the client's dialect.
fn fail(record: PendingRecord, error: ApiError, dialect: Dialect) -> Response {
    let response = error.render(dialect);
    record.fail(&error);
    response
}

pub async fn proxy(app: Arc<AppState>, api: WireFormat, request: Request) -> Response {
    let started = Instant::now();
    let dialect = dialect_of(api);
    let mut record = PendingRecord::new(app.log.clone(), app.spend.clone(), api, started);
    let (parts, body) = request.into_parts();
    let snapshot = app.snapshot();
    *record.meta_mut() = RequestMeta::from_headers(&parts.headers);

    let key = match authenticate(&snapshot, &parts.headers) {
        Ok(key) => key,
        Err(e) => return fail(record, e, dialect),
    };
    record.set_key(key.id);
    let bytes = match read_json_body(&parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(e) => return fail(record, e, dialect),
    };
    let mut object = match JsonObject::parse(&bytes) {
        Ok(o) => o,
        Err(e) => {
            let error = ApiError::bad_request(format!("Request body is not valid JSON: {e}"));
            return fail(record, error, dialect);
        }
    };
    let (model, stream) = match read_model_and_stream(&mut object) {
        Ok(v) => v,
        Err(e) => return fail(record, e, dialect),
    };
    record.set_requested_model(&model, stream);
    if let Err(e) = take_body_metadata(&mut object, &mut record) {
        return fail(record, e, dialect);
    }
    if let Err(e) = app.spend.check(key, &snapshot.config) {
        return fail(record, e, dialect);
    }

    let planned = routing::plan(
        &PlanInput {
            snapshot: &snapshot,
            health: &app.health,
            key,
            sticky_id: record.sticky_id(),
        },
        &model,
    );
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => return fail(record, e, dialect),
    };
    record.set_policy(plan.policy.clone());

    let mut client_wants_usage = false;
    if stream && api == WireFormat::OpenAiChat {
        match request_include_usage(&mut object) {
            Ok(wanted) => client_wants_usage = wanted,
            Err(e) => return fail(record, e, dialect),
        }
    }
    let inbound = Inbound {
        api,
        model: &model,
        headers: &parts.headers,
        query: parts.uri.query(),
        body: &bytes,
        stream,
        client_wants_usage,
    };
    execute(
        &app,
        &snapshot,
        &inbound,
        &plan.attempts,
        object,
        record,
        dialect,
    )
    .await
}

pub(crate) fn authenticate<'a>(
    snapshot: &'a Snapshot,
    headers: &HeaderMap,
) -> Result<&'a ActiveKey, ApiError> {
    let presented = presented_key(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "Missing gateway key: send it as `Authorization: Bearer sy-...` or `x-api-key: sy-...`. \
             Create one with `switchyard key create NAME`.",
        )
    })?;
    let key = find_key(&snapshot.keys, presented)
        .ok_or_else(|| ApiError::unauthorized("Invalid or revoked gateway key."))?;
    if let (Some(after), Some(date)) = (key.expires_after_ms, &key.expires) {
        if switchyard_store::now_ms() >= after {
            return Err(ApiError::unauthorized(format!(
                "Gateway key '{}' expired on {date}.",
                key.name
            )));
        }
    }
    Ok(key)
}

pub(crate) async fn read_json_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
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
        ));
    }
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

/// Reads `model` and `stream`, and leaves them so that every provider reads what the
/// gateway read: one occurrence of each (the last, which the gateway reads), and no
/// other spelling of them that a case-insensitive reader would take instead.
fn read_model_and_stream(object: &mut JsonObject<'_>) -> Result<(String, bool), ApiError> {
    for field in ["model", "stream"] {
        if let Some(variant) = object.case_variant_of(field) {
            return Err(ApiError::bad_request(format!(
                "`{variant}` repeats `{field}` in another case; send the field once, as `{field}`."
            )));
        }
        object.keep_last(field);
    }
    let model = match object.get::<String>("model") {
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
    Ok((model, stream))
}

/// Moves the `switchyard` (or `requesty`) object out of the body into the record.
fn take_body_metadata(
    object: &mut JsonObject<'_>,
    record: &mut PendingRecord,
) -> Result<(), ApiError> {
    for field in BODY_METADATA_FIELDS {
        if let Some(raw) = object.remove(field) {
            let parsed: BodyMetadata = crate::json_body::parse_json(&raw).map_err(|e| {
                ApiError::bad_request(format!(
                    "`{field}` must be an object with tags, user_id, trace_id, session_id and extra: {e}"
                ))
            })?;
            record.meta_mut().merge_body(parsed);
        }
    }
    Ok(())
}

/// Makes an OpenAI-style stream end with a usage chunk, which is the only way such
/// providers report usage in a stream. Returns whether the client asked for it itself,
/// so the gateway can drop the chunk if it did not.
fn request_include_usage(object: &mut JsonObject<'_>) -> Result<bool, ApiError> {
    let mut options = match object
        .get::<serde_json::Map<String, serde_json::Value>>("stream_options")
    {
        // Most clients send no options: written as text, not built as a map.
        None => {
            object.set_raw("stream_options", r#"{"include_usage":true}"#.to_string());
            return Ok(false);
        }
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

/// Tries the attempts in order, each with its retries, until one answers. Nothing is
/// retried once a byte has gone to the client: streams are committed only after their
/// first chunk arrived.
async fn execute(
    app: &AppState,
    snapshot: &Snapshot,
    inbound: &Inbound<'_>,
    attempts: &[Attempt],
    mut object: JsonObject<'_>,
    mut record: PendingRecord,
    dialect: Dialect,
) -> Response {
    let mut last_error = None;
    let mut tries = 0u32;
    // Parsed in full only when some attempt needs translating.
    let mut pivot: Option<translate::Request> = None;
    'steps: for attempt in attempts {
        let target = attempt.target();
        record.set_route(
            &attempt.provider.name,
            &attempt.model,
            snapshot.price_for(&attempt.provider, &attempt.model),
        );
        let outbound = match outbound_body(inbound, attempt, &mut object, &mut pivot) {
            Ok(o) => o,
            Err(error) => {
                record.add_attempt(attempt_record(attempt, error.status, Some(&error), 0.0));
                // A body no provider can read is not sent on to the next one.
                let unreadable = error.code == Some(INVALID_JSON);
                last_error = Some(error);
                if unreadable {
                    break 'steps;
                }
                continue 'steps;
            }
        };
        for retry in 0..=u32::from(attempt.retries) {
            tries += 1;
            record.mark_dispatched();
            let began = Instant::now();
            match attempt::send(app, inbound, attempt, outbound.body.clone()).await {
                Ok(success) => {
                    let answered = Instant::now();
                    let latency = answered.duration_since(began).as_secs_f64() * 1000.0;
                    app.health.record_success(&target, latency);
                    record.add_attempt(attempt_record(
                        attempt,
                        success_status(&success),
                        None,
                        latency,
                    ));
                    return respond(
                        success, attempt, &outbound, tries, answered, record, inbound, dialect,
                    )
                    .await;
                }
                Err(Failure {
                    error,
                    retryable,
                    retry_after,
                }) => {
                    let latency = began.elapsed().as_secs_f64() * 1000.0;
                    record.add_attempt(attempt_record(
                        attempt,
                        error.status,
                        Some(&error),
                        latency,
                    ));
                    tracing::debug!(target = %target, status = %error.status, retryable, "attempt failed");
                    last_error = Some(error);
                    if !retryable {
                        continue 'steps;
                    }
                    app.health.record_failure(&target);
                    if retry < u32::from(attempt.retries) {
                        tokio::time::sleep(backoff(retry, retry_after, random_unit())).await;
                    }
                }
            }
        }
    }
    let error = last_error.unwrap_or_else(|| ApiError::internal("No provider could be tried."));
    let mut response = error.render(dialect);
    response
        .headers_mut()
        .insert(ATTEMPTS_HEADER.clone(), attempts_value(tries));
    record.fail(&error);
    response
}

/// The body for one attempt: the client's own body with the attempt's model id when
/// the formats match, else the request translated into the provider's format.
struct Outbound {
    /// Shared by the retries rather than copied for each.
    body: RequestBody,
    /// Set when translated: tool names shortened for the provider.
    names: Option<ToolNames>,
}

fn outbound_body(
    inbound: &Inbound<'_>,
    attempt: &Attempt,
    object: &mut JsonObject<'_>,
    pivot: &mut Option<translate::Request>,
) -> Result<Outbound, ApiError> {
    let format = attempt.provider.kind.format_for(inbound.api);
    if format == inbound.api {
        object.set_string("model", &attempt.model);
        return Ok(Outbound {
            body: object.to_body(inbound.body),
            names: None,
        });
    }
    let request = match pivot {
        Some(r) => r,
        None => pivot.insert(convert::parse_request(inbound.api, inbound.body)?),
    };
    let target = translation_target(attempt);
    let names = match format {
        WireFormat::AnthropicMessages => ToolNames::default(),
        _ => ToolNames::for_tools(&request.tools, translate::MAX_TOOL_NAME),
    };
    let body = convert::render_request(
        format,
        request,
        &attempt.model,
        &target,
        &names,
        inbound.body.len(),
    )?;
    Ok(Outbound {
        body: RequestBody::from(body),
        names: Some(names),
    })
}

/// What the attempt's provider and model can take.
fn translation_target(attempt: &Attempt) -> Target {
    let kind = attempt.provider.kind;
    let max_output_tokens = kind
        .price_catalog()
        .and_then(|c| PriceCatalog::builtin().lookup(c, &attempt.model))
        .and_then(|p| p.max_output_tokens);
    Target {
        keeps_cache_control: kind == ProviderKind::Anthropic || attempt.model.contains("claude"),
        wants_reasoning_content: kind == ProviderKind::DeepSeek,
        uses_max_completion_tokens: kind == ProviderKind::OpenAi,
        max_output_tokens,
    }
}

fn success_status(success: &Success) -> StatusCode {
    match success {
        Success::Complete { status, .. } | Success::Stream { status, .. } => *status,
    }
}

fn attempt_record(
    attempt: &Attempt,
    status: StatusCode,
    error: Option<&ApiError>,
    latency_ms: f64,
) -> AttemptRecord {
    AttemptRecord {
        provider: attempt.provider.name.clone(),
        model: attempt.model.clone(),
        status: status.as_u16(),
        error_kind: error.map(|e| e.kind.log_name().to_string()),
        error_message: error.map(|e| e.message.clone()),
        latency_ms,
    }
}

/// The successful attempt's answer, passed back with Switchyard's own headers. A
/// stream's head waits for the events the provider already sent with its first, so
/// that they leave together (see [`ProxyStream::gather_first_frame`]).
#[allow(clippy::too_many_arguments)]
async fn respond(
    success: Success,
    attempt: &Attempt,
    outbound: &Outbound,
    tries: u32,
    answered: Instant,
    mut record: PendingRecord,
    inbound: &Inbound<'_>,
    dialect: Dialect,
) -> Response {
    let (status, upstream_headers) = match &success {
        Success::Complete {
            status, headers, ..
        }
        | Success::Stream {
            status, headers, ..
        } => (*status, headers),
    };
    // Room for the content type and Switchyard's own headers, added next.
    let mut headers = forwardable_headers(upstream_headers, 8);
    let content_type = upstream_headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        PROVIDER_HEADER.clone(),
        attempt.provider.name_header.clone(),
    );
    headers.insert(MODEL_HEADER.clone(), header_value(&attempt.model));
    headers.insert(ATTEMPTS_HEADER.clone(), attempts_value(tries));
    headers.insert(REQUEST_ID_HEADER.clone(), header_value(record.request_id()));
    let provider_format = attempt.provider.kind.format_for(inbound.api);
    // The gateway's own time ends once the answer is ready to go back: after a complete
    // answer is translated, before a stream's first event.
    let (mut response, overhead_ms) = match (success, &outbound.names) {
        (Success::Complete { body, .. }, None) => {
            record.mark_upstream_done();
            // Read here, not with the answer: a translated answer's usage comes from
            // its translation, which reads the whole answer anyway. Read once the
            // answer has gone back: the client waits for none of it.
            record.read_answer_later(provider_format, body.clone());
            let overhead_ms = record.mark_handed_back(answered);
            record.mark_first_byte();
            record.finish(status.as_u16());
            (Response::new(Body::from(body)), overhead_ms)
        }
        (Success::Complete { body, .. }, Some(names)) => {
            record.mark_upstream_done();
            let translated =
                convert::response(provider_format, inbound.api, &body, names, inbound.model);
            match translated {
                Ok(answer) => {
                    record.set_tokens(answer.usage);
                    record.set_tool_calls(answer.tool_calls);
                    let overhead_ms = record.mark_handed_back(answered);
                    record.mark_first_byte();
                    record.finish(status.as_u16());
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    (Response::new(Body::from(answer.body)), overhead_ms)
                }
                Err(mut error) => {
                    error.status = StatusCode::BAD_GATEWAY;
                    error.kind = ErrorKind::Upstream;
                    let response = error.render(dialect);
                    record.fail(&error);
                    return response;
                }
            }
        }
        (Success::Stream { stream, .. }, names) => {
            let handler: Box<dyn EventHandler> = match names {
                None => Box::new(PassThrough::new(StreamObserver::for_format(
                    provider_format,
                    inbound.client_wants_usage,
                ))),
                Some(names) => {
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/event-stream"),
                    );
                    match convert::stream(
                        provider_format,
                        inbound.api,
                        names.clone(),
                        inbound.model,
                        inbound.client_wants_usage,
                    ) {
                        Ok(translator) => Box::new(translator),
                        Err(error) => {
                            let response = error.render(dialect);
                            record.fail(&error);
                            return response;
                        }
                    }
                }
            };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            let overhead_ms = record.mark_handed_back(answered);
            let mut stream = ProxyStream::new(
                stream,
                handler,
                record,
                attempt.provider.name.clone(),
                status.as_u16(),
            );
            stream.gather_first_frame().await;
            (Response::new(Body::from_stream(stream)), overhead_ms)
        }
    };
    headers.insert(OVERHEAD_HEADER.clone(), milliseconds_value(overhead_ms));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The provider's response headers worth passing to the client, in a map with room
/// for `room` more (so that adding them never regrows it).
pub(crate) fn forwardable_headers(upstream: &HeaderMap, room: usize) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(upstream.keys_len() + room);
    for (name, value) in upstream {
        let n = name.as_str();
        if FORWARDED_RESPONSE_HEADERS.contains(&n)
            || FORWARDED_RESPONSE_PREFIXES.iter().any(|p| n.starts_with(p))
        {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("invalid"))
}

/// `x-switchyard-attempts`: almost always one of the first few counts, which need no
/// allocation as static values.
fn attempts_value(tries: u32) -> HeaderValue {
    static FEW: [HeaderValue; 4] = [
        HeaderValue::from_static("0"),
        HeaderValue::from_static("1"),
        HeaderValue::from_static("2"),
        HeaderValue::from_static("3"),
    ];
    match FEW.get(tries as usize) {
        Some(value) => value.clone(),
        None => HeaderValue::from(tries),
    }
}

/// Milliseconds with three decimals. Overheads are small non-negative numbers, written
/// here as whole microseconds with integer arithmetic: the float formatter cost about
/// a hundredth of the gateway's instructions per request. Anything else (never a real
/// overhead) goes through the formatter.
fn milliseconds_value(ms: f64) -> HeaderValue {
    let micros = (ms * 1000.0).round();
    if !(0.0..1e15).contains(&micros) {
        return header_value(&format!("{ms:.3}"));
    }
    // Whole microseconds, written from the last digit: at least four digits, so that
    // a point goes before the last three.
    let mut micros = micros as u64;
    let mut digits = [0u8; 24];
    let mut at = digits.len();
    for written in 0.. {
        if written == 3 {
            at -= 1;
            digits[at] = b'.';
        }
        at -= 1;
        digits[at] = b'0' + (micros % 10) as u8;
        micros /= 10;
        if micros == 0 && written >= 3 {
            break;
        }
    }
    HeaderValue::from_bytes(&digits[at..]).unwrap_or(HeaderValue::from_static("0.000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_header_counts_past_the_static_values() {
        for tries in [0u32, 1, 3, 4, 12, u32::MAX] {
            assert_eq!(attempts_value(tries), tries.to_string().as_str());
        }
    }

    #[test]
    fn milliseconds_header_has_three_decimals_at_any_size() {
        assert_eq!(milliseconds_value(0.0204), "0.020");
        assert_eq!(milliseconds_value(12.3456), "12.346");
        assert_eq!(milliseconds_value(0.0), "0.000");
        assert_eq!(milliseconds_value(0.9996), "1.000");
        assert_eq!(milliseconds_value(1234.5), "1234.500");
        assert_eq!(milliseconds_value(-0.25), "-0.250");
        assert_eq!(milliseconds_value(f64::NAN), "NaN");
        for micros in [
            1u64,
            7,
            10,
            99,
            100,
            999,
            1000,
            1001,
            123_456,
            98_765_432_101,
        ] {
            let ms = micros as f64 / 1000.0;
            assert_eq!(milliseconds_value(ms), format!("{ms:.3}").as_str(), "{ms}");
        }
        // Wider than the stack buffer: still the whole number.
        let huge = 1e40;
        assert_eq!(milliseconds_value(huge), format!("{huge:.3}").as_str());
    }

    #[test]
    fn forwarded_headers_leave_room_without_regrowing() {
        let mut upstream = HeaderMap::new();
        upstream.insert("x-request-id", HeaderValue::from_static("abc"));
        upstream.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("9"),
        );
        upstream.insert("set-cookie", HeaderValue::from_static("secret=1"));
        let headers = forwardable_headers(&upstream, 8);
        assert_eq!(headers.len(), 2);
        assert!(headers.get("set-cookie").is_none());
        assert!(headers.capacity() >= headers.len() + 8);
    }
}
