//! `POST /graphql` and `GET /graphql`, following the GraphQL-over-HTTP specification:
//! content types, `Accept` negotiation, status codes, no mutations over GET, no batches.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::{AppState, shape};
use crate::auth::authenticate;
use crate::context::RequestContext;
use crate::db::REQUEST_STATEMENTS;
use crate::i18n::LocalePreferences;
use crate::loader::DbLoader;
use crate::settle::Activity;

/// Most keys one loader statement takes (well under the databases' parameter limits).
const MAX_BATCH: usize = 5000;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type the client gets its response in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `application/graphql-response+json`: request errors get a 4xx status.
    GraphqlResponse,
    /// `application/json`: always 200 for a well-formed request (legacy clients).
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response format from `Accept` (highest quality first; the spec's media type
/// wins ties); `None` when the client accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<Format> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Format::GraphqlResponse);
    };
    let mut best: Option<(u16, Format)> = None;
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match media.as_str() {
            GRAPHQL_RESPONSE_JSON | "application/*" | "*/*" => Format::GraphqlResponse,
            JSON => Format::Json,
            _ => continue,
        };
        let weight = (quality.clamp(0.0, 1.0) * 1000.0) as u16;
        if weight == 0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((w, f)) => {
                weight > w
                    || (weight == w && f == Format::Json && format == Format::GraphqlResponse)
            }
        };
        if better {
            best = Some((weight, format));
        }
    }
    best.map(|(_, f)| f)
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A response made of GraphQL errors only, for requests refused before execution.
fn refuse(status: StatusCode, format: Format, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"errors": [{"message": message.into(), "extensions": {"code": code}}]});
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

/// Query-string parameters of a GET request.
#[derive(serde::Deserialize, Default)]
pub struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if params.is_empty() && wants_html(&headers) {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .title("Stroom API")
                .finish(),
        )
        .into_response();
    }
    let Some(format) = negotiate(&headers) else {
        return not_acceptable();
    };
    let params: GetParams = match serde_json::from_value(json!(params)) {
        Ok(p) => p,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                "Malformed query string.",
            );
        }
    };
    let Some(query) = params.query else {
        return refuse(
            StatusCode::BAD_REQUEST,
            format,
            "BAD_REQUEST",
            "A GET request needs a `query` parameter.",
        );
    };
    let mut body = json!({"query": query});
    if let Some(name) = params.operation_name {
        body["operationName"] = json!(name);
    }
    for (key, raw) in [
        ("variables", params.variables),
        ("extensions", params.extensions),
    ] {
        if let Some(raw) = raw {
            match serde_json::from_str::<Value>(&raw) {
                Ok(value @ (Value::Object(_) | Value::Null)) => body[key] = value,
                _ => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        format,
                        "BAD_REQUEST",
                        format!("The `{key}` parameter must be a JSON object."),
                    );
                }
            }
        }
    }
    let request = match serde_json::from_value::<async_graphql::Request>(body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                format!("Malformed request: {e}"),
            );
        }
    };
    execute(state, headers, request, format, true).await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(format) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if content_type.as_deref() != Some(JSON) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format,
            "BAD_REQUEST",
            "Send GraphQL requests as `Content-Type: application/json`.",
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                format!("The body is not valid JSON: {e}"),
            );
        }
    };
    if value.is_array() {
        return refuse(
            StatusCode::BAD_REQUEST,
            format,
            "BAD_REQUEST",
            "Batched requests are not supported: send one operation per request.",
        );
    }
    if !value.get("query").is_some_and(Value::is_string) {
        return refuse(
            StatusCode::BAD_REQUEST,
            format,
            "BAD_REQUEST",
            "The body must be a JSON object with a `query` string.",
        );
    }
    let request = match serde_json::from_value::<async_graphql::Request>(value) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                format!("Malformed request: {e}"),
            );
        }
    };
    execute(state, headers, request, format, false).await
}

fn not_acceptable() -> Response {
    refuse(
        StatusCode::NOT_ACCEPTABLE,
        Format::Json,
        "BAD_REQUEST",
        "Accept `application/graphql-response+json` or `application/json`.",
    )
}

/// The name of a document's only operation, if it has one.
fn single_name(doc: &async_graphql::parser::types::ExecutableDocument) -> Option<&str> {
    match &doc.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|n| n.as_str())
        }
        _ => None,
    }
}

/// The operation name as a metrics label. Names are chosen by clients, so only the first few
/// hundred well-formed ones get their own series; the rest share `other`.
fn metric_label(name: Option<&str>) -> String {
    const MAX_LABELS: usize = 200;
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let Some(name) = name else {
        return "anonymous".to_owned();
    };
    let well_formed =
        name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return "other".to_owned();
    }
    let Ok(mut seen) = SEEN.lock() else {
        return "other".to_owned();
    };
    if seen.iter().any(|s| s == name) {
        return name.to_owned();
    }
    if seen.len() < MAX_LABELS {
        seen.push(name.to_owned());
        return name.to_owned();
    }
    "other".to_owned()
}

/// The operation the request selects, if the document names it unambiguously.
fn selected_operation(
    doc: &async_graphql::parser::types::ExecutableDocument,
    name: Option<&str>,
) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

async fn execute(
    state: AppState,
    headers: HeaderMap,
    mut request: async_graphql::Request,
    format: Format,
    is_get: bool,
) -> Response {
    let requested_name = request.operation_name.clone();
    let (operation, document) = match request.parsed_query() {
        Ok(doc) => (
            selected_operation(doc, requested_name.as_deref()),
            doc.clone(),
        ),
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format,
                "GRAPHQL_PARSE_FAILED",
                error.message,
            );
        }
    };
    if is_get && operation.is_some_and(|op| op != OperationType::Query) {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            format,
            "BAD_REQUEST",
            "Mutations must be sent with POST.",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let operation_name = metric_label(requested_name.as_deref().or_else(|| single_name(&document)));

    let locales = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(LocalePreferences::from_accept_language)
        .unwrap_or_default();
    let statements = Arc::new(AtomicU64::new(0));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let viewer = match REQUEST_STATEMENTS
        .scope(statements.clone(), authenticate(&state.db, authorization))
        .await
    {
        Ok(Ok(viewer)) => viewer,
        Ok(Err(refusal)) => {
            metrics::counter!("stroom_graphql_errors_total", "code" => "UNAUTHENTICATED")
                .increment(1);
            let mut response = refuse(
                StatusCode::UNAUTHORIZED,
                format,
                "UNAUTHENTICATED",
                refusal.message(),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"stroom\", error=\"invalid_token\""),
            );
            return response;
        }
        Err(error) => {
            let error = crate::error::ApiError::from(error);
            let status = if error.code() == crate::error::ErrorCode::ServiceUnavailable {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            tracing::error!(%error, "authentication failed");
            return refuse(status, format, error.code().as_str(), error.to_string());
        }
    };
    let activity = Activity::default();
    let spawn_counter = statements.clone();
    let spawn_activity = activity.clone();
    let loader = DataLoader::with_cache(
        DbLoader {
            db: state.db.clone(),
            viewer: viewer.clone(),
        },
        move |batch| {
            let activity = spawn_activity.clone();
            tokio::spawn(REQUEST_STATEMENTS.scope(spawn_counter.clone(), async move {
                activity.settled().await;
                batch.await
            }))
        },
        HashMapCache::default(),
    )
    // The batch is cut by `settled`, not by a timer.
    .delay(Duration::ZERO)
    .max_batch_size(MAX_BATCH);
    let request = request.data(RequestContext {
        db: state.db.clone(),
        viewer,
        locales,
        loader,
    });

    let started = Instant::now();
    let executed = tokio::time::timeout(
        state.settings.request_timeout,
        REQUEST_STATEMENTS.scope(
            statements.clone(),
            activity.track({
                let schema = state.schema.clone();
                async move { schema.execute(request).await }
            }),
        ),
    )
    .await;
    let elapsed = started.elapsed();
    let response = match executed {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("stroom_graphql_errors_total", "code" => "TIMEOUT").increment(1);
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                format,
                "TIMEOUT",
                format!(
                    "The request ran longer than {} s and was stopped; ask for less at once.",
                    state.settings.request_timeout.as_secs()
                ),
            );
        }
    };

    let mut body = match serde_json::to_value(&response) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "response serialisation failed");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                format,
                "INTERNAL",
                "Internal error",
            );
        }
    };
    // A request error (parse, validation, variables) never starts execution: its errors have no
    // `path`. An argument literal the executor could not coerce (an `Int` out of range) makes
    // the document invalid too. Such a response carries no `data` and, in the spec's media
    // type, a 400.
    let request_error = !response.errors.is_empty()
        && ((response.data == async_graphql::Value::Null
            && response.errors.iter().all(|e| e.path.is_empty()))
            || response
                .errors
                .iter()
                .any(|e| is_coercion_error(&e.message)));
    if let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) {
        for error in errors {
            label_error(error);
            if let Some(code) = error.pointer("/extensions/code").and_then(Value::as_str) {
                metrics::counter!("stroom_graphql_errors_total", "code" => code.to_owned())
                    .increment(1);
            }
        }
    }
    if let Some(object) = body.as_object_mut() {
        if request_error {
            object.remove("data");
        } else if let Some(mut data) = object.remove("data") {
            let errors = object
                .get("errors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            shape::normalize(&mut data, &errors, &document, requested_name.as_deref());
            // `data` first, as the specification lists it.
            let rest = std::mem::take(object);
            object.insert("data".into(), data);
            object.extend(rest);
        }
    }
    let status = if request_error && format == Format::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    metrics::histogram!("stroom_graphql_request_seconds", "operation" => operation_name.clone())
        .record(elapsed.as_secs_f64());
    metrics::counter!("stroom_graphql_requests_total", "operation" => operation_name).increment(1);

    let mut http = (status, body.to_string()).into_response();
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if state.settings.sql_statements_header {
        headers.insert(
            "x-stroom-sql-statements",
            HeaderValue::from(statements.load(Ordering::Relaxed)),
        );
    }
    http
}

/// An argument or variable value that does not fit its type.
fn is_coercion_error(message: &str) -> bool {
    message.starts_with("Failed to parse \"")
        || message.starts_with("Invalid value for argument")
        || message.starts_with("Variable ")
}

/// Gives every error a machine-readable `extensions.code`.
fn label_error(error: &mut Value) {
    if error.pointer("/extensions/code").is_some() {
        return;
    }
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let code = if message.contains("nested too deep") || message.contains("too complex") {
        "QUERY_TOO_COMPLEX"
    } else if message.starts_with("Invalid value for argument")
        || message.starts_with("Failed to parse")
        || message.starts_with("Variable")
        || message.contains("Expected input type")
    {
        "BAD_USER_INPUT"
    } else {
        "GRAPHQL_VALIDATION_FAILED"
    };
    if let Some(object) = error.as_object_mut() {
        let extensions = object.entry("extensions").or_insert_with(|| json!({}));
        if let Some(extensions) = extensions.as_object_mut() {
            extensions.insert("code".into(), json!(code));
        }
    }
}
