//! Operational endpoints: liveness, readiness and Prometheus metrics.
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::kernel::db::migrations_current;

/// Alive: the process answers.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

/// How long readiness waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready: the database answers (quickly) and its migrations are current.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(result) => result.map_err(|_| ()),
        Err(_) => Err(()),
    };
    let migrations = match &database {
        Ok(()) => tokio::time::timeout(READY_TIMEOUT, migrations_current(&state.db))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false),
        Err(_) => false,
    };
    let redis = match &state.shared {
        None => "not configured",
        Some(store) if store.ping().await => "ok",
        Some(_) => "unreachable: rate limits and persisted queries are per instance",
    };
    let ready = database.is_ok() && migrations;
    match (&database, state.database.is_open()) {
        (Ok(()), true) => state.database.succeeded(),
        (Err(()), false) => state.database.failed(),
        _ => {}
    }
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
            // Without Redis the instance serves on, with limits of its own: ready either way.
            "redis": redis,
            "migrations": if migrations { "current" } else { "pending or unknown" },
        })),
    )
        .into_response()
}

/// Prometheus text exposition on the service's own address: for admin keys only (the page shows
/// operation names, pool sizes and traffic), or not at all when the metrics have an address of
/// their own (`--metrics-listen`).
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let refuse = |status: StatusCode, code: &str, message: &str| {
        (
            status,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(json!({"errors": [{"message": message, "extensions": {"code": code}}]})),
        )
            .into_response()
    };
    if state.settings.metrics_apart {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"errors": [{
                "message": "The metrics are served on this server's metrics address (--metrics-listen).",
                "extensions": {"code": "NOT_FOUND"}
            }]})),
        )
            .into_response();
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    match crate::kernel::access::authenticate(&state.db, authorization).await {
        Ok(Ok(viewer)) if viewer.role == crate::kernel::access::Role::Admin => {
            metrics_page(State(state)).await
        }
        Ok(Ok(viewer)) if viewer.role == crate::kernel::access::Role::Anonymous => refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "The metrics are for admin keys: send `Authorization: Bearer <admin key>`.",
        ),
        Ok(Ok(_)) => refuse(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "The metrics are for admin keys only.",
        ),
        Ok(Err(refusal)) => refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            refusal.message(),
        ),
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The database does not answer; the key cannot be checked.",
        ),
    }
}

/// Prometheus text exposition, for whoever reaches it (the metrics address).
pub async fn metrics_page(State(state): State<AppState>) -> Response {
    let mut body = state.metrics.render();
    body.push_str(&format!(
        "# HELP stroom_db_statements_total SQL statements run since start.\n\
         # TYPE stroom_db_statements_total counter\n\
         stroom_db_statements_total {}\n",
        state.statements.total()
    ));
    let (size, idle) = pool_size(&state.db);
    body.push_str(&format!(
        "# HELP stroom_db_pool_connections Connections in the database pool, by state.\n\
         # TYPE stroom_db_pool_connections gauge\n\
         stroom_db_pool_connections{{state=\"idle\"}} {idle}\n\
         stroom_db_pool_connections{{state=\"busy\"}} {}\n",
        size.saturating_sub(idle)
    ));
    if let Some((resident, peak)) = resident_memory() {
        body.push_str(&format!(
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\n\
             process_resident_memory_bytes {resident}\n\
             # HELP process_resident_memory_max_bytes Highest resident memory size since start.\n\
             # TYPE process_resident_memory_max_bytes gauge\n\
             process_resident_memory_max_bytes {peak}\n"
        ));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The process's resident memory now and at its highest, in bytes (Linux only).
fn resident_memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Connections open in the pool, and how many of them are idle.
fn pool_size(db: &sea_orm::DatabaseConnection) -> (u64, u64) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (u64::from(pool.size()), pool.num_idle() as u64)
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (u64::from(pool.size()), pool.num_idle() as u64)
        }
        _ => (0, 0),
    }
}

/// Asks a readiness URL over plain HTTP/1.1 and returns its status code. Written without an
/// HTTP client library so the container image needs nothing besides the binary.
pub async fn probe(url: &str) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("only http:// URLs can be probed"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut stream =
        tokio::time::timeout(READY_TIMEOUT, tokio::net::TcpStream::connect(address)).await??;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 64];
    let read = tokio::time::timeout(READY_TIMEOUT * 2, stream.read(&mut head)).await??;
    let line = String::from_utf8_lossy(&head[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not an HTTP answer: {line}"))
}
