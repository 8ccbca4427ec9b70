//! A GraphQL answer as HTTP: the media type negotiated from `Accept`, refusals, the executed
//! response shaped and labelled (status, errors' codes, extensions, headers), and answers kept
//! by the response cache with their entity tags.
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use async_graphql::parser::types::{ExecutableDocument, OperationDefinition, OperationType};

use super::admission::{Refusal, rate_limit_headers, rate_limit_json};
use super::analysis::Analysis;
use super::errors::{is_coercion_error, label_error};
use super::{AppState, shape};
use crate::kernel::access::Viewer;
use crate::kernel::db::RequestSql;
use crate::kernel::error::{ApiError, ErrorCode};
use crate::kernel::rate_limit::Spent;

pub(super) const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

pub(super) const JSON: &str = "application/json";

/// The media type the client gets its response in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// `application/graphql-response+json`: request errors get a 4xx status.
    GraphqlResponse,
    /// `application/json`: always 200 for a well-formed request (legacy clients).
    Json,
}

impl Format {
    pub(super) fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }

    /// The status of a request error: 4xx in the specification's media type, 200 in JSON.
    pub(super) fn request_error(self, status: StatusCode) -> StatusCode {
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
pub(super) fn negotiate(headers: &HeaderMap) -> Option<Format> {
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

pub(super) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A response made of GraphQL errors only, for requests refused before execution.
pub(super) fn refuse(
    status: StatusCode,
    format: Format,
    code: &str,
    message: impl Into<String>,
) -> Response {
    refuse_with(status, format, json!({"code": code}), message)
}

pub(super) fn refuse_with(
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

pub(super) fn not_acceptable() -> Response {
    refuse(
        StatusCode::NOT_ACCEPTABLE,
        Format::Json,
        "BAD_REQUEST",
        "Accept `application/graphql-response+json` or `application/json`.",
    )
}

/// A refusal in this transport's form: GraphQL errors only, in the negotiated media type, with
/// the refusal's headers (a request error is a 200 under `application/json`).
pub(super) fn render(refusal: Refusal, format: Format) -> Response {
    let status = if refusal.request_error {
        format.request_error(refusal.status)
    } else {
        refusal.status
    };
    let mut response = refuse_with(status, format, *refusal.extensions, refusal.message);
    response.headers_mut().extend(refusal.headers);
    response
}

/// Whether any of the errors carries this `extensions.code`.
pub(super) fn has_code(errors: &[async_graphql::ServerError], code: &str) -> bool {
    errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from(code))
    })
}

/// A 503 for a dependency that is away, with a hint when to retry.
pub(super) fn unavailable(format: Format, message: impl Into<String>) -> Response {
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

pub(super) fn database_failure(format: Format, error: ApiError) -> Response {
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

/// A response body in the order the specification lists its entries, around `data` already
/// serialised (kept answers are served from those bytes).
pub(super) fn compose_body(
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

impl Answering<'_> {
    /// Whether a successful answer may be kept by shared HTTP caches: anonymous GETs are the
    /// same for everyone who sends the same URL and headers (unless they ask who they are), so
    /// they carry nothing of the caller's own, such as its rate-limit budget.
    fn shareable(&self) -> bool {
        self.is_get && self.viewer.key.is_none() && !self.analysis.caller_specific
    }

    /// The extensions every answer carries: its cost, and the caller's budget unless shared.
    fn extensions(&self, shared: bool) -> serde_json::Map<String, Value> {
        let analysis = self.analysis;
        let mut extensions = serde_json::Map::new();
        extensions.insert(
            "cost".into(),
            json!({"nodes": analysis.nodes, "points": analysis.cost, "depth": analysis.depth}),
        );
        if !shared {
            extensions.insert("rateLimit".into(), rate_limit_json(self.spent));
        }
        extensions
    }

    /// The headers every answer carries: its media type, caching, rate limit, statement count.
    fn headers(&self, headers: &mut HeaderMap, shared: bool) {
        answer_headers(
            self.state,
            headers,
            self.format,
            shared,
            self.spent,
            self.statements,
        );
    }
}

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
        headers.insert(
            "x-stroom-compiled",
            HeaderValue::from_static(if statements.compiled() {
                "true"
            } else {
                "false"
            }),
        );
    }
}

/// An executed answer as HTTP, and its serialised `data` when the answer may be kept (a
/// complete success: no errors, nothing added by the executor).
pub(super) struct Answered {
    pub response: Response,
    pub keepable: Option<Bytes>,
}

/// What every answer to one request is made with, executed or kept.
#[derive(Clone, Copy)]
pub(super) struct Answering<'a> {
    pub state: &'a AppState,
    pub analysis: &'a Analysis,
    pub spent: &'a Spent,
    pub viewer: &'a Viewer,
    pub is_get: bool,
    pub format: Format,
    pub statements: &'a RequestSql,
}

/// Turns an executed response into HTTP: status, shape, extensions and headers.
pub(super) fn respond(
    answering: Answering<'_>,
    response: async_graphql::Response,
    document: &ExecutableDocument,
    operation: Option<&OperationDefinition>,
    explained: Option<Value>,
) -> Answered {
    let Answering { state, format, .. } = answering;
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
        label_error(&mut error, source, document, operation);
        if let Some(code) = error.pointer("/extensions/code").and_then(Value::as_str) {
            metrics::counter!("stroom_graphql_errors_total", "code" => code.to_owned())
                .increment(1);
            codes.push(code.to_owned());
        }
        labelled.push(error);
    }
    if !request_error {
        let wiped = shape::normalize(&mut data, &errors, document, operation, &state.shape);
        // An argument value a field cannot take, whose null would reach `data` and wipe every
        // root field, related or not: in a query such a request is refused as invalid instead,
        // as a value of the wrong type is. (Below a nullable field the null stops there, with
        // its error, as the specification has it.)
        if operation.is_some_and(|op| op.ty == OperationType::Query)
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
    let shared = answering.shareable() && !request_error && !unavailable && errors.is_empty();
    extensions.extend(answering.extensions(shared));
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
    answering.headers(headers, shared);
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
pub(super) fn kept_answer(
    answering: Answering<'_>,
    entry: &super::response_cache::Entry,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let shared = answering.shareable();
    let extensions = answering.extensions(shared);
    let mut http = match compose_body(Some(&entry.data), &[], &extensions) {
        Ok(body) => (StatusCode::OK, body).into_response(),
        Err(error) => {
            tracing::error!(%error, "response serialisation failed");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                answering.format,
                "INTERNAL",
                "Internal error",
            );
        }
    };
    let headers = http.headers_mut();
    answering.headers(headers, shared);
    if let Some(locale) = &entry.content_language {
        headers.insert(header::CONTENT_LANGUAGE, locale.clone());
    }
    tag(
        http,
        entry.etag.clone(),
        "hit",
        answering.is_get,
        if_none_match,
    )
}

/// Gives a kept answer its entity tag, and turns it into `304 Not Modified` for a GET whose
/// `If-None-Match` names the tag.
pub(super) fn tag(
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
