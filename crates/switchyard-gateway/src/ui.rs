//! The dashboard's static files, built into the binary and served at `/ui/`.
//! The page itself talks only to the admin API.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

const INDEX_HTML: &str = include_str!("../../../ui/index.html");
const APP_JS: &str = include_str!("../../../ui/app.js");
const STYLE_CSS: &str = include_str!("../../../ui/style.css");

/// Security headers for the dashboard: no framing, no outside resources.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub async fn file(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match name.as_str() {
        "app.js" => asset("text/javascript; charset=utf-8", APP_JS),
        "style.css" => asset("text/css; charset=utf-8", STYLE_CSS),
        "index.html" => asset("text/html; charset=utf-8", INDEX_HTML),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

pub async fn to_index() -> Redirect {
    Redirect::permanent("/ui/")
}
