//! `GET /v1/models` (what the calling key may use, in OpenAI's list format) and `GET /health`.

use crate::auth::{hash_key, presented_key};
use crate::errors::{ApiError, Dialect};
use crate::pricing::PriceCatalog;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

pub async fn list_models(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let dialect = if headers.contains_key("anthropic-version") {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    };
    let snapshot = app.snapshot();
    let authorized =
        presented_key(&headers).is_some_and(|k| snapshot.keys.contains_key(&hash_key(k)));
    if !authorized {
        return ApiError::unauthorized(
            "Missing, invalid or revoked gateway key: send it as `Authorization: Bearer sy-...` or `x-api-key`.",
        )
        .render(dialect);
    }
    let mut providers: Vec<_> = snapshot.providers.values().collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut data = Vec::new();
    for provider in providers {
        let mut models: BTreeSet<String> = provider.models.iter().cloned().collect();
        if models.is_empty() {
            if let Some(catalog) = provider.kind.price_catalog() {
                models.extend(PriceCatalog::builtin().models_of(catalog));
            }
        }
        let prefix = format!("{}/", provider.name);
        models.extend(
            snapshot
                .config
                .prices
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string)),
        );
        for model in models {
            data.push(json!({
                "id": format!("{}/{}", provider.name, model),
                "object": "model",
                "created": 0,
                "owned_by": provider.name,
            }));
        }
    }
    Json(json!({ "object": "list", "data": data })).into_response()
}

pub async fn health(State(app): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": app.started.elapsed().as_secs(),
    }))
}
