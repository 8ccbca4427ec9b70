//! The HTTP surface: the GraphQL endpoint, GraphiQL and the operational endpoints, with request
//! IDs, access logs, CORS, compression and a last line of defence against panics.
mod admission;
pub mod analysis;
mod answer;
mod changes;
pub mod documents;
mod errors;
mod explain;
mod graphql;
mod idempotency;
mod incoming;
pub mod introspection;
pub mod limits;
pub mod live;
mod network;
mod open_data;
mod ops;
mod pages;
pub use ops::probe;
mod persisted;
pub mod response_cache;
pub mod sending;
pub mod server;
mod shape;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

pub use persisted::PersistedQueries;

use crate::domain::schema::AppSchema;
use crate::kernel::db::StatementCounter;

/// Settings of the HTTP layer, from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub request_timeout: Duration,
    /// Time a client has to send a request's whole body.
    pub body_timeout: Duration,
    pub max_body_bytes: usize,
    /// Largest multipart request (an upload).
    pub max_upload_bytes: usize,
    pub sql_statements_header: bool,
    pub explain: bool,
    pub cache_max_age_secs: u64,
    pub client_ip_header: Option<HeaderName>,
    pub cors_origins: String,
    pub limits: limits::Limits,
    /// Whether `/metrics` has an address of its own (then the service's address does not
    /// serve it).
    pub metrics_apart: bool,
}

/// What every request is served with. Handlers take it by value (axum clones the state for
/// each request), so it is one shared pointer: cloning and dropping a struct of twenty
/// handles was 3.5% of a small request's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The parts of the application state.
pub struct Services {
    pub schema: AppSchema,
    pub db: DatabaseConnection,
    pub statements: StatementCounter,
    pub results: Option<Arc<crate::graphql::result_cache::ResultCache>>,
    /// Parsed documents by their text (`None` when turned off).
    pub documents: Option<Arc<documents::Documents>>,
    /// Whole answers of repeated queries (`None` when turned off).
    pub responses: Option<Arc<response_cache::ResponseCache>>,
    pub metrics: PrometheusHandle,
    pub settings: Arc<HttpSettings>,
    pub rate_limiter: Arc<crate::kernel::rate_limit::RateLimiter>,
    pub persisted: Arc<PersistedQueries>,
    /// The schema's shape, for counting introspection answers before they run.
    pub shape: Arc<introspection::SchemaShape>,
    /// Fails requests fast while the database is unreachable.
    pub database: Arc<crate::kernel::breaker::Breaker>,
    /// Redis, when configured (for `/readyz`; the rate limiter and persisted queries use it).
    pub shared: Option<Arc<crate::kernel::shared_store::SharedStore>>,
    /// Live subscriptions: their caps and the shutdown signal that ends them.
    pub live: Arc<live::Live>,
    /// The one reader of the change feed that live subscriptions share.
    pub hub: Arc<crate::domain::changes::hub::Hub>,
    /// The operation names that get metrics series of their own.
    pub labels: Arc<graphql::OperationLabels>,
    /// The bytes of answers being sent, bounded in all.
    pub sending: sending::Sending,
    /// Who runs the instance, for its announcement.
    pub instance: Arc<crate::domain::network::Instance>,
    /// The schema's version in the announcement (a digest of its SDL, made once).
    pub schema_version: Arc<str>,
    /// Compiles reads into one statement each (`None` when turned off).
    pub planner: Option<Arc<crate::graphql::plan::Planner>>,
}

/// The process-wide Prometheus recorder (installed once, shared by every server in a process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    // Fails only if another recorder was installed first; ours then stays idle.
                    let _ = metrics::set_global_recorder(recorder);
                    handle
                }
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The request's ID: the caller's `x-request-id` when it is sensible, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // Without randomness, the clock still tells requests apart well enough for logs.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        return format!("{nanos:x}");
    }
    hex::encode(bytes)
}

/// Gives every request an ID (taken from or put into `x-request-id`), a tracing span that the
/// GraphQL handler adds the operation name to, and an access-log line.
async fn request_context(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    request.extensions_mut().insert(RequestId(id.clone()));
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %path,
        operation = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if path == "/graphql" {
        tracing::info!(parent: &span, status, latency_ms, "request served");
    } else {
        tracing::debug!(parent: &span, status, latency_ms, "request served");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// A panic anywhere in a request becomes an opaque 500, never a dropped connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(panic = detail, "a request panicked");
    metrics::counter!("stroom_graphql_errors_total", "code" => "INTERNAL").increment(1);
    let body = serde_json::json!({"errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL"}}]});
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn cors(origins: &str) -> CorsLayer {
    let allow = if origins.trim() == "*" {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .split(',')
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderName::from_static("x-ratelimit-used"),
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(24 * 3600))
}

/// Reads a request's body within the body timeout and the size limit, so a client that sends
/// it slowly holds no handler (and no connection) for long.
async fn read_body_in_time(
    axum::extract::State(settings): axum::extract::State<Arc<HttpSettings>>,
    request: Request,
    next: Next,
) -> Response {
    use http_body_util::{BodyExt, Limited};
    let refusal = |status: axum::http::StatusCode, message: String| {
        let code = if status == axum::http::StatusCode::UNAUTHORIZED {
            "UNAUTHENTICATED"
        } else {
            "BAD_REQUEST"
        };
        let body =
            serde_json::json!({"errors": [{"message": message, "extensions": {"code": code}}]});
        (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.to_string(),
        )
            .into_response()
    };
    // Uploads (multipart) may be larger, and are taken only from callers with a key: an
    // anonymous one is refused before its body is read.
    let upload = incoming::is_multipart(request.headers());
    if upload && !request.headers().contains_key(header::AUTHORIZATION) {
        return refusal(
            axum::http::StatusCode::UNAUTHORIZED,
            "Uploads need an API key with the editor or admin role: send `Authorization: Bearer <key>`."
                .to_owned(),
        );
    }
    let limit = if upload {
        settings.max_upload_bytes
    } else {
        settings.max_body_bytes
    };
    let too_large = || {
        let mut response = refusal(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than {limit} bytes."),
        );
        // The rest of the body is not read: the connection ends with this answer.
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        response
    };
    let (parts, body) = request.into_parts();
    // A body announced larger than the limit is refused before any of it is read. Unless the
    // client waits for `100 Continue`, what it already sent is read and dropped (a bounded
    // amount, briefly), so it reads the 413 instead of finding the connection reset.
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        let expects_continue = parts
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !expects_continue {
            drain(body, DRAIN_BYTES, DRAIN_TIME).await;
        }
        return too_large();
    }
    let limited = Limited::new(body, limit);
    match tokio::time::timeout(settings.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => {
            let request = Request::from_parts(parts, axum::body::Body::from(collected.to_bytes()));
            next.run(request).await
        }
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => too_large(),
        Ok(Err(_)) => refusal(
            axum::http::StatusCode::BAD_REQUEST,
            "The request body could not be read.".to_owned(),
        ),
        Err(_) => refusal(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            format!(
                "The request body did not arrive within {} s.",
                settings.body_timeout.as_secs()
            ),
        ),
    }
}

/// At most this much of a refused body is read and dropped before the 413 goes out…
const DRAIN_BYTES: usize = 16 * 1024 * 1024;
/// …for at most this long, and only while it keeps coming (no pause longer than `DRAIN_GAP`).
const DRAIN_TIME: Duration = Duration::from_secs(1);
const DRAIN_GAP: Duration = Duration::from_millis(100);

/// Reads and drops up to `bytes` of `body` within `time`, stopping at the first pause.
async fn drain(body: axum::body::Body, bytes: usize, time: Duration) {
    use http_body_util::BodyExt;
    let mut body = body;
    let _ = tokio::time::timeout(time, async {
        let mut read = 0;
        while read < bytes {
            match tokio::time::timeout(DRAIN_GAP, body.frame()).await {
                Ok(Some(Ok(frame))) => read += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    })
    .await;
}

/// The metrics address's router: `/metrics` and nothing else, without a key (the address is
/// meant for the network the scraper is on).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics_page))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    // The size of each request is checked by `read_body_in_time`, by its kind.
    let max_body = state
        .settings
        .max_body_bytes
        .max(state.settings.max_upload_bytes);
    let cors = cors(&state.settings.cors_origins);
    let body_in_time = middleware::from_fn_with_state(state.settings.clone(), read_body_in_time);
    Router::new()
        .route(
            "/graphql",
            get(graphql::get)
                .post(graphql::post)
                .route_layer(body_in_time),
        )
        .route("/", get(pages::landing))
        .route("/dashboard", get(pages::dashboard))
        .route("/schema.graphql", get(pages::schema))
        .route("/assets/{version}/{file}", get(pages::asset))
        .route("/changes.ndjson", get(changes::feed))
        .route("/.well-known/stroom", get(network::announcement))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(open_data::routes())
        .layer(DefaultBodyLimit::max(max_body))
        // Inside compression, where an answer's size is still known.
        .layer(middleware::from_fn_with_state(
            state.sending.clone(),
            sending::within_budget,
        ))
        .layer(CompressionLayer::new())
        .layer(cors)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}
