//! Results of the expensive read fields — the aggregates and search — kept while the data they
//! were computed from is unchanged, so a dashboard tile refreshed by many screens is computed
//! once per change instead of once per screen.
//!
//! Every change made through the API writes an audit entry in its own transaction, so the
//! highest audit entry ID is a version of the data that every instance sees in the shared
//! database: a result is reused only while that version is the one it was computed at (one
//! index lookup per request), and never longer than the configured age, which bounds the
//! staleness after changes that bypass the API (a bulk load into a running system).
use std::any::Any;
use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::Context;
use lru::LruCache;

use crate::graphql::context::request;
use crate::kernel::db::{REQUEST_STATEMENTS, RequestSql};
use crate::kernel::error::ApiError;

struct Entry {
    version: i64,
    stored: Instant,
    value: Arc<dyn Any + Send + Sync>,
    /// The tables computing it read: a request that reuses the result read them too (the
    /// response cache depends on them).
    tables: BTreeSet<String>,
}

pub struct ResultCache {
    entries: Mutex<LruCache<String, Entry>>,
    max_age: Duration,
    /// Every table of the database, to recognise table names in statements.
    tables: Arc<HashSet<String>>,
}

impl ResultCache {
    /// A cache of `capacity` results; `None` (no caching) for a capacity of 0.
    pub fn new(
        capacity: usize,
        max_age: Duration,
        tables: Arc<HashSet<String>>,
    ) -> Option<Arc<Self>> {
        NonZeroUsize::new(capacity).map(|capacity| {
            Arc::new(Self {
                entries: Mutex::new(LruCache::new(capacity)),
                max_age,
                tables,
            })
        })
    }

    fn get<T: Clone + 'static>(&self, key: &str, version: i64) -> Option<(T, BTreeSet<String>)> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        if entry.version != version || entry.stored.elapsed() > self.max_age {
            entries.pop(key);
            return None;
        }
        let value = entry.value.downcast_ref::<T>().cloned()?;
        Some((value, entry.tables.clone()))
    }

    fn put<T: Send + Sync + 'static>(
        &self,
        key: String,
        version: i64,
        value: T,
        tables: BTreeSet<String>,
    ) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.put(
                key,
                Entry {
                    version,
                    stored: Instant::now(),
                    value: Arc::new(value),
                    tables,
                },
            );
        }
    }
}

/// The data's version: the number of the change feed's last event (0 for a database never
/// changed through the API). Numbers follow commit order, so a change committed after a
/// result was cached always moves it. Read once per request.
async fn data_version(ctx: &Context<'_>) -> Result<i64, ApiError> {
    let request = request(ctx);
    request
        .data_version
        .get_or_try_init(|| async {
            Ok::<i64, ApiError>(crate::kernel::feed::last_event(&request.db).await?)
        })
        .await
        .copied()
}

/// The field's result: reused from the cache when this field was asked with the same arguments,
/// by a viewer who sees the same data, in the same languages, at the current data version;
/// computed by `compute` otherwise.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn cached<T, F>(ctx: &Context<'_>, compute: F) -> async_graphql::Result<T>
where
    T: Clone + Send + Sync + 'static,
    F: Future<Output = async_graphql::Result<T>>,
{
    let request = request(ctx);
    let Some(cache) = &request.results else {
        return compute.await;
    };
    let field = ctx.field();
    let arguments = field
        .arguments()
        .map_err(|e| async_graphql::Error::new(e.message))?;
    let key = format!(
        "{}|{:?}|{:?}|{:?}",
        field.name(),
        arguments,
        request.viewer.role,
        request.locales
    );
    let version = data_version(ctx).await?;
    if let Some((hit, tables)) = cache.get::<T>(&key, version) {
        metrics::counter!("stroom_result_cache_total", "outcome" => "hit").increment(1);
        let _ = REQUEST_STATEMENTS.try_with(|sql| sql.add_reads(&tables));
        return Ok(hit);
    }
    metrics::counter!("stroom_result_cache_total", "outcome" => "miss").increment(1);
    // Computed as a part of the request that notes what it reads, to be kept with the result.
    let part = Arc::new(
        RequestSql::part_of(REQUEST_STATEMENTS.try_with(Arc::clone).ok())
            .reading(cache.tables.clone()),
    );
    part.note_reads();
    let value = REQUEST_STATEMENTS.scope(part.clone(), compute).await?;
    cache.put(key, version, value.clone(), part.tables_read());
    Ok(value)
}
