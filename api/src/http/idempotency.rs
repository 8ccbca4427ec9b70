//! `Idempotency-Key` on mutations (the IETF httpapi draft's semantics): a client that retries a
//! mutation under the same key gets the first answer again instead of making a second change.
//! The same key with another request is refused (422), and a retry that arrives while the first
//! request still runs is told to wait (409). Keys belong to the API key that sent them and are
//! kept for a day in the shared database, so a retry that reaches another instance is answered
//! the same.
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use sha2::{Digest, Sha256};

use crate::kernel::time::now;

pub const HEADER: &str = "idempotency-key";
/// How long an answer is given again.
pub const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest answer kept: mutation payloads are small; a retry of a larger one is told so.
const MAX_KEPT_BYTES: usize = 1 << 20;
const TABLE: &str = "idempotency_record";

/// Why an `Idempotency-Key` header was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct BadKey(pub &'static str);

/// The header's key: an sf-string (`"…"`) or a bare token, 1 to 255 visible ASCII characters.
/// `Ok(None)` when there is no header.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, BadKey> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| BadKey("The Idempotency-Key header must be ASCII text."))?
        .trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if text.is_empty() || text.len() > 255 {
        return Err(BadKey(
            "The Idempotency-Key header must hold 1 to 255 characters, such as a UUID.",
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
        return Err(BadKey(
            "The Idempotency-Key header may hold only visible ASCII characters, such as a UUID.",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// What identifies a request's content: its document, operation name and variables.
pub fn fingerprint(query: &str, operation_name: Option<&str>, variables: &str) -> String {
    let mut digest = Sha256::new();
    for part in [query, operation_name.unwrap_or_default(), variables] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    hex::encode(digest.finalize())
}

/// What to do with a request that carries a key.
pub enum Claim {
    /// The first request under this key: run it, then [`Ticket::finish`] keeps its answer.
    Fresh(Ticket),
    /// A retry: the first request's answer.
    Replay(Response),
    /// The key was used for another request.
    Mismatch,
    /// The first request under this key is still running.
    InProgress,
}

/// The right to answer a key's first request.
pub struct Ticket {
    id: i64,
}

/// Takes `key` for the caller's API key, or finds what it already holds. A key whose first
/// request never finished (the process stopped) is given up after `abandon_after`.
pub async fn claim(
    db: &DatabaseConnection,
    api_key_id: i64,
    key: &str,
    fingerprint: &str,
    abandon_after: Duration,
) -> Result<Claim, DbErr> {
    let backend = db.get_database_backend();
    let now = now();
    let expired = now - chrono::Duration::from_std(KEPT_FOR).unwrap_or_default();
    let abandoned = now - chrono::Duration::from_std(abandon_after).unwrap_or_default();
    // Old answers go; so does this key's unfinished first request if it was abandoned.
    let forget = Query::delete()
        .from_table(TABLE)
        .cond_where(
            Expr::col("created_at")
                .lt(expired)
                .or(Expr::col("api_key_id")
                    .eq(api_key_id)
                    .and(Expr::col("idempotency_key").eq(key))
                    .and(Expr::col("status").is_null())
                    .and(Expr::col("created_at").lt(abandoned))),
        )
        .to_owned();
    db.execute_raw(backend.build(&forget)).await?;

    let insert = Query::insert()
        .into_table(TABLE)
        .columns(["api_key_id", "idempotency_key", "fingerprint", "created_at"])
        .values_panic([
            api_key_id.into(),
            key.into(),
            fingerprint.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns(["api_key_id", "idempotency_key"])
                .do_nothing()
                .to_owned(),
        )
        .returning_col("id")
        .to_owned();
    if let Some(row) = db.query_one_raw(backend.build(&insert)).await? {
        return Ok(Claim::Fresh(Ticket {
            id: row.try_get("", "id")?,
        }));
    }

    let kept = Query::select()
        .columns(["fingerprint", "status", "content_type", "body"])
        .from(TABLE)
        .and_where(Expr::col("api_key_id").eq(api_key_id))
        .and_where(Expr::col("idempotency_key").eq(key))
        .to_owned();
    let Some(row) = db.query_one_raw(backend.build(&kept)).await? else {
        // Given up between the two statements: as good as still running.
        return Ok(Claim::InProgress);
    };
    let kept_fingerprint: String = row.try_get("", "fingerprint")?;
    if kept_fingerprint != fingerprint {
        return Ok(Claim::Mismatch);
    }
    let Some(status) = row.try_get::<Option<i32>>("", "status")? else {
        return Ok(Claim::InProgress);
    };
    let content_type: Option<String> = row.try_get("", "content_type")?;
    let body: Option<String> = row.try_get("", "body")?;
    Ok(Claim::Replay(replay(status, content_type, body)))
}

fn replay(status: i32, content_type: Option<String>, body: Option<String>) -> Response {
    let mut response = Response::new(Body::from(body.unwrap_or_default()));
    *response.status_mut() = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    if let Some(value) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

impl Ticket {
    /// Keeps the first request's answer and passes it on. An answer that says nothing was done
    /// (the service was unavailable, the caller over its budget) is not kept: a retry runs again.
    pub async fn finish(self, db: &DatabaseConnection, response: Response) -> Response {
        let backend = db.get_database_backend();
        let status = response.status();
        let retry_runs_again = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
        if retry_runs_again {
            self.release(db).await;
            return response;
        }
        // Answers are built in memory before they are sent: reading one back costs no wait.
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, "idempotency: an answer could not be read");
                return Response::from_parts(parts, Body::empty());
            }
        };
        let kept = if bytes.len() <= MAX_KEPT_BYTES {
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            // The change was made once; a retry must not make it again, even unanswered.
            serde_json::json!({"errors": [{
                "message": "The first answer under this Idempotency-Key was too large to keep; the request was carried out once.",
                "extensions": {"code": "IDEMPOTENT_ANSWER_NOT_KEPT"},
            }]})
            .to_string()
        };
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let update = Query::update()
            .table(TABLE)
            .value("status", i32::from(status.as_u16()))
            .value("content_type", content_type)
            .value("body", kept)
            .and_where(Expr::col("id").eq(self.id))
            .to_owned();
        if let Err(error) = db.execute_raw(backend.build(&update)).await {
            tracing::warn!(%error, "idempotency: an answer could not be kept");
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    /// Frees the key: the request did nothing a retry would repeat.
    pub async fn release(self, db: &DatabaseConnection) {
        let backend = db.get_database_backend();
        let delete = Query::delete()
            .from_table(TABLE)
            .and_where(Expr::col("id").eq(self.id))
            .to_owned();
        if let Err(error) = db.execute_raw(backend.build(&delete)).await {
            tracing::warn!(%error, "idempotency: a key could not be freed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn keys_are_sf_strings_or_tokens_of_visible_ascii() {
        assert_eq!(key(&HeaderMap::new()), Ok(None));
        assert_eq!(
            key(&headers("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"")),
            Ok(Some("8e03978e-40d5-43e8-bc93-6894a57f9324".into()))
        );
        assert_eq!(key(&headers("retry-1")), Ok(Some("retry-1".into())));
        for bad in ["\"\"", "a b", &"x".repeat(256), "\"a\"b\""] {
            assert!(key(&headers(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprints_tell_the_parts_apart() {
        let a = fingerprint("mutation{a}", Some("x"), "{}");
        assert_eq!(a, fingerprint("mutation{a}", Some("x"), "{}"));
        assert_ne!(a, fingerprint("mutation{a}x", None, "{}"));
        assert_ne!(a, fingerprint("mutation{a}", Some("x"), "{\"v\":1}"));
    }
}
