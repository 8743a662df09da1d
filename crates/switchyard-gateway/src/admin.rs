//! The admin HTTP API under `/api/`: everything the CLI can do, for the dashboard and
//! for scripts. Guarded by the admin token and by `Host`/`Origin` checks, because any
//! web page the user opens can reach 127.0.0.1.

use crate::auth::{bearer_token, constant_time_eq};
use crate::errors::{ApiError, ErrorKind};
use crate::manage::{self, ManageError};
use crate::snapshot::KeyStatus;
use crate::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub fn router(app: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/status", get(status))
        .route("/api/config", get(get_config).put(put_config))
        .route("/api/keys", get(list_keys).post(create_key))
        .route("/api/keys/{name}", axum::routing::delete(revoke_key))
        .route("/api/secrets/{name}", put(set_secret).delete(delete_secret))
        .route("/api/usage", get(usage))
        .route("/api/requests", get(requests))
        .route("/api/routing", get(routing_health))
        .route("/api/spend", get(spend))
        .merge(crate::analytics_api::routes())
        .route_layer(axum::middleware::from_fn_with_state(app, guard))
}

/// Hosts the admin API answers to; anything else is a DNS-rebinding attempt.
fn host_allowed(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let hostname = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let listen_ip = app.local_addr.ip().to_string();
    matches!(hostname, "127.0.0.1" | "localhost" | "[::1]")
        || hostname == listen_ip
        || hostname.trim_matches(['[', ']']) == listen_ip
}

/// Browsers send `Origin` on cross-site requests; only our own pages may call the API.
fn origin_allowed(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) else {
        return true; // not a browser, or a same-origin GET
    };
    let port = app.local_addr.port();
    let own = [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://{}", app.local_addr),
    ];
    own.iter().any(|o| o == origin)
        || matches!(origin, "tauri://localhost" | "http://tauri.localhost")
}

async fn guard(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !host_allowed(&app, headers) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Permission,
            "The admin API only answers requests addressed to 127.0.0.1 or localhost.",
        )
        .into_response();
    }
    if !origin_allowed(&app, headers) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Permission,
            "Cross-origin requests to the admin API are not allowed.",
        )
        .into_response();
    }
    let authorized = bearer_token(headers)
        .is_some_and(|t| constant_time_eq(t.as_bytes(), app.admin_token.as_bytes()));
    if !authorized {
        return ApiError::unauthorized(
            "The admin API needs `Authorization: Bearer <admin token>`; the token is in the file \
             admin-token in the data directory (`switchyard dashboard` prints a link with it).",
        )
        .into_response();
    }
    next.run(request).await
}

/// A JSON body, or a clear error in the admin API's shape instead of axum's plain text.
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                ErrorKind::UnsupportedMediaType
            } else {
                ErrorKind::InvalidRequest
            },
            rejection.body_text(),
        )
    })
}

fn manage_error(e: ManageError) -> ApiError {
    match e {
        ManageError::Config(e) => ApiError::bad_request(e.to_string()),
        ManageError::Invalid(m) => ApiError::bad_request(m),
        ManageError::Store(switchyard_store::StoreError::KeyExists(name)) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorKind::InvalidRequest,
            format!("A gateway key named '{name}' already exists; revoke it first or choose another name."),
        ),
        ManageError::Store(switchyard_store::StoreError::KeyNotFound(name)) => {
            ApiError::not_found(format!("No active gateway key named '{name}'."))
        }
        ManageError::Secret(crate::secrets::SecretError::NotFound(name)) => {
            ApiError::not_found(format!("No keychain entry named '{name}'."))
        }
        ManageError::Secret(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal,
            e.to_string(),
        ),
        ManageError::Store(e) => ApiError::internal(e.to_string()),
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ManageError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("background task failed: {e}")))?
        .map_err(manage_error)
}

async fn status(State(app): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let store = app.store.clone();
    let today = blocking(move || manage::today(&store)).await?;
    let snapshot = app.snapshot();
    let mut providers: Vec<_> = snapshot
        .providers
        .values()
        .map(|p| {
            let mut entry = json!({
                "name": p.name,
                "kind": p.kind.config_name(),
                "base_url": p.base_url,
                "wire_format": p.kind.wire_format().label(),
            });
            let (key, key_error) = match &p.default_credential.status {
                KeyStatus::Ok => ("ok", None),
                KeyStatus::NotNeeded => ("not-needed", None),
                KeyStatus::Missing(why) => ("missing", Some(why.clone())),
            };
            entry["key"] = key.into();
            if let Some(why) = key_error {
                entry["key_error"] = why.into();
            }
            entry
        })
        .collect();
    providers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "base_url": app.base_url(),
        "uptime_s": app.started.elapsed().as_secs(),
        "config_version": snapshot.version,
        "providers": providers,
        "keys_active": snapshot.keys.len(),
        "today": {
            "requests": today.requests,
            "errors": today.errors,
            "cost_usd": today.cost_usd,
            "unpriced_requests": today.unpriced_requests,
            "input_tokens": today.input_tokens,
            "cache_read_tokens": today.cache_read_tokens,
            "cache_write_tokens": today.cache_write_tokens,
            "output_tokens": today.output_tokens,
        },
        "log_dropped": app.log.dropped(),
    })))
}

async fn get_config(State(app): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let store = app.store.clone();
    let toml = blocking(move || manage::export_config(&store)).await?;
    Ok(Json(json!({ "toml": toml })))
}

#[derive(Deserialize)]
struct ConfigBody {
    toml: String,
}

async fn put_config(
    State(app): State<Arc<AppState>>,
    body: Result<Json<ConfigBody>, JsonRejection>,
) -> Result<Json<manage::ApplyOutcome>, ApiError> {
    let body = json_body(body)?;
    let store = app.store.clone();
    let outcome = blocking(move || manage::apply_config(&store, &body.toml)).await?;
    reload(&app).await?;
    Ok(Json(outcome))
}

async fn reload(app: &AppState) -> Result<(), ApiError> {
    app.reload()
        .await
        .map_err(|e| ApiError::internal(format!("saved, but reloading failed: {e}")))
}

async fn list_keys(State(app): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let store = app.store.clone();
    let keys = blocking(move || Ok(store.gateway_keys()?)).await?;
    Ok(Json(json!({ "keys": keys })))
}

#[derive(Deserialize)]
struct NewKey {
    name: String,
}

async fn create_key(
    State(app): State<Arc<AppState>>,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<manage::CreatedKey>), ApiError> {
    let body = json_body(body)?;
    let store = app.store.clone();
    let created = blocking(move || manage::create_key(&store, &body.name)).await?;
    reload(&app).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn revoke_key(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = app.store.clone();
    blocking(move || Ok(store.revoke_gateway_key(&name)?)).await?;
    reload(&app).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct SecretBody {
    value: String,
}

async fn set_secret(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Json<SecretBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let body = json_body(body)?;
    let (store, secrets) = (app.store.clone(), app.secrets.clone());
    blocking(move || manage::set_secret(&store, &*secrets, &name, &body.value)).await?;
    reload(&app).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_secret(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (store, secrets) = (app.store.clone(), app.secrets.clone());
    blocking(move || manage::delete_secret(&store, &*secrets, &name)).await?;
    reload(&app).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct UsageParams {
    since: Option<String>,
    group_by: Option<String>,
    format: Option<String>,
}

async fn usage(
    State(app): State<Arc<AppState>>,
    Query(params): Query<UsageParams>,
) -> Result<Response, ApiError> {
    let since =
        manage::parse_since(params.since.as_deref().unwrap_or("24h")).map_err(manage_error)?;
    let group_by = manage::parse_group_by(params.group_by.as_deref().unwrap_or("model"))
        .map_err(manage_error)?;
    let store = app.store.clone();
    let totals = blocking(move || manage::usage(&store, since, group_by)).await?;
    match params.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(totals).into_response()),
        "csv" => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"switchyard-usage.csv\"",
                ),
            ],
            manage::usage_csv(&totals),
        )
            .into_response()),
        other => Err(ApiError::bad_request(format!(
            "unknown format '{other}': choose json or csv"
        ))),
    }
}

#[derive(Deserialize)]
struct RequestsParams {
    limit: Option<u32>,
}

async fn requests(
    State(app): State<Arc<AppState>>,
    Query(params): Query<RequestsParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = params.limit.unwrap_or(50).min(1000);
    let store = app.store.clone();
    let rows = blocking(move || Ok(store.recent_requests(limit)?)).await?;
    Ok(Json(json!({ "requests": rows })))
}

/// What routing has seen: recent latency and cooldown per target.
async fn routing_health(State(app): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let targets: Vec<_> = app
        .health
        .report()
        .into_iter()
        .map(|(target, latency_ms, cooling)| {
            json!({ "target": target, "latency_ms": latency_ms, "cooling": cooling })
        })
        .collect();
    Json(json!({ "targets": targets }))
}

/// This month's spend against the limits, and the alerts that fired.
async fn spend(State(app): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let snapshot = app.snapshot();
    let (total, per_key) = app.spend.spent();
    let mut keys: Vec<_> = snapshot
        .keys
        .values()
        .map(|k| {
            json!({
                "name": k.name,
                "spent_usd": per_key.get(&k.id).copied().unwrap_or(0.0),
                "monthly_limit_usd": k.monthly_limit_usd,
                "expires": k.expires,
            })
        })
        .collect();
    keys.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let store = app.store.clone();
    let alerts = blocking(move || Ok(store.alert_events(50)?)).await?;
    Ok(Json(json!({
        "month": crate::spend::Month::now().label(),
        "gateway": { "spent_usd": total, "monthly_limit_usd": snapshot.config.limits.monthly_usd },
        "keys": keys,
        "alerts": alerts,
    })))
}
