//! Operational endpoints: liveness, readiness and Prometheus metrics.
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::db::migrations_current;

/// Alive: the process answers.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

/// Ready: the database answers and its migrations are current.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.db.ping().await;
    let migrations = match &database {
        Ok(()) => migrations_current(&state.db).await.unwrap_or(false),
        Err(_) => false,
    };
    let ready = database.is_ok() && migrations;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "status": if ready { "ready" } else { "unavailable" },
            "database": if database.is_ok() { "ok" } else { "unreachable" },
            "migrations": if migrations { "current" } else { "pending or unknown" },
        })),
    )
        .into_response()
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = state.metrics.render();
    body.push_str(&format!(
        "# HELP stroom_db_statements_total SQL statements run since start.\n\
         # TYPE stroom_db_statements_total counter\n\
         stroom_db_statements_total {}\n",
        state.statements.total()
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
