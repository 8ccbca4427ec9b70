//! `GET /changes.ndjson`: the change feed as newline-delimited JSON, streamed, for consumers
//! that do not speak GraphQL. The same events, rules and order as the `changes` query; the
//! cursor is an event's `id`.
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;

use super::AppState;
use super::admission::rate_limit_headers;
use super::incoming::client_address;
use crate::domain::changes::{ChangeCriteria, event_json, stream_after};
use crate::kernel::access::authenticate;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::rate_limit::Subject;

/// Events per response when `limit` is not given, and at most.
const DEFAULT_LIMIT: u64 = 1_000;
const MAX_LIMIT: u64 = 10_000;

#[derive(serde::Deserialize, Default)]
pub struct FeedParams {
    after: Option<String>,
    types: Option<String>,
    municipality: Option<String>,
    limit: Option<String>,
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({"error": message.into()}).to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the parameters ask for: the criteria, the cursor and how many events.
fn read(params: &FeedParams) -> Result<(ChangeCriteria, i64, u64), String> {
    let after = match params.after.as_deref() {
        None | Some("") => 0,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                format!("`after` is `{text}`: give the `id` of the last event you handled.")
            })?,
    };
    let limit = match params.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| format!("`limit` is `{text}`: give a number from 1 to {MAX_LIMIT}."))?,
    };
    let types = params
        .types
        .as_deref()
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| {
                    NodeKind::from_type_name(t).ok_or_else(|| {
                        format!("`types` names `{t}`, which is no type of record (such as `Initiative`).")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let municipality = params
        .municipality
        .as_deref()
        .map(|id| {
            GlobalId::decode_as(
                "municipality",
                &async_graphql::ID(id.to_owned()),
                NodeKind::Municipality,
            )
            .map_err(|e| e.to_string())
        })
        .transpose()?;
    Ok((
        ChangeCriteria {
            types,
            municipality,
        },
        after,
        limit,
    ))
}

/// `GET /changes.ndjson?after=ID&types=Initiative,Need&municipality=ID&limit=N`.
pub async fn feed(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Query<FeedParams>,
) -> Response {
    let (criteria, after, limit) = match read(&params) {
        Ok(read) => read,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let viewer = match authenticate(&state.db, authorization).await {
        Ok(Ok(viewer)) => viewer,
        Ok(Err(refusal)) => {
            let mut response = refuse(StatusCode::UNAUTHORIZED, refusal.message());
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"stroom\", error=\"invalid_token\""),
            );
            return response;
        }
        Err(_) => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable; retry in a moment.",
            );
        }
    };
    // A point per hundred events asked for, as a list of that size would cost.
    let subject = match &viewer.key {
        Some((id, _)) => Subject::Key(*id),
        None => Subject::Address(client_address(&state, &headers, peer)),
    };
    let spent = state
        .rate_limiter
        .spend(&subject, limit.div_ceil(100))
        .await;
    if !spent.allowed {
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Rate limit exceeded: retry after {} seconds, or ask for fewer events at once.",
                spent.retry_after_secs()
            ),
        );
        rate_limit_headers(response.headers_mut(), &spent);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(spent.retry_after_secs()),
        );
        return response;
    }
    let lines = stream_after(state.db.clone(), viewer, criteria, after, None, limit).map(|event| {
        event
            .map(|event| Bytes::from(format!("{}\n", event_json(&event))))
            // A failure ends the body before its end: the client sees a broken stream, never
            // a short feed that looks complete.
            .map_err(std::io::Error::other)
    });
    let mut response = Response::new(Body::from_stream(lines));
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    rate_limit_headers(response_headers, &spent);
    response
}
