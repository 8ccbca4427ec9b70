//! Results of the expensive read fields — the aggregates and search — kept while the data they
//! were computed from is unchanged, so a dashboard tile refreshed by many screens is computed
//! once per change instead of once per screen.
//!
//! A result is reused while every table computing it read keeps its change stamp, and never
//! longer than the configured age: the same rule (`kernel::stamps::Freshness`) as the response
//! cache's, so a kept aggregate and a kept answer never disagree about whether data changed.
//! The stamps are read once per request, and that read is shared with the response cache's.
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
use crate::kernel::stamps::{Freshness, StampReader, Stamps};

struct Entry {
    /// The tables computing it read, with their stamps: a request that reuses the result
    /// read them too (the response cache depends on them).
    freshness: Freshness,
    value: Arc<dyn Any + Send + Sync>,
}

pub struct ResultCache {
    entries: Bounded<Arc<Entry>>,
    max_age: Duration,
    stamps: Arc<StampReader>,
    /// Every table of the database, to recognise table names in statements.
    tables: Arc<crate::kernel::stamps::TableNames>,
}

impl ResultCache {
    /// A cache of `capacity` results in `max_bytes`; `None` (no caching) for 0.
    pub fn new(
        capacity: usize,
        max_bytes: usize,
        max_age: Duration,
        stamps: Arc<StampReader>,
        tables: Arc<crate::kernel::stamps::TableNames>,
    ) -> Option<Arc<Self>> {
        Some(Arc::new(Self {
            entries: Bounded::new("results", capacity, max_bytes)?,
            max_age,
            stamps,
            tables,
        }))
    }

    fn get<T: Clone + 'static>(&self, key: &Key, stamps: &Stamps) -> Option<(T, BTreeSet<String>)> {
        let entry = self.entries.get(key)?;
        if !entry.freshness.holds(stamps, self.max_age) {
            self.entries.remove(key);
            return None;
        }
        let value = entry.value.downcast_ref::<T>().cloned()?;
        Some((value, entry.freshness.tables().map(str::to_owned).collect()))
    }

    /// Keeps a result computed after `stamps` were read, which read `tables` (not when one of
    /// them has no stamp).
    fn put<T: Send + Sync + std::fmt::Debug + 'static>(
        &self,
        key: Key,
        stamps: &Stamps,
        value: T,
        tables: &BTreeSet<String>,
    ) {
        let Some(freshness) = Freshness::of(tables, stamps) else {
            return;
        };
        // A result's parts are strings and numbers: its debug form is at least as long as
        // they are, and its shape adds at most a word per part.
        let bytes = std::mem::size_of::<Entry>()
            + std::mem::size_of::<T>()
            + 2 * format!("{value:?}").len()
            + freshness.bytes();
        let entry = Entry {
            freshness,
            value: Arc::new(value),
        };
        self.entries.put(key, Arc::new(entry), bytes);
    }
}

/// The change stamps as of this request: the response cache's read when it made one, else
/// one read (shared with the requests around it) at the first kept result the request asks for.
async fn stamps(ctx: &Context<'_>, cache: &ResultCache) -> Result<Arc<Stamps>, ApiError> {
    let request = request(ctx);
    request
        .stamps
        .get_or_try_init(|| cache.stamps.current(Instant::now()))
        .await
        .cloned()
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
    let stamps = stamps(ctx, cache).await?;
    if let Some((hit, tables)) = cache.get::<T>(&key, &stamps) {
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
    cache.put(key, &stamps, value.clone(), &part.tables_read());
    Ok(value)
}
