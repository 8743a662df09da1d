//! The analytics part of the admin API (mounted inside `admin::router`, behind its
//! token, `Host` and `Origin` guard):
//!
//! | Route | What |
//! |---|---|
//! | `GET /api/analytics?range=30d&bucket=day&group_by=model&model=anthropic/*&format=json\|csv` | any analytics question |
//! | `GET /api/analytics/summary` | spend today and this month, the month's projection, top models |
//! | `GET /api/analytics/chart/{kind}?...` | the same questions as `image/svg+xml` (`width`, `height`, `theme`, `title`, `metric`) |
//! | `GET /api/analytics/retention`, `PUT` `{"days": 90}` | how long raw rows are kept |
//! | `POST /api/analytics/retention/prune` | apply retention now |

use crate::errors::ApiError;
use crate::manage::{self, ManageError};
use crate::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/analytics", get(query))
        .route("/api/analytics/summary", get(summary))
        .route("/api/analytics/chart/{kind}", get(chart))
        .route(
            "/api/analytics/retention",
            get(retention).put(set_retention),
        )
        .route("/api/analytics/retention/prune", post(prune))
}

fn api_error(e: ManageError) -> ApiError {
    match e {
        ManageError::Invalid(message) => ApiError::bad_request(message),
        ManageError::Config(e) => ApiError::bad_request(e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

/// Runs store work (SQLite blocks) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ManageError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("background task failed: {e}")))?
        .map_err(api_error)
}

type Pairs = Query<Vec<(String, String)>>;

async fn query(
    State(app): State<Arc<AppState>>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let store = app.store.clone();
    let (report, format) = blocking(move || {
        let parsed = manage::analytics_params(&pairs)?;
        let format = parsed
            .output
            .get("format")
            .cloned()
            .unwrap_or_else(|| "json".into());
        if !matches!(format.as_str(), "json" | "csv") {
            return Err(ManageError::Invalid(format!(
                "unknown format '{format}': choose json or csv"
            )));
        }
        for unused in ["width", "height", "theme", "title", "metric"] {
            if parsed.output.contains_key(unused) {
                return Err(ManageError::Invalid(format!(
                    "'{unused}' is for charts: /api/analytics/chart/<kind>"
                )));
            }
        }
        Ok((store.analytics(&parsed.query)?, format))
    })
    .await?;
    Ok(if format == "csv" {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"switchyard-analytics.csv\"",
                ),
            ],
            manage::usage_csv(&report),
        )
            .into_response()
    } else {
        Json(report).into_response()
    })
}

async fn summary(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let store = app.store.clone();
    Ok(Json(blocking(move || manage::summary(&store)).await?).into_response())
}

async fn chart(
    State(app): State<Arc<AppState>>,
    Path(kind): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let kind = manage::parse_chart_kind(&kind).map_err(api_error)?;
    let store = app.store.clone();
    let svg = blocking(move || manage::chart(&store, kind, &pairs)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            // An SVG opened on its own is a document: let it run nothing.
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}

async fn retention(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let store = app.store.clone();
    Ok(Json(blocking(move || manage::retention(&store)).await?).into_response())
}

#[derive(Deserialize)]
struct RetentionBody {
    days: u32,
}

async fn set_retention(
    State(app): State<Arc<AppState>>,
    body: Result<Json<RetentionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = crate::admin::json_body(body)?;
    let store = app.store.clone();
    Ok(Json(blocking(move || manage::set_retention(&store, body.days)).await?).into_response())
}

async fn prune(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let store = app.store.clone();
    Ok(Json(blocking(move || manage::prune(&store)).await?).into_response())
}
