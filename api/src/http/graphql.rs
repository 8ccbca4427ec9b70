//! `POST /graphql` and `GET /graphql`, following the GraphQL-over-HTTP specification
//! (content types, `Accept` negotiation, status codes, no mutations over GET, no batches), with
//! persisted queries, limits, rate limits and cache headers around the execution.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

use async_graphql::dataloader::DataLoader;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::AppState;
use super::admission::{Refusal, admit, any_operation, failed_validation, spend};
use super::answer::{
    Answered, Answering, Format, JSON, database_failure, has_code, kept_answer, negotiate,
    not_acceptable, refuse, render, respond, tag, unavailable, wants_html,
};
use super::incoming::{Incoming, client_address, locale_preferences, multipart};
use crate::graphql::context::RequestContext;
use crate::graphql::loader::DbLoader;
use crate::graphql::settle::Activity;
use crate::kernel::access::{Viewer, authenticate};
use crate::kernel::breaker::Admission;
use crate::kernel::db::{REQUEST_STATEMENTS, RequestSql};
use crate::kernel::rate_limit::{Spent, Subject};

/// Most keys one loader statement takes (well under the databases' parameter limits).
const MAX_BATCH: usize = 5000;

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

/// `GET /graphql`: a WebSocket handshake or an event stream (`live`), GraphiQL for a
/// browser, or a query over HTTP.
pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let params = match Query::<HashMap<String, String>>::try_from_uri(&parts.uri) {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                Format::Json,
                "BAD_REQUEST",
                format!("The query string cannot be read: {}", rejection.body_text()),
            );
        }
    };
    let headers = match super::live::get(&state, peer, parts, &params).await {
        Ok(response) => return response,
        Err(parts) => parts.headers,
    };
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
    let incoming = match Incoming::from_params(&params, state.settings.limits.max_nesting) {
        Ok(incoming) => incoming,
        Err(refusal) => return render(refusal, format),
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
    let incoming = match Incoming::from_json_body(&body, state.settings.limits.max_nesting) {
        Ok(incoming) => incoming,
        Err(refusal) => return render(refusal, format),
    };
    serve(state, headers, peer, incoming, format).await
}

/// GET runs queries only, as GraphQL over HTTP has it: a mutation comes by POST.
fn queries_only(
    _: &ExecutableDocument,
    operation: Option<&OperationDefinition>,
) -> Result<(), Refusal> {
    if operation.is_some_and(|op| op.ty != OperationType::Query) {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_REQUEST",
            "Mutations must be sent with POST.",
        )
        .with_header(header::ALLOW, HeaderValue::from_static("POST")));
    }
    Ok(())
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
    let is_get = incoming.is_get;
    let rule = if is_get { queries_only } else { any_operation };
    let (request, mut admitted) = match admit(state, incoming.submitted(), rule).await {
        Ok(admitted) => admitted,
        Err(refusal) => return render(refusal, format),
    };
    let operation = admitted.operation_type();
    let operation_name = state.labels.label(
        admitted
            .operation_name()
            .or_else(|| single_name(&admitted.document)),
    );
    tracing::Span::current().record("operation", operation_name.as_str());
    let registration = admitted.registration.take();
    let analysis = &admitted.analysis;
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
    let subject = rate_subject(state, headers, peer, &viewer);
    let spent = match spend(state, &subject, analysis.cost).await {
        Ok(spent) => spent,
        Err(refusal) => return render(refusal, format),
    };

    let ticket = match idempotent(
        state,
        headers,
        format,
        &viewer,
        operation,
        &request,
        admitted.operation_name(),
    )
    .await
    {
        Ok(ticket) => ticket,
        Err(response) => return response,
    };
    let answering = Answering {
        state,
        analysis,
        spent: &spent,
        viewer: &viewer,
        is_get,
        format,
        statements: &statements,
    };
    let answered = async {
        let if_none_match = headers.get(header::IF_NONE_MATCH);
        let mut lookup = None;
        if let Some(cache) = responses {
            let key = super::response_cache::Identity {
                query: &request.query,
                operation_name: admitted.operation_name(),
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
                    return kept_answer(answering, &entry, if_none_match);
                }
                statements.note_reads();
                lookup = Some((cache, key, stamps));
            }
        }

        let started = Instant::now();
        let served_locales = Arc::new(crate::kernel::i18n::ServedLocales::default());
        // The stamps the response cache read serve the result cache too: one read, one rule.
        let stamps = lookup.as_ref().map(|(_, _, stamps)| Arc::clone(stamps));
        // Queries over records are compiled into one statement, unless the caller asks for
        // the executor (`x-stroom-compile: false`, which the planner's tests compare with).
        // Only documents the executor has validated are compiled (it holds the GraphQL
        // validation rules); the first request of a document is executed and validates it.
        let compile = state.planner.as_deref().filter(|planner| {
            operation == Some(OperationType::Query)
                && !headers
                    .get("x-stroom-compile")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"false"))
                && planner.is_validated(&request.query, admitted.operation_name())
        });
        let query_text = compile
            .is_none()
            .then(|| request.query.clone())
            .filter(|_| state.planner.is_some() && operation == Some(OperationType::Query));
        let compiled = compile.zip(admitted.operation()).map(|(planner, operation)| Compile {
            planner,
            document: &admitted.document,
            operation,
        });
        let response = execute(
            state,
            request,
            viewer.clone(),
            headers,
            statements.clone(),
            spent,
            served_locales.clone(),
            stamps,
            compiled,
        )
        .await;
        // Data (even partial): the document passed validation.
        if let (Some(planner), Some(query)) = (&state.planner, &query_text)
            && response.data != async_graphql::Value::Null
        {
            planner.validated(query, admitted.operation_name());
        }
        let elapsed = started.elapsed();
        // Admitted and valid: the query it brought may be stored under its hash now.
        if let Some(registration) = registration
            && !failed_validation(&response)
        {
            state.persisted.register(registration, &subject).await;
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
            answering,
            response,
            &admitted.document,
            admitted.operation(),
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
                Some(etag) => return tag(http, etag, "miss", is_get, if_none_match),
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

/// A query for the read planner: its document and chosen operation.
struct Compile<'a> {
    planner: &'a crate::graphql::plan::Planner,
    document: &'a async_graphql::parser::types::ExecutableDocument,
    operation: &'a async_graphql::parser::types::OperationDefinition,
}

/// Runs the request with its own loader, counting its SQL statements: compiled into one
/// statement where the planner can, else through the executor.
#[allow(clippy::too_many_arguments)]
async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    viewer: Viewer,
    headers: &HeaderMap,
    statements: Arc<RequestSql>,
    spent: Spent,
    served_locales: Arc<crate::kernel::i18n::ServedLocales>,
    stamps: Option<Arc<crate::kernel::stamps::Stamps>>,
    compile: Option<Compile<'_>>,
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
    let context = RequestContext {
        db: state.db.clone(),
        viewer,
        locales,
        loader,
        rate_limit: Some(spent),
        results: state.results.clone(),
        stamps: tokio::sync::OnceCell::new_with(stamps),
        served_locales,
    };
    if let Some(Compile {
        planner,
        document,
        operation,
    }) = compile
    {
        let answer = REQUEST_STATEMENTS
            .scope(
                statements.clone(),
                planner.answer(&context, document, operation, &request.variables),
            )
            .await;
        if let Some(data) = answer {
            statements.mark_compiled();
            return async_graphql::Response::new(data);
        }
    }
    let request = request.data(context);
    let schema = state.schema.clone();
    REQUEST_STATEMENTS
        .scope(
            statements,
            activity.track(async move { schema.execute(request).await }),
        )
        .await
}
