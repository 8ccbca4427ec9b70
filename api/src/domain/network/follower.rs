//! Following: beside the server, each followed instance's change feed is read from the last
//! event applied, the records its events name are fetched, and their copies are written in
//! one transaction with the new cursor, so a batch is applied whole or not at all. A source
//! that fails (down, slow, garbage, a revoked key) is retried later, with growing pauses and
//! jitter, and says what went wrong in `lastError`; the copies stay served meanwhile.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use entity::followed_instance;
use sea_orm::{ActiveModelTrait, ActiveValue, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, TransactionTrait};

use super::following::FollowedType;
use super::mirror::{
    FRAGMENTS, LEARNING_SELECTION, OUTCOME_SELECTION, RemoteLearning, RemoteOutcome,
    apply_learning, apply_outcome, endorsed, learning, outcome,
};
use super::source::{PAGE_EVENTS, Problem, Source};
use crate::kernel::access::{Role, Viewer};
use crate::kernel::time::now;
use crate::kernel::write::{UserError, Write};

/// The longest pause before a failing source is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub struct Follower {
    db: DatabaseConnection,
    /// How often each source is read when it had nothing new.
    poll: Duration,
}

/// A source that failed: when to try it again, and how often it failed in a row, as of the
/// followed instance's version (an admin's change to it, such as resuming, retries at once).
struct Backoff {
    until: Instant,
    failures: u32,
    version: i32,
}

impl Follower {
    pub fn new(db: DatabaseConnection, poll: Duration) -> Self {
        Self { db, poll }
    }

    /// Follows every followed instance until `stop` says so.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut backoff: HashMap<i64, Backoff> = HashMap::new();
        loop {
            if *stop.borrow() {
                return;
            }
            let mut busy = false;
            match followed_instance::Entity::find()
                .filter(followed_instance::Column::ArchivedAt.is_null())
                .filter(followed_instance::Column::Paused.eq(false))
                .all(&self.db)
                .await
            {
                Ok(instances) => {
                    // A pause is kept for an instance still followed and unchanged since it
                    // failed; an admin's change (resuming) retries it at once.
                    backoff.retain(|id, b| {
                        instances.iter().any(|i| i.id == *id && i.version == b.version)
                    });
                    for instance in instances {
                        if backoff
                            .get(&instance.id)
                            .is_some_and(|b| Instant::now() < b.until)
                        {
                            continue;
                        }
                        match self.sync(&instance).await {
                            Ok(applied) => {
                                backoff.remove(&instance.id);
                                busy |= applied >= PAGE_EVENTS;
                            }
                            Err(problem) => {
                                let failures = backoff.get(&instance.id).map_or(0, |b| b.failures) + 1;
                                let pause = pause_after(self.poll, failures);
                                tracing::warn!(url = %instance.url, error = %problem, retry_in_ms = pause.as_millis() as u64, "following: reading the instance failed");
                                metrics::counter!("stroom_follow_errors_total", "instance" => instance.url.clone()).increment(1);
                                self.note_problem(&instance, &problem).await;
                                backoff.insert(
                                    instance.id,
                                    Backoff {
                                        until: Instant::now() + pause,
                                        failures,
                                        version: instance.version,
                                    },
                                );
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "following: cannot read the followed instances"),
            }
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Reads one page of the instance's feed and applies it; how many events it applied.
    async fn sync(&self, instance: &followed_instance::Model) -> Result<usize, Problem> {
        // It acts for the admin key that followed it: no longer admitted, it stops.
        let refusal = self
            .key_refusal(&self.db, instance)
            .await
            .map_err(|e| Problem(format!("cannot read here: {e}")))?;
        if let Some(refusal) = refusal {
            self.pause_for_key(instance, refusal).await?;
            return Ok(0);
        }
        let source = Source::new(&instance.url, instance.api_key.clone())?;
        if instance.source_head.is_none() {
            return self.snapshot(instance, &source).await;
        }
        let types = followed(instance);
        let mut type_names: Vec<&str> = types.iter().map(|t| t.type_name()).collect();
        // An endorsement changed at the source changes the learning it endorses.
        if types.contains(&FollowedType::Learnings) {
            type_names.push(ENDORSEMENT);
        }
        let events = source
            .events(&instance.feed_url, instance.last_event, &type_names)
            .await?;
        let Some(last) = events.last().map(|e| e.id) else {
            // Nothing new: the source is caught up with, and works again if it failed.
            if instance.last_error.is_some() || instance.source_head != Some(instance.last_event) {
                self.note_caught_up(instance).await?;
            }
            return Ok(0);
        };
        // Each record once, as the source shows it now; events of types not followed are
        // passed over.
        let mut named: Vec<(FollowedType, String)> = Vec::new();
        let mut endorsements: Vec<String> = Vec::new();
        for event in &events {
            if event.object_type == ENDORSEMENT && type_names.contains(&ENDORSEMENT) {
                endorsements.push(event.object_id.clone());
                continue;
            }
            let Some(kind) = types.iter().find(|t| t.type_name() == event.object_type) else {
                continue;
            };
            if !named.iter().any(|(_, id)| *id == event.object_id) {
                named.push((*kind, event.object_id.clone()));
            }
        }
        for learning in endorsed_learnings(&source, instance, &endorsements).await? {
            if !named.iter().any(|(_, id)| *id == learning) {
                named.push((FollowedType::Learnings, learning));
            }
        }
        let copies = fetch(&source, instance, &named).await?;
        let applied = events.len();
        // A full page: more is waiting; the source's newest event says how much (the lag).
        let head = if applied >= PAGE_EVENTS {
            source.head(&instance.graphql_url).await.ok()
        } else {
            None
        };
        self.apply(instance, &copies, Some(last), head, applied)
            .await?;
        Ok(applied)
    }

    /// The first read of an instance: every learning it shows now, a page at a time, then
    /// its feed from the event that was newest when the reading began.
    async fn snapshot(
        &self,
        instance: &followed_instance::Model,
        source: &Source,
    ) -> Result<usize, Problem> {
        let head = source.head(&instance.graphql_url).await?;
        let types = followed(instance);
        let mut copied = 0;
        for (n, kind) in types.iter().enumerate() {
            let mut cursor: Option<String> = None;
            loop {
                let (ids, next) = source
                    .record_ids(&instance.graphql_url, kind.list_field(), cursor.as_deref())
                    .await?;
                let named: Vec<(FollowedType, String)> =
                    ids.into_iter().map(|id| (*kind, id)).collect();
                let copies = fetch(source, instance, &named).await?;
                copied += copies.len();
                // The cursor moves with the last page only: a snapshot cut short starts again.
                let done = next.is_none() && n + 1 == types.len();
                self.apply(instance, &copies, done.then_some(head), None, copies.len())
                    .await?;
                match next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(copied)
    }

    /// Writes the copies in one transaction, with the feed's new cursor when given.
    async fn apply(
        &self,
        instance: &followed_instance::Model,
        copies: &[Copy],
        cursor: Option<i64>,
        head: Option<i64>,
        applied: usize,
    ) -> Result<(), Problem> {
        let write = Write::start(&self.db, follower(instance), "follow")
            .await
            .map_err(|e| Problem(format!("cannot write here: {e}")))?;
        write.allow_copies();
        let result = async {
            // Another instance of this service, following the same source over the same
            // database, may have applied the batch already: the cursor says so (on PostgreSQL
            // the row is locked until the commit; SQLite writers take turns anyway).
            let mut current = followed_instance::Entity::find_by_id(instance.id);
            if self.db.get_database_backend() == sea_orm::DbBackend::Postgres {
                current = current.lock_exclusive();
            }
            let current = current
                .one(&write.txn)
                .await?
                .unwrap_or_else(|| instance.clone());
            if current.last_event != instance.last_event
                || current.source_head != instance.source_head
            {
                return Ok(false);
            }
            // The key is read again with the batch: none is applied after it stopped
            // admitting the instance (the next round pauses it).
            if self.key_refusal(&write.txn, &current).await?.is_some() {
                return Ok(false);
            }
            for copy in copies {
                match copy {
                    Copy::Learning(id, remote) => {
                        apply_learning(&write, instance, id, remote.as_ref()).await?
                    }
                    Copy::Outcome(id, remote) => {
                        apply_outcome(&write, instance, id, remote.as_ref()).await?
                    }
                }
            }
            // The cursor moves in the same transaction as the copies.
            let mut active = current.clone().into_active_model();
            if let Some(cursor) = cursor {
                active.last_event = ActiveValue::Set(cursor);
                let newest = current.source_head.unwrap_or(0).max(cursor).max(head.unwrap_or(0));
                active.source_head = ActiveValue::Set(Some(newest));
                metrics::gauge!("stroom_follow_lag_events", "instance" => instance.url.clone())
                    .set((newest - cursor) as f64);
            }
            active.events_applied = ActiveValue::Set(current.events_applied + applied as i64);
            active.last_applied_at = ActiveValue::Set(Some(now()));
            active.last_error = ActiveValue::Set(None);
            active.failing_since = ActiveValue::Set(None);
            active.update(&write.txn).await?;
            Ok(true)
        }
        .await;
        match write.finish(result).await {
            Ok((Some(true), _)) => {
                metrics::counter!("stroom_follow_events_applied_total", "instance" => instance.url.clone()).increment(applied as u64);
                Ok(())
            }
            // Applied by another instance: nothing to do.
            Ok((Some(false), _)) => Ok(()),
            Ok((None, errors)) => Err(Problem(format!(
                "the copies were refused here: {}",
                errors
                    .iter()
                    .map(|e: &UserError| e.message.clone())
                    .collect::<Vec<_>>()
                    .join(" ")
            ))),
            Err(error) => Err(Problem(format!("cannot write here: {error}"))),
        }
    }

    /// Why the key the instance acts for no longer admits it (none: the command line's).
    async fn key_refusal(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        instance: &followed_instance::Model,
    ) -> Result<Option<&'static str>, sea_orm::DbErr> {
        let Some(key) = instance.api_key_id else {
            return Ok(None);
        };
        let standing = crate::kernel::access::standings(db, &[key]).await?;
        Ok(crate::kernel::access::admin_refusal(standing.get(&key)))
    }

    /// Pauses an instance whose key no longer admits it, and says why.
    async fn pause_for_key(
        &self,
        instance: &followed_instance::Model,
        refusal: &str,
    ) -> Result<(), Problem> {
        let now = now();
        tracing::warn!(url = %instance.url, refusal, "following: paused, its key no longer admits it");
        let mut active = instance.clone().into_active_model();
        active.paused = ActiveValue::Set(true);
        active.last_error = ActiveValue::Set(Some(format!(
            "Paused on {}: the API key that followed it {refusal}. An admin may resume it; it then acts for that admin's key.",
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
        active.failing_since = ActiveValue::Set(Some(instance.failing_since.unwrap_or(now)));
        self.bookkeep(active)
            .await
            .map_err(|e| Problem(format!("cannot write here: {e}")))
    }

    /// Clears the last problem once the source is caught up with.
    async fn note_caught_up(&self, instance: &followed_instance::Model) -> Result<(), Problem> {
        let mut active = instance.clone().into_active_model();
        active.last_error = ActiveValue::Set(None);
        active.failing_since = ActiveValue::Set(None);
        active.source_head = ActiveValue::Set(Some(instance.last_event));
        self.bookkeep(active)
            .await
            .map_err(|e| Problem(format!("cannot write here: {e}")))
    }

    /// Says what went wrong, and since when it fails.
    async fn note_problem(&self, instance: &followed_instance::Model, problem: &Problem) {
        let mut active = instance.clone().into_active_model();
        active.last_error = ActiveValue::Set(Some(problem.0.chars().take(1000).collect()));
        active.failing_since = ActiveValue::Set(Some(instance.failing_since.unwrap_or_else(now)));
        if let Err(error) = self.bookkeep(active).await {
            tracing::warn!(%error, "following: cannot note the problem");
        }
    }

    /// Following's own bookkeeping (not a change of data: no audit entry, no event); the
    /// table's stamp moves with it, so no kept answer shows the old state.
    async fn bookkeep(&self, active: followed_instance::ActiveModel) -> Result<(), sea_orm::DbErr> {
        let txn = self.db.begin().await?;
        active.update(&txn).await?;
        let tables = std::collections::BTreeSet::from(["followed_instance".to_owned()]);
        crate::kernel::stamps::bump(&txn, Some(&tables)).await?;
        txn.commit().await
    }
}

/// A record of the source as it shows it now, checked (`None`: it shows it no more).
enum Copy {
    Learning(String, Option<RemoteLearning>),
    Outcome(String, Option<RemoteOutcome>),
}

/// What is followed of an instance.
fn followed(instance: &followed_instance::Model) -> Vec<FollowedType> {
    let mut types: Vec<FollowedType> = instance
        .types
        .as_array()
        .map(|t| t.iter().filter_map(|t| t.as_str().and_then(FollowedType::parse)).collect())
        .unwrap_or_default();
    if types.is_empty() {
        types.push(FollowedType::Learnings);
    }
    types
}

/// The type of record endorsements are in the feed.
const ENDORSEMENT: &str = "LearningEndorsement";

/// The learnings these endorsements of the source's endorse.
async fn endorsed_learnings(
    source: &Source,
    instance: &followed_instance::Model,
    endorsements: &[String],
) -> Result<Vec<String>, Problem> {
    if endorsements.is_empty() {
        return Ok(Vec::new());
    }
    let selection = format!("{LEARNING_SELECTION} {OUTCOME_SELECTION}");
    let nodes = source
        .nodes(&instance.graphql_url, &selection, FRAGMENTS, endorsements)
        .await?;
    let mut learnings = Vec::new();
    for (id, node) in endorsements.iter().zip(&nodes) {
        if let Some(learning) = endorsed(id, node)? {
            learnings.push(learning);
        }
    }
    Ok(learnings)
}

/// The records of these IDs as the source shows them, checked, in one request.
async fn fetch(
    source: &Source,
    instance: &followed_instance::Model,
    named: &[(FollowedType, String)],
) -> Result<Vec<Copy>, Problem> {
    let mut copies = Vec::with_capacity(named.len());
    if named.is_empty() {
        return Ok(copies);
    }
    let ids: Vec<String> = named.iter().map(|(_, id)| id.clone()).collect();
    let selection = format!("{LEARNING_SELECTION} {OUTCOME_SELECTION}");
    let nodes = source
        .nodes(&instance.graphql_url, &selection, FRAGMENTS, &ids)
        .await?;
    for ((kind, id), node) in named.iter().zip(&nodes) {
        copies.push(match kind {
            FollowedType::Learnings => Copy::Learning(id.clone(), learning(id, node)?),
            FollowedType::Outcomes => Copy::Outcome(id.clone(), outcome(id, node)?),
        });
    }
    Ok(copies)
}

/// Who the audit trail says wrote a copy.
fn follower(instance: &followed_instance::Model) -> Viewer {
    Viewer {
        role: Role::Admin,
        key: Some((0, format!("following {}", instance.url))),
        municipality_id: None,
    }
}

/// The pause after `failures` failures in a row: doubling from the poll interval, at most
/// `MAX_BACKOFF`, with up to a half of it added at random so that sources are not all retried
/// at once.
fn pause_after(poll: Duration, failures: u32) -> Duration {
    let base = poll
        .max(Duration::from_millis(100))
        .saturating_mul(1 << failures.min(12))
        .min(MAX_BACKOFF);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos()) as u64
        % (base.as_millis() as u64 / 2 + 1);
    base + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_limit_with_jitter() {
        let poll = Duration::from_secs(1);
        for failures in 1..20 {
            let pause = pause_after(poll, failures);
            let base = poll.saturating_mul(1 << failures.min(12)).min(MAX_BACKOFF);
            assert!(pause >= base && pause <= base + base / 2, "{failures}: {pause:?}");
        }
        assert!(pause_after(poll, 30) <= MAX_BACKOFF + MAX_BACKOFF / 2);
    }
}
