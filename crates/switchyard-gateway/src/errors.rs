//! The gateway's error type, rendered in the dialect of the endpoint that was called:
//! OpenAI error JSON on OpenAI routes, Anthropic error JSON on Anthropic routes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which API's error shape to answer in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    OpenAi,
    Anthropic,
}

/// What went wrong, in categories both dialects can express.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    TooLarge,
    UnsupportedMediaType,
    RateLimited,
    /// The provider failed or could not be reached.
    Upstream,
    Timeout,
    Overloaded,
    Internal,
}

impl ErrorKind {
    /// The error kind for an upstream HTTP status.
    pub fn from_status(status: StatusCode) -> ErrorKind {
        match status.as_u16() {
            400 | 422 => ErrorKind::InvalidRequest,
            401 => ErrorKind::Authentication,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::TooLarge,
            415 => ErrorKind::UnsupportedMediaType,
            429 => ErrorKind::RateLimited,
            408 | 504 => ErrorKind::Timeout,
            503 | 529 => ErrorKind::Overloaded,
            _ => ErrorKind::Upstream,
        }
    }

    /// Stable name recorded in the request log's `error_kind` column.
    pub fn log_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Internal => "internal",
        }
    }

    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::UnsupportedMediaType => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::TooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::Upstream | ErrorKind::Internal => "api_error",
        }
    }

    fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::TooLarge
            | ErrorKind::UnsupportedMediaType => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Timeout | ErrorKind::Overloaded | ErrorKind::Upstream => "api_error",
            ErrorKind::Internal => "server_error",
        }
    }
}

/// An error answered to a client.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub message: String,
    /// A machine-readable code for OpenAI's `code` field (`model_not_found`, ...).
    pub code: Option<&'static str>,
    /// What the provider answered, when the error is the provider's (boxed: rare, and
    /// it keeps every `Result<_, ApiError>` small).
    pub upstream: Option<Box<UpstreamReply>>,
}

/// A provider's error answer, parts of which are passed back to the client.
#[derive(Clone, Debug, Default)]
pub struct UpstreamReply {
    /// The provider's own error body, passed through when it is already in the
    /// client's dialect.
    pub body: Option<bytes::Bytes>,
    /// Headers to pass back with the error (`retry-after`, rate-limit headers).
    pub headers: axum::http::HeaderMap,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            code: None,
            upstream: None,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorKind::Authentication, message)
            .with_code("invalid_api_key")
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Internal,
            message,
        )
    }

    /// Renders the error as the given API would.
    pub fn render(&self, dialect: Dialect) -> Response {
        let mut response = self.render_body(dialect);
        if let Some(upstream) = &self.upstream {
            for (name, value) in &upstream.headers {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
        response
    }

    fn render_body(&self, dialect: Dialect) -> Response {
        if let Some(body) = self.upstream.as_ref().and_then(|u| u.body.as_ref()) {
            let mut response = (self.status, body.clone()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return response;
        }
        let body = match dialect {
            Dialect::OpenAi => json!({
                "error": {
                    "message": self.message,
                    "type": self.kind.openai_type(),
                    "param": null,
                    "code": self.code,
                }
            }),
            Dialect::Anthropic => json!({
                "type": "error",
                "error": { "type": self.kind.anthropic_type(), "message": self.message }
            }),
        };
        (self.status, axum::Json(body)).into_response()
    }

    /// The error as one server-sent event, for failures after a stream has started.
    pub fn sse_event(&self, dialect: Dialect) -> bytes::Bytes {
        match dialect {
            Dialect::OpenAi => crate::sse::encode_event(
                None,
                &json!({"error": {"message": self.message, "type": self.kind.openai_type(), "code": self.code}}),
            ),
            Dialect::Anthropic => crate::sse::encode_event(
                Some("error"),
                &json!({"type": "error", "error": {"type": self.kind.anthropic_type(), "message": self.message}}),
            ),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

/// Admin API errors use the OpenAI shape: `{"error": {"message", "type"}}`.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(Dialect::OpenAi)
    }
}
