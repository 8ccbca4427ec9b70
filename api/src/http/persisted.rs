//! Automatic persisted queries (the Apollo protocol): a client sends the SHA-256 of a query
//! instead of the query, so dashboards can use short, cacheable GET requests. A hash seen for
//! the first time is answered `PERSISTED_QUERY_NOT_FOUND`; the client then sends both once.
//!
//! A query sent with its hash is stored only once the request that brought it was admitted
//! (within its rate limit, which the registration is charged to) and its document validated:
//! refused requests leave nothing behind. In Redis each client may store `CLIENT_BYTES` a day
//! and all clients together `ALL_BYTES`; past that, queries are kept in this process only.
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::kernel::bounded::{Bounded, key};
use crate::kernel::rate_limit::Subject;
use crate::kernel::shared_store::SharedStore;

/// Queries kept in this process.
const CAPACITY: usize = 2_000;
/// How long a query stays in Redis without being used.
const REDIS_TTL_SECS: u64 = 7 * 24 * 3600;
/// Bytes of queries one client may store in Redis per day.
const CLIENT_BYTES: u64 = 1024 * 1024;
/// Bytes of queries all clients together may store in Redis per day.
const ALL_BYTES: u64 = 64 * 1024 * 1024;

/// Counts a day's stored bytes for the client (`KEYS[1]`) and for all (`KEYS[2]`) and stores
/// the query (`KEYS[3]`) if both stay within their budgets (`ARGV[2]`, `ARGV[3]`).
const STORE: &str = r"
local size = tonumber(ARGV[1])
local client = redis.call('INCRBY', KEYS[1], size)
if client == size then redis.call('EXPIRE', KEYS[1], 172800) end
local all = redis.call('INCRBY', KEYS[2], size)
if all == size then redis.call('EXPIRE', KEYS[2], 172800) end
if client > tonumber(ARGV[2]) or all > tonumber(ARGV[3]) then
  return 0
end
redis.call('SET', KEYS[3], ARGV[4], 'EX', tonumber(ARGV[5]))
return 1
";

/// A query sent with its hash, to store once its request is admitted and its document valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    hash: String,
    query: String,
}

impl Registration {
    /// What storing it costs in rate-limit points: one, and one more per KiB.
    pub fn points(&self) -> u64 {
        1 + self.query.len() as u64 / 1024
    }
}

pub struct PersistedQueries {
    memory: Option<Bounded<Arc<str>>>,
    shared: Option<Arc<SharedStore>>,
}

/// Why a persisted query could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum PersistedError {
    /// The hash is unknown: send the query with it.
    NotFound,
    /// The query does not have the hash it came with.
    HashMismatch,
    /// Only version 1 of the protocol exists.
    UnsupportedVersion,
}

impl PersistedError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::HashMismatch => "BAD_REQUEST",
            Self::UnsupportedVersion => "PERSISTED_QUERY_NOT_SUPPORTED",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Self::NotFound => "PersistedQueryNotFound",
            Self::HashMismatch => "provided sha does not match query",
            Self::UnsupportedVersion => "Only version 1 of persisted queries is supported.",
        }
    }
}

fn sha256(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

impl PersistedQueries {
    /// A cache in this process, and in Redis when one is given (while Redis is away, this
    /// process's cache alone).
    pub fn new(shared: Option<Arc<SharedStore>>, max_bytes: usize) -> Self {
        Self {
            memory: Bounded::new("persisted", CAPACITY, max_bytes),
            shared,
        }
    }

    fn remember(&self, hash: &str, query: &str) {
        // Queries in this process are bounded by the store's bytes.
        if let Some(memory) = &self.memory {
            memory.put(key([hash.as_bytes()]), Arc::from(query), query.len());
        }
    }

    /// The query a request runs: its own (with its registration, to store once the request
    /// proved admissible) or the stored one its hash names.
    pub async fn resolve(
        &self,
        query: Option<String>,
        extension: &serde_json::Value,
    ) -> Result<(String, Option<Registration>), PersistedError> {
        if extension.get("version").and_then(serde_json::Value::as_i64) != Some(1) {
            return Err(PersistedError::UnsupportedVersion);
        }
        let hash = extension
            .get("sha256Hash")
            .and_then(serde_json::Value::as_str)
            .map(str::to_ascii_lowercase)
            .ok_or(PersistedError::HashMismatch)?;
        match query.filter(|q| !q.is_empty()) {
            Some(query) => {
                if sha256(&query) != hash {
                    return Err(PersistedError::HashMismatch);
                }
                let registration = Registration {
                    hash,
                    query: query.clone(),
                };
                Ok((query, Some(registration)))
            }
            None => self
                .load(&hash)
                .await
                .map(|query| (query, None))
                .ok_or(PersistedError::NotFound),
        }
    }

    /// Stores a query under its hash, for `client` (whose daily budget in Redis it counts
    /// against).
    pub async fn register(&self, registration: Registration, client: &Subject) {
        let Registration { hash, query } = registration;
        self.remember(&hash, &query);
        metrics::counter!("stroom_persisted_queries_registered_total").increment(1);
        let Some(store) = &self.shared else {
            return;
        };
        let day = chrono::Utc::now().timestamp() / 86_400;
        let who = match client {
            Subject::Key(id) => format!("key:{id}"),
            Subject::Address(ip) => format!("ip:{ip}"),
        };
        let keys = [
            store.key(&format!("apq-bytes:{who}:{day}")),
            store.key(&format!("apq-bytes:all:{day}")),
            store.key(&format!("apq:{hash}")),
        ];
        let size = query.len() as u64;
        let stored = store
            .run(|mut connection| async move {
                redis::Script::new(STORE)
                    .key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .arg(size)
                    .arg(CLIENT_BYTES)
                    .arg(ALL_BYTES)
                    .arg(query)
                    .arg(REDIS_TTL_SECS)
                    .invoke_async::<i64>(&mut connection)
                    .await
            })
            .await;
        match stored {
            Some(1) => {}
            Some(_) => {
                metrics::counter!("stroom_persisted_queries_over_budget_total").increment(1);
                tracing::debug!("persisted query over its Redis budget: kept in this process only");
            }
            None => tracing::debug!("persisted query kept in this process only"),
        }
    }

    async fn load(&self, hash: &str) -> Option<String> {
        if let Some(query) = self
            .memory
            .as_ref()
            .and_then(|m| m.get(&key([hash.as_bytes()])))
        {
            return Some(query.to_string());
        }
        let store = self.shared.as_ref()?;
        let key = store.key(&format!("apq:{hash}"));
        let query = store
            .run(|mut connection| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<String>>(&mut connection)
                    .await
            })
            .await
            .flatten()?;
        self.remember(hash, &query);
        Some(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn registers_then_serves_by_hash() {
        let cache = PersistedQueries::new(None, 1024 * 1024);
        let query = "{ themes { totalCount } }";
        let ext = json!({"version": 1, "sha256Hash": sha256(query)});
        assert_eq!(
            cache.resolve(None, &ext).await,
            Err(PersistedError::NotFound)
        );
        let (sent, registration) = cache.resolve(Some(query.into()), &ext).await.unwrap();
        assert_eq!(sent, query);
        // Not stored until registered (after admission and validation).
        assert_eq!(
            cache.resolve(None, &ext).await,
            Err(PersistedError::NotFound)
        );
        let client = Subject::Address(std::net::Ipv4Addr::LOCALHOST.into());
        cache.register(registration.unwrap(), &client).await;
        assert_eq!(
            cache.resolve(None, &ext).await,
            Ok((query.to_owned(), None))
        );
        let wrong = json!({"version": 1, "sha256Hash": "00"});
        assert_eq!(
            cache.resolve(Some(query.into()), &wrong).await,
            Err(PersistedError::HashMismatch)
        );
        assert_eq!(
            cache
                .resolve(None, &json!({"version": 2, "sha256Hash": "00"}))
                .await,
            Err(PersistedError::UnsupportedVersion)
        );
    }
}
