//! Automatic persisted queries (the Apollo protocol): a client sends the SHA-256 of a query
//! instead of the query, so dashboards can use short, cacheable GET requests. A hash seen for
//! the first time is answered `PERSISTED_QUERY_NOT_FOUND`; the client then sends both once.
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::kernel::bounded::{Bounded, key};
use crate::kernel::shared_store::SharedStore;

/// Queries kept in this process.
const CAPACITY: usize = 2_000;
/// How long a query stays in Redis without being used.
const REDIS_TTL_SECS: u64 = 7 * 24 * 3600;

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
        if let Some(memory) = &self.memory {
            memory.put(key([hash.as_bytes()]), Arc::from(query), query.len());
        }
    }

    /// The query a request runs: its own (stored under its hash) or the stored one.
    pub async fn resolve(
        &self,
        query: Option<String>,
        extension: &serde_json::Value,
    ) -> Result<String, PersistedError> {
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
                self.store(&hash, &query).await;
                Ok(query)
            }
            None => self.load(&hash).await.ok_or(PersistedError::NotFound),
        }
    }

    async fn store(&self, hash: &str, query: &str) {
        self.remember(hash, query);
        if let Some(store) = &self.shared {
            let key = store.key(&format!("apq:{hash}"));
            let query = query.to_owned();
            let stored = store
                .run(|mut connection| async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(query)
                        .arg("EX")
                        .arg(REDIS_TTL_SECS)
                        .query_async::<()>(&mut connection)
                        .await
                })
                .await;
            if stored.is_none() {
                tracing::debug!("persisted query kept in this process only");
            }
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
        assert_eq!(
            cache.resolve(Some(query.into()), &ext).await.as_deref(),
            Ok(query)
        );
        assert_eq!(cache.resolve(None, &ext).await.as_deref(), Ok(query));
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
