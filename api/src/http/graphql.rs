//! `POST /graphql` and `GET /graphql`, following the GraphQL-over-HTTP specification
//! (content types, `Accept` negotiation, status codes, no mutations over GET, no batches), with
//! persisted queries, limits, rate limits and cache headers around the execution.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

use async_graphql::dataloader::DataLoader;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::analysis::{Analysis, analyze, check_text, effective_variables, select_operation};
use super::limits::{check_document, check_json_nesting};
use super::persisted::Registration;
use super::{AppState, shape};
use crate::graphql::context::RequestContext;
use crate::graphql::loader::DbLoader;
use crate::graphql::settle::Activity;
use crate::kernel::access::{Viewer, authenticate};
use crate::kernel::breaker::Admission;
use crate::kernel::db::{REQUEST_STATEMENTS, RequestSql};
use crate::kernel::error::{ApiError, ErrorCode};
use crate::kernel::i18n::LocalePreferences;
use crate::kernel::rate_limit::{Spent, Subject};

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

    /// The status of a request error: 4xx in the specification's media type, 200 in JSON.
    fn request_error(self, status: StatusCode) -> StatusCode {
        match self {
            Self::GraphqlResponse => status,
            Self::Json => StatusCode::OK,
        }
    }
}

/// Picks the response format from `Accept` (highest quality first; the spec's media type
/// wins ties between the two named explicitly); `None` when the client accepts neither. A
/// client that names neither (no `Accept`, `*/*`, `application/*`) gets `application/json`,
/// which every client reads, as the GraphQL-over-HTTP specification advises.
fn negotiate(headers: &HeaderMap) -> Option<Format> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Format::Json);
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
            GRAPHQL_RESPONSE_JSON => Format::GraphqlResponse,
            JSON | "application/*" | "*/*" => Format::Json,
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
    refuse_with(status, format, json!({"code": code}), message)
}

fn refuse_with(
    status: StatusCode,
    format: Format,
    extensions: Value,
    message: impl Into<String>,
) -> Response {
    let code = extensions["code"]
        .as_str()
        .unwrap_or("BAD_REQUEST")
        .to_owned();
    metrics::counter!("stroom_graphql_errors_total", "code" => code).increment(1);
    let body = json!({"errors": [{"message": message.into(), "extensions": extensions}]});
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    // A refusal is about this request only: no cache may keep it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A mutation sent with an `Idempotency-Key` by a key holder: the key taken for it, or the
/// answer to give instead of running it (the first answer again, or a refusal).
async fn idempotent(
    state: &AppState,
    headers: &HeaderMap,
    format: Format,
    viewer: &Viewer,
    operation: Option<OperationType>,
    request: &async_graphql::Request,
    operation_name: Option<&str>,
) -> Result<Option<super::idempotency::Ticket>, Response> {
    use super::idempotency::{Claim, claim, fingerprint, key};
    let (Some(OperationType::Mutation), Some((key_id, _))) = (operation, &viewer.key) else {
        return Ok(None);
    };
    let key = match key(headers) {
        Ok(Some(key)) => key,
        Ok(None) => return Ok(None),
        Err(bad) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                bad.0,
            ));
        }
    };
    let variables = serde_json::to_string(&request.variables).unwrap_or_default();
    let fingerprint = fingerprint(&request.query, operation_name, &variables);
    // A first request cut off by a stopped process frees its key once it could no longer run.
    let abandon_after = state.settings.request_timeout * 2;
    match claim(&state.db, *key_id, &key, &fingerprint, abandon_after).await {
        Ok(Claim::Fresh(ticket)) => Ok(Some(ticket)),
        Ok(Claim::Replay(response)) => Err(response),
        Ok(Claim::Mismatch) => Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format,
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was already used for a different request; use a new key for a new request.",
        )),
        Ok(Claim::InProgress) => {
            let mut response = refuse(
                StatusCode::CONFLICT,
                format,
                "IDEMPOTENCY_KEY_IN_USE",
                "The first request with this Idempotency-Key is still running; retry in a moment to get its answer.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(response)
        }
        Err(error) => {
            state.database.failed();
            Err(database_failure(format, error.into()))
        }
    }
}

/// A request as it arrived, before the query is resolved and parsed.
struct Incoming {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Value>,
    extensions: Option<Value>,
    is_get: bool,
    /// Files of a multipart request, which its variables refer to.
    uploads: Vec<async_graphql::UploadValue>,
}

/// Whether a request is a GraphQL multipart request (a file upload).
pub(super) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// A GraphQL multipart request (the spec async-graphql implements): `operations`, `map` and
/// one file, within the upload limit.
async fn multipart(state: &AppState, headers: &HeaderMap, body: Bytes) -> Result<Incoming, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(state.settings.max_upload_bytes)
        .max_num_files(1);
    let request = async_graphql::http::receive_body(Some(content_type), body.as_ref(), options)
        .await
        .map_err(|e| format!("The multipart request could not be read: {e}."))?;
    let variables = serde_json::to_value(&request.variables).map_err(|e| e.to_string())?;
    let extensions = serde_json::to_value(&request.extensions).map_err(|e| e.to_string())?;
    Ok(Incoming {
        query: Some(request.query),
        operation_name: request.operation_name,
        variables: Some(variables),
        extensions: extensions
            .as_object()
            .is_some_and(|o| !o.is_empty())
            .then_some(extensions),
        is_get: false,
        uploads: request.uploads,
    })
}

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if wants_html(&headers)
        && !params.contains_key("extensions")
        && !params.contains_key("operationName")
        && params.keys().all(|k| k == "query" || k == "variables")
        && !headers.contains_key(header::AUTHORIZATION)
    {
        // A browser: GraphiQL (a `query` in the address opens in its editor).
        return super::pages::graphiql();
    }
    let Some(format) = negotiate(&headers) else {
        return not_acceptable();
    };
    let (variables, extensions) = match json_params(&params, state.settings.limits.max_nesting) {
        Ok(found) => found,
        Err(ParamError::TooComplex(exceeded)) => return too_complex(format, exceeded),
        Err(ParamError::Bad(message)) => {
            return refuse(StatusCode::BAD_REQUEST, format, "BAD_REQUEST", message);
        }
    };
    let incoming = Incoming {
        query: params.get("query").cloned(),
        operation_name: params.get("operationName").cloned(),
        variables,
        extensions,
        is_get: true,
        uploads: Vec::new(),
    };
    serve(state, headers, peer, incoming, format).await
}

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if super::live::accepts_event_stream(&headers)
        && let Ok(body) = &body
    {
        return super::live::post_event_stream(state, peer, headers, body.clone()).await;
    }
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
    let upload = content_type.as_deref() == Some("multipart/form-data");
    if content_type.as_deref() != Some(JSON) && !upload {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format,
            "BAD_REQUEST",
            "Send GraphQL requests as `Content-Type: application/json` (or a file upload as \
             `multipart/form-data`).",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "The request body is larger than {} bytes.",
                    state.settings.max_body_bytes
                )
            } else {
                "The request body could not be read.".to_owned()
            };
            return refuse(status, format, "BAD_REQUEST", message);
        }
    };
    if upload {
        return match multipart(&state, &headers, body).await {
            Ok(incoming) => serve(state, headers, peer, incoming, format).await,
            Err(message) => refuse(StatusCode::BAD_REQUEST, format, "BAD_REQUEST", message),
        };
    }
    // The body's own object adds one level to the values inside it.
    let max_nesting = state.settings.limits.max_nesting + 1;
    if let Err(exceeded) = check_json_nesting(&body, max_nesting, "The request body") {
        return too_complex(format, exceeded);
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
    let Value::Object(mut fields) = value else {
        let message = if value.is_array() {
            "Batched requests are not supported: send one operation per request."
        } else {
            "The body must be a JSON object with a `query` string."
        };
        return refuse(StatusCode::BAD_REQUEST, format, "BAD_REQUEST", message);
    };
    let query = match fields.remove("query") {
        None | Some(Value::Null) => None,
        Some(Value::String(query)) => Some(query),
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                "`query` must be a string.",
            );
        }
    };
    let operation_name = match fields.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                "`operationName` must be a string.",
            );
        }
    };
    let mut object_field = |key: &str| -> Result<Option<Value>, String> {
        match fields.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value @ Value::Object(_)) => Ok(Some(value)),
            Some(_) => Err(format!("`{key}` must be a JSON object.")),
        }
    };
    let variables = object_field("variables");
    let extensions = object_field("extensions");
    let (variables, extensions) = match (variables, extensions) {
        (Ok(variables), Ok(extensions)) => (variables, extensions),
        (Err(message), _) | (_, Err(message)) => {
            return refuse(StatusCode::BAD_REQUEST, format, "BAD_REQUEST", message);
        }
    };
    let incoming = Incoming {
        query,
        operation_name,
        variables,
        extensions,
        is_get: false,
        uploads: Vec::new(),
    };
    serve(state, headers, peer, incoming, format).await
}

/// Why a GET request's JSON parameters were refused.
pub(super) enum ParamError {
    TooComplex(super::limits::Exceeded),
    Bad(String),
}

/// The `variables` and `extensions` of a GET request: JSON objects, nested no deeper than the
/// limit (checked before they are parsed).
pub(super) fn json_params(
    params: &HashMap<String, String>,
    max_nesting: usize,
) -> Result<(Option<Value>, Option<Value>), ParamError> {
    let json_param = |key: &str| -> Result<Option<Value>, ParamError> {
        let Some(raw) = params.get(key) else {
            return Ok(None);
        };
        check_json_nesting(raw.as_bytes(), max_nesting, &format!("`{key}`"))
            .map_err(ParamError::TooComplex)?;
        match serde_json::from_str::<Value>(raw) {
            Ok(value @ (Value::Object(_) | Value::Null)) => Ok(Some(value)),
            _ => Err(ParamError::Bad(format!(
                "The `{key}` parameter must be a JSON object."
            ))),
        }
    };
    Ok((json_param("variables")?, json_param("extensions")?))
}

/// The languages the client prefers, from `Accept-Language`.
pub(super) fn locale_preferences(headers: &HeaderMap) -> LocalePreferences {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(LocalePreferences::from_accept_language)
        .unwrap_or_default()
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
fn single_name(doc: &ExecutableDocument) -> Option<&str> {
    match &doc.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|n| n.as_str())
        }
        _ => None,
    }
}

/// Operation names as metrics labels. Names are chosen by clients, so only the first few
/// dozen well-formed ones a server sees get their own series (each a histogram of 15 series);
/// the rest share `other`, so no flood of names grows the metrics page.
#[derive(Default)]
pub struct OperationLabels {
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl OperationLabels {
    const MAX: usize = 64;

    fn label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".to_owned();
        };
        let well_formed =
            name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return "other".to_owned();
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(name) {
            return name.to_owned();
        }
        if seen.len() < Self::MAX {
            seen.insert(name.to_owned());
            return name.to_owned();
        }
        "other".to_owned()
    }
}

/// The client's address: from the configured header of a trusted load balancer, else the peer.
pub(super) fn client_address(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    state
        .settings
        .client_ip_header
        .as_ref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer.ip())
}

pub(super) fn rate_limit_headers(headers: &mut HeaderMap, spent: &Spent) {
    let reset = spent.reset_at.timestamp().max(0) as u64;
    let pairs = [
        ("ratelimit-limit", spent.limit),
        ("ratelimit-remaining", spent.remaining()),
        ("ratelimit-reset", spent.retry_after_secs()),
        ("x-ratelimit-limit", spent.limit),
        ("x-ratelimit-remaining", spent.remaining()),
        ("x-ratelimit-used", spent.used),
        ("x-ratelimit-reset", reset),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from(value));
    }
}

/// The rate limit of a request, as the `rateLimit` field and `extensions` show it.
fn rate_limit_json(spent: &Spent) -> Value {
    json!({
        "limit": spent.limit,
        "cost": spent.cost,
        "used": spent.used,
        "remaining": spent.remaining(),
        "resetAt": spent.reset_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Serves one GraphQL request within the request timeout: every step, from resolving a
/// persisted query to shaping the response, is stopped when the time is up.
async fn serve(
    state: AppState,
    headers: HeaderMap,
    peer: SocketAddr,
    incoming: Incoming,
    format: Format,
) -> Response {
    let timeout = state.settings.request_timeout;
    match tokio::time::timeout(timeout, pipeline(&state, &headers, peer, incoming, format)).await {
        Ok(response) => response,
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format,
            "TIMEOUT",
            format!(
                "The request ran longer than {} ms and was stopped; ask for less at once.",
                timeout.as_millis()
            ),
        ),
    }
}

/// The steps of a request, each of which may answer it early.
async fn pipeline(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    incoming: Incoming,
    format: Format,
) -> Response {
    let arrived = Instant::now();
    let (query, registration) = match resolve_query(state, &incoming, format).await {
        Ok(resolved) => resolved,
        Err(response) => return response,
    };
    let limits = &state.settings.limits;
    let kept = state.documents.as_ref().and_then(|d| d.get(&query));
    if kept.is_none()
        && let Err(exceeded) = check_document(&query, limits)
    {
        return too_complex(format, exceeded);
    }
    let mut request = async_graphql::Request::new(query);
    request.operation_name = incoming.operation_name.clone();
    if let Some(variables) = incoming.variables {
        request.variables = async_graphql::Variables::from_json(variables);
    }
    request.uploads = incoming.uploads;
    let requested_name = incoming.operation_name;
    let document = match kept {
        Some(document) => {
            request.set_parsed_query((*document).clone());
            document
        }
        None => match request.parsed_query() {
            Ok(doc) => {
                let doc = Arc::new(doc.clone());
                if let Some(documents) = &state.documents {
                    documents.put(&request.query, &doc);
                }
                doc
            }
            Err(error) => {
                return refuse(
                    format.request_error(StatusCode::BAD_REQUEST),
                    format,
                    "GRAPHQL_PARSE_FAILED",
                    error.message,
                );
            }
        },
    };
    let operation = select_operation(&document, requested_name.as_deref()).map(|op| op.ty);
    if incoming.is_get && operation.is_some_and(|op| op != OperationType::Query) {
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
    let operation_name = state
        .labels
        .label(requested_name.as_deref().or_else(|| single_name(&document)));
    tracing::Span::current().record("operation", operation_name.as_str());
    let variables = effective_variables(&document, requested_name.as_deref(), &request.variables);
    if let Err(bad) = check_text(&document, &variables) {
        return refuse_with(
            format.request_error(StatusCode::BAD_REQUEST),
            format,
            json!({"code": "BAD_USER_INPUT", "field": bad.field}),
            bad.message,
        );
    }
    let mut analysis = match analyze(
        &document,
        requested_name.as_deref(),
        &variables,
        limits,
        &state.shape,
    ) {
        Ok(analysis) => analysis,
        Err(exceeded) => return too_complex(format, exceeded),
    };
    // Storing a persisted query is work the client asks for: it is charged with the request.
    if let Some(registration) = &registration {
        analysis.cost = analysis.cost.saturating_add(registration.points());
    }

    // While the database is away, fail in milliseconds rather than wait out the pool's
    // timeout; introspection needs no database and is still answered.
    let admission = if analysis.introspection_only {
        Admission::Allowed
    } else {
        state.database.admit()
    };
    if !admission.allowed() {
        return unavailable(
            format,
            "The database is unreachable; the service refuses requests for a moment. Retry shortly.",
        );
    }

    let explain = state.settings.explain
        && headers
            .get("x-stroom-explain")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    // Queries may be answered from the response cache (not when the plans are asked for, nor
    // when the answer shows the caller's own budget).
    let responses = state.responses.as_ref().filter(|_| {
        operation == Some(OperationType::Query) && !explain && !analysis.caller_specific
    });
    let statements = if explain {
        RequestSql::recording()
    } else {
        RequestSql::default()
    };
    let statements = Arc::new(match responses {
        Some(cache) => statements.reading(cache.tables.clone()),
        None => statements,
    });
    let viewer = match identify(state, headers, format, &statements).await {
        Ok(viewer) => viewer,
        Err(response) => {
            if response.status() == StatusCode::SERVICE_UNAVAILABLE {
                state.database.failed();
            }
            return response;
        }
    };
    let spent = match spend(state, headers, peer, &viewer, &analysis, format).await {
        Ok(spent) => spent,
        Err(response) => return response,
    };

    let ticket = match idempotent(
        state,
        headers,
        format,
        &viewer,
        operation,
        &request,
        requested_name.as_deref(),
    )
    .await
    {
        Ok(ticket) => ticket,
        Err(response) => return response,
    };
    let answered = async {
        let if_none_match = headers.get(header::IF_NONE_MATCH);
        let mut lookup = None;
        if let Some(cache) = responses {
            let key = super::response_cache::Identity {
                query: &request.query,
                operation_name: requested_name.as_deref(),
                variables: &request.variables,
                viewer: &viewer,
                accept_language: headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            }
            .key();
            // Without the stamps the cache cannot vouch for anything: answer as if it were off.
            if let Ok(stamps) = REQUEST_STATEMENTS
                .scope(statements.clone(), cache.stamps.current(arrived))
                .await
            {
                if let Some(entry) = cache.get(&key, &stamps) {
                    metrics::histogram!("stroom_graphql_request_seconds", "operation" => operation_name.clone())
                        .record(arrived.elapsed().as_secs_f64());
                    metrics::counter!("stroom_graphql_requests_total", "operation" => operation_name)
                        .increment(1);
                    return kept_answer(
                        state,
                        &entry,
                        &analysis,
                        &spent,
                        &viewer,
                        incoming.is_get,
                        format,
                        &statements,
                        if_none_match,
                    );
                }
                statements.note_reads();
                lookup = Some((cache, key, stamps));
            }
        }

        let started = Instant::now();
        let served_locales = Arc::new(crate::kernel::i18n::ServedLocales::default());
        let response = execute(
            state,
            request,
            viewer.clone(),
            headers,
            statements.clone(),
            spent,
            served_locales.clone(),
        )
        .await;
        let elapsed = started.elapsed();
        // Admitted and valid: the query it brought may be stored under its hash now.
        if let Some(registration) = registration
            && !failed_validation(&response)
        {
            let client = rate_subject(state, headers, peer, &viewer);
            state.persisted.register(registration, &client).await;
        }
        if has_code(&response.errors, "SERVICE_UNAVAILABLE") {
            state.database.failed();
        } else if admission == Admission::Probe || statements.count() > 0 {
            state.database.succeeded();
        }
        metrics::histogram!("stroom_graphql_request_seconds", "operation" => operation_name.clone())
            .record(elapsed.as_secs_f64());
        metrics::counter!("stroom_graphql_requests_total", "operation" => operation_name).increment(1);
        let explained = if explain {
            Some(super::explain::plans(&state.db, statements.take()).await)
        } else {
            None
        };
        let Answered {
            response: mut http,
            keepable,
        } = respond(
            state,
            response,
            &document,
            requested_name.as_deref(),
            operation,
            analysis,
            &spent,
            &viewer,
            incoming.is_get,
            format,
            &statements,
            explained,
        );
        // Every text of the answer in one language: say which.
        let content_language = served_locales
            .only()
            .and_then(|locale| HeaderValue::from_str(&locale).ok());
        if let Some(value) = &content_language {
            http.headers_mut()
                .insert(header::CONTENT_LANGUAGE, value.clone());
        }
        if let (Some((cache, key, stamps)), Some(data)) = (lookup, keepable) {
            let read = statements.tables_read();
            match cache.put(key, &read, &stamps, data, content_language) {
                Some(etag) => return tag(http, etag, "miss", incoming.is_get, if_none_match),
                None => {
                    metrics::counter!("stroom_response_cache_total", "outcome" => "not_kept")
                        .increment(1);
                }
            }
        }
        http
    }
    .await;
    match ticket {
        Some(ticket) => ticket.finish(&state.db, answered).await,
        None => answered,
    }
}

/// The query text: the request's own, or the persisted one its hash names.
async fn resolve_query(
    state: &AppState,
    incoming: &Incoming,
    format: Format,
) -> Result<(String, Option<Registration>), Response> {
    let persisted = incoming
        .extensions
        .as_ref()
        .and_then(|e| e.get("persistedQuery"));
    match persisted {
        Some(extension) => {
            // A query is checked before it is stored under its hash.
            if let Some(query) = &incoming.query
                && let Err(exceeded) = check_document(query, &state.settings.limits)
            {
                return Err(too_complex(format, exceeded));
            }
            state
                .persisted
                .resolve(incoming.query.clone(), extension)
                .await
                .map_err(|error| {
                    refuse(
                        format.request_error(StatusCode::BAD_REQUEST),
                        format,
                        error.code(),
                        error.message(),
                    )
                })
        }
        None => incoming
            .query
            .clone()
            .map(|query| (query, None))
            .ok_or_else(|| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    format,
                    "BAD_REQUEST",
                    "The request needs a `query`.",
                )
            }),
    }
}

/// Whose budget a request spends: its key's, or its address's.
fn rate_subject(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    viewer: &Viewer,
) -> Subject {
    match &viewer.key {
        Some((id, _)) => Subject::Key(*id),
        None => Subject::Address(client_address(state, headers, peer)),
    }
}

/// Whether the executor refused the document (validation): no data, and an error that no
/// field's path carries.
pub(super) fn failed_validation(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null && response.errors.iter().any(|e| e.path.is_empty())
}

/// Who is asking: the API key's holder, or anonymous.
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    format: Format,
    statements: &Arc<RequestSql>,
) -> Result<Viewer, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    match REQUEST_STATEMENTS
        .scope(statements.clone(), authenticate(&state.db, authorization))
        .await
    {
        Ok(Ok(viewer)) => Ok(viewer),
        Ok(Err(refusal)) => {
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
            Err(response)
        }
        Err(error) => Err(database_failure(format, error.into())),
    }
}

/// Spends the request's cost from its rate-limit budget, or refuses it.
async fn spend(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    viewer: &Viewer,
    analysis: &Analysis,
    format: Format,
) -> Result<Spent, Response> {
    let subject = rate_subject(state, headers, peer, viewer);
    let spent = state.rate_limiter.spend(&subject, analysis.cost).await;
    if spent.allowed {
        return Ok(spent);
    }
    let mut extensions = json!({"code": "RATE_LIMITED"});
    extensions["rateLimit"] = rate_limit_json(&spent);
    let mut response = refuse_with(
        StatusCode::TOO_MANY_REQUESTS,
        format,
        extensions,
        format!(
            "Rate limit exceeded: this request costs {} points and {} of {} remain until {}. \
             Retry after {} seconds, or ask for less at once.",
            spent.cost,
            spent.remaining(),
            spent.limit,
            spent
                .reset_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            spent.retry_after_secs()
        ),
    );
    rate_limit_headers(response.headers_mut(), &spent);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(spent.retry_after_secs()),
    );
    Err(response)
}

fn too_complex(format: Format, exceeded: super::limits::Exceeded) -> Response {
    refuse_with(
        format.request_error(StatusCode::BAD_REQUEST),
        format,
        json!({"code": "QUERY_TOO_COMPLEX", "limit": exceeded.limit, "max": exceeded.max, "actual": exceeded.actual}),
        exceeded.message,
    )
}

/// Whether any of the errors carries this `extensions.code`.
fn has_code(errors: &[async_graphql::ServerError], code: &str) -> bool {
    errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from(code))
    })
}

/// A 503 for a dependency that is away, with a hint when to retry.
fn unavailable(format: Format, message: impl Into<String>) -> Response {
    let mut response = refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        format,
        "SERVICE_UNAVAILABLE",
        message,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn database_failure(format: Format, error: ApiError) -> Response {
    if error.code() == ErrorCode::ServiceUnavailable {
        unavailable(format, error.to_string())
    } else {
        tracing::error!(%error, "request failed before execution");
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format,
            "INTERNAL",
            "Internal error",
        )
    }
}

/// Runs the request with its own loader, counting its SQL statements.
async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    viewer: Viewer,
    headers: &HeaderMap,
    statements: Arc<RequestSql>,
    spent: Spent,
    served_locales: Arc<crate::kernel::i18n::ServedLocales>,
) -> async_graphql::Response {
    let locales = locale_preferences(headers);
    let activity = Activity::default();
    let spawn_counter = statements.clone();
    let spawn_activity = activity.clone();
    // Batches run in tasks of their own: they log under the request's span all the same.
    let request_span = tracing::Span::current();
    // Without a cache: within one request a key is rarely asked for twice, and a kept value
    // would be copied out for every resolver instead of handed over.
    let loader = DataLoader::with_cache(
        DbLoader {
            db: state.db.clone(),
            viewer: viewer.clone(),
        },
        move |batch| {
            let activity = spawn_activity.clone();
            tokio::spawn(
                REQUEST_STATEMENTS
                    .scope(spawn_counter.clone(), async move {
                        activity.settled().await;
                        batch.await
                    })
                    .instrument(request_span.clone()),
            )
        },
        async_graphql::dataloader::NoCache,
    )
    // The batch is cut by `settled`, not by a timer.
    .delay(Duration::ZERO)
    .max_batch_size(MAX_BATCH);
    let request = request.data(RequestContext {
        db: state.db.clone(),
        viewer,
        locales,
        loader,
        rate_limit: Some(spent),
        results: state.results.clone(),
        data_version: tokio::sync::OnceCell::new(),
        served_locales,
    });
    let schema = state.schema.clone();
    REQUEST_STATEMENTS
        .scope(
            statements,
            activity.track(async move { schema.execute(request).await }),
        )
        .await
}

/// A response body in the order the specification lists its entries, around `data` already
/// serialised (kept answers are served from those bytes).
fn compose_body(
    data: Option<&[u8]>,
    errors: &[Value],
    extensions: &serde_json::Map<String, Value>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut body = Vec::with_capacity(data.map_or(0, <[u8]>::len) + 256);
    body.push(b'{');
    if let Some(data) = data {
        body.extend_from_slice(b"\"data\":");
        body.extend_from_slice(data);
        body.push(b',');
    }
    if !errors.is_empty() {
        body.extend_from_slice(b"\"errors\":");
        serde_json::to_writer(&mut body, errors)?;
        body.push(b',');
    }
    body.extend_from_slice(b"\"extensions\":");
    serde_json::to_writer(&mut body, extensions)?;
    body.push(b'}');
    Ok(body)
}

/// Whether a successful answer may be kept by shared HTTP caches: anonymous GETs are the same
/// for everyone who sends the same URL and headers (unless they ask who they are), so they
/// carry nothing of the caller's own, such as its rate-limit budget.
fn shareable(viewer: &Viewer, analysis: &Analysis, is_get: bool) -> bool {
    is_get && viewer.key.is_none() && !analysis.caller_specific
}

fn cost_json(analysis: &Analysis) -> Value {
    json!({"nodes": analysis.nodes, "points": analysis.cost, "depth": analysis.depth})
}

/// The headers every answer carries: its media type, caching, rate limit, statement count.
fn answer_headers(
    state: &AppState,
    headers: &mut HeaderMap,
    format: Format,
    shared: bool,
    spent: &Spent,
    statements: &RequestSql,
) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if !shared {
        rate_limit_headers(headers, spent);
    }
    // Shared answers are revalidated on every reuse unless the operator accepts staleness: a
    // write must never leave a browser or a proxy showing the answer it replaced.
    let cache_control = match (shared, state.settings.cache_max_age_secs) {
        (false, _) => "no-store".to_owned(),
        (true, 0) => "public, no-cache".to_owned(),
        (true, seconds) => format!("public, max-age={seconds}"),
    };
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Language, Authorization"),
    );
    if state.settings.sql_statements_header {
        headers.insert(
            "x-stroom-sql-statements",
            HeaderValue::from(statements.count()),
        );
    }
}

/// An executed answer as HTTP, and its serialised `data` when the answer may be kept (a
/// complete success: no errors, nothing added by the executor).
struct Answered {
    response: Response,
    keepable: Option<Bytes>,
}

/// Turns an executed response into HTTP: status, shape, extensions and headers.
#[allow(clippy::too_many_arguments)]
fn respond(
    state: &AppState,
    response: async_graphql::Response,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    operation: Option<OperationType>,
    analysis: Analysis,
    spent: &Spent,
    viewer: &Viewer,
    is_get: bool,
    format: Format,
    statements: &RequestSql,
    explained: Option<Value>,
) -> Answered {
    let async_graphql::Response {
        mut data,
        extensions: executor_extensions,
        errors,
        ..
    } = response;
    // A request error (parse, validation, variables) never starts execution: its errors have no
    // `path`. An argument literal the executor could not coerce (an `Int` out of range) makes
    // the document invalid too. Such a response carries no `data` and, in the spec's media
    // type, a 400.
    let mut request_error = !errors.is_empty()
        && ((data == async_graphql::Value::Null && errors.iter().all(|e| e.path.is_empty()))
            || errors.iter().any(|e| is_coercion_error(&e.message)));
    // Errors are few and small: they go through a JSON tree to be labelled. `data` can be
    // large and is serialised once, straight from the executor's value.
    let mut labelled: Vec<Value> = Vec::with_capacity(errors.len());
    let mut codes: Vec<String> = Vec::new();
    for source in &errors {
        let mut error = serde_json::to_value(source).unwrap_or_else(
            |_| json!({"message": source.message.clone(), "extensions": {"code": "INTERNAL"}}),
        );
        label_error(&mut error, source, document, operation_name);
        if let Some(code) = error.pointer("/extensions/code").and_then(Value::as_str) {
            metrics::counter!("stroom_graphql_errors_total", "code" => code.to_owned())
                .increment(1);
            codes.push(code.to_owned());
        }
        labelled.push(error);
    }
    if !request_error {
        let wiped = shape::normalize(&mut data, &errors, document, operation_name, &state.shape);
        // An argument value a field cannot take, whose null would reach `data` and wipe every
        // root field, related or not: in a query such a request is refused as invalid instead,
        // as a value of the wrong type is. (Below a nullable field the null stops there, with
        // its error, as the specification has it.)
        if operation == Some(OperationType::Query)
            && labelled.iter().zip(&wiped).any(|(error, wiped)| {
                *wiped
                    && error.pointer("/extensions/code").and_then(Value::as_str)
                        == Some("BAD_USER_INPUT")
            })
        {
            request_error = true;
        }
    }
    let unavailable = !codes.is_empty()
        && codes.iter().all(|c| c == "SERVICE_UNAVAILABLE")
        && data == async_graphql::Value::Null;
    let complete = executor_extensions.is_empty() && errors.is_empty();
    let mut extensions = serde_json::Map::new();
    for (name, value) in executor_extensions {
        extensions.insert(name, value.into_json().unwrap_or(Value::Null));
    }
    extensions.insert("cost".into(), cost_json(&analysis));
    let shared =
        shareable(viewer, &analysis, is_get) && !request_error && !unavailable && errors.is_empty();
    if !shared {
        extensions.insert("rateLimit".into(), rate_limit_json(spent));
    }
    if let Some(explained) = explained {
        extensions.insert("explain".into(), explained);
    }
    let serialised = match (!request_error)
        .then(|| serde_json::to_vec(&data))
        .transpose()
        .and_then(|data| Ok((compose_body(data.as_deref(), &labelled, &extensions)?, data)))
    {
        Ok(serialised) => serialised,
        Err(error) => {
            tracing::error!(%error, "response serialisation failed");
            return Answered {
                response: refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format,
                    "INTERNAL",
                    "Internal error",
                ),
                keepable: None,
            };
        }
    };
    let (body, data) = serialised;
    let status = if request_error {
        format.request_error(StatusCode::BAD_REQUEST)
    } else if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut http = (status, body).into_response();
    let headers = http.headers_mut();
    answer_headers(state, headers, format, shared, spent, statements);
    if unavailable {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Answered {
        response: http,
        keepable: data
            .filter(|_| complete && status == StatusCode::OK)
            .map(Bytes::from),
    }
}

/// An answer served from the response cache.
#[allow(clippy::too_many_arguments)]
fn kept_answer(
    state: &AppState,
    entry: &super::response_cache::Entry,
    analysis: &Analysis,
    spent: &Spent,
    viewer: &Viewer,
    is_get: bool,
    format: Format,
    statements: &RequestSql,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let shared = shareable(viewer, analysis, is_get);
    let mut extensions = serde_json::Map::new();
    extensions.insert("cost".into(), cost_json(analysis));
    if !shared {
        extensions.insert("rateLimit".into(), rate_limit_json(spent));
    }
    let mut http = match compose_body(Some(&entry.data), &[], &extensions) {
        Ok(body) => (StatusCode::OK, body).into_response(),
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
    let headers = http.headers_mut();
    answer_headers(state, headers, format, shared, spent, statements);
    if let Some(locale) = &entry.content_language {
        headers.insert(header::CONTENT_LANGUAGE, locale.clone());
    }
    tag(http, entry.etag.clone(), "hit", is_get, if_none_match)
}

/// Gives a kept answer its entity tag, and turns it into `304 Not Modified` for a GET whose
/// `If-None-Match` names the tag.
fn tag(
    mut http: Response,
    etag: HeaderValue,
    outcome: &'static str,
    is_get: bool,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    metrics::counter!("stroom_response_cache_total", "outcome" => outcome).increment(1);
    let not_modified = is_get && super::response_cache::matches(if_none_match, &etag);
    let headers = http.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert("x-stroom-cache", HeaderValue::from_static(outcome));
    if not_modified {
        metrics::counter!("stroom_response_cache_total", "outcome" => "not_modified").increment(1);
        let (mut parts, _) = http.into_parts();
        parts.status = StatusCode::NOT_MODIFIED;
        for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH] {
            parts.headers.remove(name);
        }
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    http
}

/// An argument or variable value that does not fit its type.
fn is_coercion_error(message: &str) -> bool {
    message.starts_with("Failed to parse \"")
        || message.starts_with("Invalid value for argument")
        || message.starts_with("Variable ")
}

/// Gives every error a machine-readable `extensions.code`, as graphql-js and Apollo name
/// them: a value written in the document that does not fit its type makes the document
/// invalid (`GRAPHQL_VALIDATION_FAILED`); a variable's value that does not fit, or a required
/// variable left out, is bad input (`BAD_USER_INPUT`).
pub(super) fn label_error(
    error: &mut Value,
    source: &async_graphql::ServerError,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) {
    if error.pointer("/extensions/code").is_some() {
        return;
    }
    let (code, message) = error_label(source, document, operation_name);
    if let Some(message) = message {
        error["message"] = json!(message);
    }
    if let Some(object) = error.as_object_mut() {
        let extensions = object.entry("extensions").or_insert_with(|| json!({}));
        if let Some(extensions) = extensions.as_object_mut() {
            extensions.insert("code".into(), json!(code));
        }
    }
}

/// The code of an error the executor left without one, and a clearer message when there is
/// one to give (see `label_error`).
pub(super) fn error_label(
    source: &async_graphql::ServerError,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> (&'static str, Option<String>) {
    let message = source.message.as_str();
    let about_a_value = message.starts_with("Invalid value for argument")
        || message.starts_with("Failed to parse")
        || message.contains("Expected input type");
    if let Some(variable) = missing_variable(message) {
        (
            "BAD_USER_INPUT",
            describe_missing(document, operation_name, variable),
        )
    } else if about_a_value && variable_at(document, &source.locations) {
        ("BAD_USER_INPUT", None)
    } else {
        ("GRAPHQL_VALIDATION_FAILED", None)
    }
}

fn missing_variable(message: &str) -> Option<&str> {
    message
        .strip_prefix("Variable ")?
        .strip_suffix(" is not defined.")
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// "Variable "$x" of required type "T!" was not provided.", as graphql-js says it.
fn describe_missing(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variable: &str,
) -> Option<String> {
    let operation = super::analysis::select_operation(document, operation_name)?;
    let definition = operation
        .variable_definitions
        .iter()
        .find(|d| d.node.name.node.as_str() == variable)?;
    Some(format!(
        "Variable \"${variable}\" of required type \"{}\" was not provided.",
        definition.node.var_type.node
    ))
}

/// Whether the argument (or the field) an error points at takes its value from a variable.
fn variable_at(document: &ExecutableDocument, locations: &[async_graphql::Pos]) -> bool {
    use async_graphql::parser::types::{Selection, SelectionSet};
    use async_graphql_value::Value as Literal;
    fn holds_variable(value: &Literal) -> bool {
        match value {
            Literal::Variable(_) => true,
            Literal::List(items) => items.iter().any(holds_variable),
            Literal::Object(fields) => fields.values().any(holds_variable),
            _ => false,
        }
    }
    fn search(set: &SelectionSet, at: async_graphql::Pos, depth: usize) -> Option<bool> {
        if depth > 64 {
            return None;
        }
        for item in &set.items {
            let found = match &item.node {
                Selection::Field(field) => {
                    if field.pos == at {
                        return Some(
                            field
                                .node
                                .arguments
                                .iter()
                                .any(|(_, v)| holds_variable(&v.node)),
                        );
                    }
                    if let Some((_, value)) = field
                        .node
                        .arguments
                        .iter()
                        .find(|(name, value)| name.pos == at || value.pos == at)
                    {
                        return Some(holds_variable(&value.node));
                    }
                    search(&field.node.selection_set.node, at, depth + 1)
                }
                Selection::InlineFragment(inline) => {
                    search(&inline.node.selection_set.node, at, depth + 1)
                }
                Selection::FragmentSpread(_) => None,
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
    locations.iter().any(|&at| {
        document
            .operations
            .iter()
            .map(|(_, op)| &op.node.selection_set.node)
            .chain(
                document
                    .fragments
                    .values()
                    .map(|f| &f.node.selection_set.node),
            )
            .find_map(|set| search(set, at, 0))
            .unwrap_or(false)
    })
}
