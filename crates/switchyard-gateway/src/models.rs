//! `GET /v1/models` (what the calling key may use, in OpenAI's list format: aliases,
//! policies, then each provider's models) and `GET /health`.

use crate::config::governance::approved_by;
use crate::errors::Dialect;
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
    // The model endpoints' check: a key that has expired lists nothing either.
    let key = match crate::proxy::authenticate(&snapshot, &headers) {
        Ok(key) => key,
        Err(e) => return e.render(dialect),
    };
    let config = &snapshot.config;
    let allowed = |model: &str| {
        approved_by(config.approved_models.as_deref(), model)
            && approved_by(key.approved_models.as_deref(), model)
    };
    let entry = |id: String, owner: &str| json!({ "id": id, "object": "model", "created": 0, "owned_by": owner });
    let mut data = Vec::new();
    for (alias, target) in &config.aliases {
        if allowed(target) {
            data.push(entry(alias.clone(), "switchyard"));
        }
    }
    for policy in &config.policies {
        let id = format!("policy/{}", policy.name);
        if allowed(&id) {
            data.push(entry(id, "switchyard"));
        }
    }
    let mut providers: Vec<_> = snapshot.providers.values().collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
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
            let id = format!("{}/{}", provider.name, model);
            if allowed(&id) {
                data.push(entry(id, &provider.name));
            }
        }
    }
    if dialect == Dialect::Anthropic {
        // Claude Code's model picker reads Anthropic's list format.
        let data: Vec<_> = data
            .iter()
            .map(|m| {
                json!({"type": "model", "id": m["id"], "display_name": m["id"],
                    "created_at": "1970-01-01T00:00:00Z"})
            })
            .collect();
        let first = data.first().map(|m| m["id"].clone());
        let last = data.last().map(|m| m["id"].clone());
        return Json(json!({"data": data, "has_more": false, "first_id": first, "last_id": last}))
            .into_response();
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
