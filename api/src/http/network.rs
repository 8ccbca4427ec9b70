//! `/.well-known/stroom`: the instance announces itself to the instances that follow it.
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::answer::{Format, database_failure};

/// The announcement, at the address the instance is configured to be reached at or, without
/// one, the address the request came in at.
pub async fn announcement(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = match &state.instance.public_url {
        Some(url) => url.clone(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|h| h.to_str().ok())
                .filter(|p| *p == "https")
                .unwrap_or("http");
            format!("{scheme}://{host}")
        }
    };
    match crate::domain::network::announce(&state.db, &state.instance, &base, &state.schema_version)
        .await
    {
        Ok(announcement) => {
            let mut response = (StatusCode::OK, axum::Json(announcement)).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(error) => database_failure(Format::GraphqlResponse, error),
    }
}
