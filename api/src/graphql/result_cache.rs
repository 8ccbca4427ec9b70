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
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::Context;

use crate::graphql::context::request;
use crate::kernel::bounded::{Bounded, Key, key};
use crate::kernel::db::{REQUEST_STATEMENTS, RequestSql};
use crate::kernel::error::ApiError;

#[derive(Clone)]
struct Entry {
    version: i64,
    stored: Instant,
    value: Arc<dyn Any + Send + Sync>,
    /// The tables computing it read: a request that reuses the result read them too (the
    /// response cache depends on them).
    tables: BTreeSet<String>,
}

pub struct ResultCache {
    entries: Bounded<Arc<Entry>>,
    max_age: Duration,
    /// Every table of the database, to recognise table names in statements.
    tables: Arc<crate::kernel::stamps::TableNames>,
}

impl ResultCache {
    /// A cache of `capacity` results in `max_bytes`; `None` (no caching) for 0.
    pub fn new(
        capacity: usize,
        max_bytes: usize,
        max_age: Duration,
        tables: Arc<crate::kernel::stamps::TableNames>,
    ) -> Option<Arc<Self>> {
        Some(Arc::new(Self {
            entries: Bounded::new("results", capacity, max_bytes)?,
            max_age,
            tables,
        }))
    }

    fn get<T: Clone + 'static>(&self, key: &Key, version: i64) -> Option<(T, BTreeSet<String>)> {
        let entry = self.entries.get(key)?;
        if entry.version != version || entry.stored.elapsed() > self.max_age {
            self.entries.remove(key);
            return None;
        }
        let value = entry.value.downcast_ref::<T>().cloned()?;
        Some((value, entry.tables.clone()))
    }

    fn put<T: Send + Sync + std::fmt::Debug + 'static>(
        &self,
        key: Key,
        version: i64,
        value: T,
        tables: BTreeSet<String>,
    ) {
        // A result's parts are strings and numbers: its debug form is at least as long as
        // they are, and its shape adds at most a word per part.
        let bytes = std::mem::size_of::<Entry>()
            + std::mem::size_of::<T>()
            + 2 * format!("{value:?}").len()
            + tables.iter().map(|t| t.len() + 24).sum::<usize>();
        let entry = Entry {
            version,
            stored: Instant::now(),
            value: Arc::new(value),
            tables,
        };
        self.entries.put(key, Arc::new(entry), bytes);
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
    T: Clone + Send + Sync + std::fmt::Debug + 'static,
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
    let identity = format!(
        "{}|{:?}|{:?}|{:?}",
        field.name(),
        arguments,
        request.viewer.role,
        request.locales
    );
    let key = key([identity.as_bytes()]);
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
