//! One reader of the change feed for all live subscribers of a server.
//!
//! Each wake (a commit here, a commit another instance announced, or the key-check interval)
//! costs the same whatever the number of subscribers: one statement reads the new events,
//! with a visibility flag per distinct set of rights among the subscribers, and, when keys
//! subscribe, one statement reads the standing of their keys. Events are then handed out in
//! memory, each subscriber getting those its criteria select and its rights may read.
//!
//! A subscriber acting for a key is ended at the first wake after that key is revoked,
//! expires, or has other rights than it was admitted with: the wakes come at least every
//! key-check interval, on every instance, so revocation takes effect within seconds wherever
//! it was made. A subscriber that does not keep up (its queue is full) is ended too, told
//! where it stands, so that the memory a slow client holds is bounded.
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use entity::change_event;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use tokio::sync::{Notify, OnceCell, mpsc};

use super::ChangeCriteria;
use crate::domain::node::prime;
use crate::graphql::loader::DbLoader;
use crate::kernel::access::{KeyRefusal, Viewer, standings};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::col;

/// How the hub works.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Longest time between two checks of the subscribers' keys (and two reads of the feed).
    pub key_check: Duration,
    /// Batches of events waiting for one subscriber; one that falls further behind is ended.
    pub queue: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            key_check: Duration::from_secs(2),
            queue: 64,
        }
    }
}

/// Events read in one statement at most.
const CHUNK: u64 = 500;

/// Why a subscriber's stream ended (other than by the subscriber itself).
#[derive(Debug, Clone)]
pub enum Ending {
    /// Its key no longer admits it.
    Refused(KeyRefusal),
    /// Its key has other rights now than it was admitted with.
    RightsChanged,
    /// It fell behind: it read every event up to this one.
    Behind(i64),
    /// The feed could not be read.
    Failed,
}

/// What a subscriber receives: events it may see, and the reads it shares with every
/// subscriber of the same rights.
pub struct Arrival {
    pub events: Vec<Arc<change_event::Model>>,
    pub reads: Arc<SharedReads>,
}

/// Records the events of one wake point to, read once for all subscribers with the same
/// rights: the first `object` asked for loads them all.
pub struct SharedReads {
    pub loader: DataLoader<DbLoader, HashMapCache>,
    subjects: HashMap<NodeKind, BTreeSet<i64>>,
    primed: OnceCell<()>,
}

impl SharedReads {
    fn new(db: &DatabaseConnection, rights: Viewer) -> Self {
        Self {
            loader: DataLoader::with_cache(
                DbLoader {
                    db: db.clone(),
                    viewer: rights,
                },
                tokio::spawn,
                HashMapCache::default(),
            ),
            subjects: HashMap::new(),
            primed: OnceCell::new(),
        }
    }

    /// Loads every record of the wake into the shared loader, once.
    pub async fn prime(&self) -> async_graphql::Result<()> {
        self.primed
            .get_or_try_init(|| async {
                for (kind, ids) in &self.subjects {
                    prime(&self.loader, *kind, ids.iter().copied()).await?;
                }
                Ok::<(), async_graphql::Error>(())
            })
            .await
            .map(|_| ())
    }
}

struct Entry {
    viewer: Viewer,
    criteria: ChangeCriteria,
    sender: mpsc::Sender<Arrival>,
    ending: Arc<OnceLock<Ending>>,
    /// The last event read for this subscriber (or its start): later ones are its next.
    read_through: i64,
}

#[derive(Default)]
struct State {
    /// The last event known committed; `None` until someone subscribes.
    latest: Option<i64>,
    next_id: u64,
    entries: HashMap<u64, Entry>,
}

/// The feed's live readers on one database.
pub struct Hub {
    db: DatabaseConnection,
    settings: HubSettings,
    state: Mutex<State>,
    joined: Notify,
}

/// One subscriber's place at the hub: its arrivals, and why they ended. Leaving is dropping it.
pub struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    /// The last event before this subscriber's first arrival.
    pub start: i64,
    pub arrivals: mpsc::Receiver<Arrival>,
    ending: Arc<OnceLock<Ending>>,
}

impl Subscription {
    /// Why the arrivals stopped, once they have.
    pub fn ending(&self) -> Option<Ending> {
        self.ending.get().cloned()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        state.entries.remove(&self.id);
        state.count();
    }
}

impl State {
    fn count(&self) {
        metrics::gauge!("stroom_live_hub_subscribers").set(self.entries.len() as f64);
    }
}

impl Hub {
    pub fn new(db: DatabaseConnection, settings: HubSettings) -> Arc<Self> {
        Arc::new(Self {
            db,
            settings,
            state: Mutex::default(),
            joined: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a subscriber acts for a key.
    fn keys_subscribed(&self) -> bool {
        self.lock().entries.values().any(|e| e.viewer.key.is_some())
    }

    /// Subscribers at the hub now.
    pub fn subscribers(&self) -> usize {
        self.lock().entries.len()
    }

    /// Joins the hub: events after `start` arrive as they commit.
    pub async fn subscribe(
        self: &Arc<Self>,
        viewer: Viewer,
        criteria: ChangeCriteria,
    ) -> Result<Subscription, DbErr> {
        // The database's last event, not the hub's: a commit made elsewhere that the hub has
        // not heard of yet happened before this subscriber joined, so it is not its to see.
        let committed = crate::kernel::feed::last_event(&self.db).await?;
        let (sender, arrivals) = mpsc::channel(self.settings.queue.max(1));
        let ending = Arc::new(OnceLock::new());
        let mut state = self.lock();
        let start = std::cmp::max(committed, state.latest.unwrap_or_default());
        state.latest.get_or_insert(start);
        let id = state.next_id;
        state.next_id += 1;
        state.entries.insert(
            id,
            Entry {
                viewer,
                criteria,
                sender,
                ending: ending.clone(),
                read_through: start,
            },
        );
        state.count();
        drop(state);
        self.joined.notify_one();
        Ok(Subscription {
            hub: self.clone(),
            id,
            start,
            arrivals,
            ending,
        })
    }

    /// Reads and hands out events until `stop` says so.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut published = crate::kernel::feed::published(&self.db).subscribe();
        let mut due = true;
        loop {
            if *stop.borrow() {
                break;
            }
            if due {
                // Marked seen before reading: a commit after the read wakes us again.
                published.borrow_and_update();
                if let Err(error) = self.round().await {
                    tracing::warn!(%error, "live: could not read the change feed");
                }
            }
            due = tokio::select! {
                _ = stop.changed() => true,
                // A commit heard twice (here, and again by NOTIFY) is read once.
                _ = published.changed() => {
                    let announced = *published.borrow_and_update();
                    self.lock().latest.is_none_or(|latest| announced > latest)
                }
                () = self.joined.notified() => true,
                // The interval is for keys: with none to check, commits are what wake us.
                () = tokio::time::sleep(self.settings.key_check) => self.keys_subscribed(),
            };
        }
        // Streams end without an error: the server is going away.
        let mut state = self.lock();
        state.entries.clear();
        state.count();
    }

    /// One wake: read what committed, check the keys, hand the events out. The keys are read
    /// after the events, so an event is only handed to a key that still admitted its
    /// subscriber once the event had committed.
    pub async fn round(&self) -> Result<(), DbErr> {
        loop {
            // From the subscriber furthest behind: one that joined with rights the last read
            // did not cover is read for again.
            let (cursor, classes, keys) = {
                let state = self.lock();
                let Some(cursor) = state.entries.values().map(|e| e.read_through).min() else {
                    return Ok(());
                };
                let classes: BTreeSet<ClassKey> = state
                    .entries
                    .values()
                    .map(|e| ClassKey::of(&e.viewer))
                    .collect();
                let keys: BTreeSet<i64> = state
                    .entries
                    .values()
                    .filter_map(|e| e.viewer.key.as_ref().map(|(id, _)| *id))
                    .collect();
                (cursor, Vec::from_iter(classes), Vec::from_iter(keys))
            };
            let read = match self.read(cursor, &classes).await {
                Ok(read) => read,
                Err(error) => {
                    self.end_all(Ending::Failed);
                    return Err(error);
                }
            };
            if !keys.is_empty() {
                let now = standings(&self.db, &keys).await?;
                self.end_refused(&now);
            }
            let Some(last) = read.last().map(|(event, _)| event.sequence) else {
                return Ok(());
            };
            let full = read.len() as u64 == CHUNK;
            self.hand_out(last, &classes, read);
            if !full {
                return Ok(());
            }
        }
    }

    /// Ends every subscriber whose key no longer admits it with the rights it joined with.
    fn end_refused(&self, now: &HashMap<i64, Result<Viewer, KeyRefusal>>) {
        let mut state = self.lock();
        state.entries.retain(|_, entry| {
            let Some((key, _)) = &entry.viewer.key else {
                return true;
            };
            let ending = match now.get(key) {
                Some(Ok(viewer)) if entry.viewer.same_rights(viewer) => return true,
                Some(Ok(_)) => Ending::RightsChanged,
                Some(Err(refusal)) => Ending::Refused(*refusal),
                // Joined after the keys were read: checked at the next wake.
                None => return true,
            };
            let _ = entry.ending.set(ending);
            false
        });
        state.count();
    }

    /// The events after `cursor`, each with whether each class may read its record.
    async fn read(
        &self,
        cursor: i64,
        classes: &[ClassKey],
    ) -> Result<Vec<(Arc<change_event::Model>, Vec<bool>)>, DbErr> {
        let mut select = change_event::Entity::find()
            .filter(col(change_event::Column::Sequence).gt(cursor))
            .order_by_asc(change_event::Column::Sequence)
            .limit(CHUNK)
            .into_query();
        for (i, class) in classes.iter().enumerate() {
            let readable = super::event_visible_to(&class.viewer());
            select.expr_as(
                Expr::case(readable, 1).finally(0),
                sea_orm::sea_query::Alias::new(format!("readable_{i}")),
            );
        }
        let rows = self.db.query_all(&select).await?;
        let mut read = Vec::with_capacity(rows.len());
        for row in rows {
            let event = change_event::Model::from_query_result(&row, "")?;
            let flags = (0..classes.len())
                .map(|i| {
                    row.try_get::<i32>("", &format!("readable_{i}"))
                        .map(|flag| flag != 0)
                })
                .collect::<Result<Vec<bool>, DbErr>>()?;
            read.push((Arc::new(event), flags));
        }
        Ok(read)
    }

    fn hand_out(
        &self,
        last: i64,
        classes: &[ClassKey],
        read: Vec<(Arc<change_event::Model>, Vec<bool>)>,
    ) {
        let reads: Vec<Arc<SharedReads>> = classes
            .iter()
            .enumerate()
            .map(|(i, class)| {
                let mut shared = SharedReads::new(&self.db, class.viewer());
                for (event, flags) in &read {
                    if flags[i]
                        && let Some(kind) = NodeKind::from_type_name(&event.subject_type)
                    {
                        shared
                            .subjects
                            .entry(kind)
                            .or_default()
                            .insert(event.subject_id);
                    }
                }
                Arc::new(shared)
            })
            .collect();
        let index: HashMap<&ClassKey, usize> =
            classes.iter().enumerate().map(|(i, c)| (c, i)).collect();
        let mut state = self.lock();
        state.latest = Some(std::cmp::max(state.latest.unwrap_or_default(), last));
        state.entries.retain(|_, entry| {
            let Some(&class) = index.get(&ClassKey::of(&entry.viewer)) else {
                return true;
            };
            let events: Vec<Arc<change_event::Model>> = read
                .iter()
                .filter(|(event, flags)| {
                    event.sequence > entry.read_through
                        && flags[class]
                        && entry.criteria.selects(event)
                })
                .map(|(event, _)| event.clone())
                .collect();
            if events.is_empty() {
                entry.read_through = std::cmp::max(entry.read_through, last);
                return true;
            }
            let arrival = Arrival {
                events,
                reads: reads[class].clone(),
            };
            match entry.sender.try_send(arrival) {
                Ok(()) => {
                    entry.read_through = std::cmp::max(entry.read_through, last);
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let _ = entry.ending.set(Ending::Behind(entry.read_through));
                    metrics::counter!("stroom_live_subscribers_behind_total").increment(1);
                    false
                }
                // The subscriber left; its drop removes it too.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        state.count();
    }

    fn end_all(&self, ending: Ending) {
        let mut state = self.lock();
        for (_, entry) in state.entries.drain() {
            let _ = entry.ending.set(ending.clone());
        }
        state.count();
    }
}

/// The rights that decide what a subscriber may read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ClassKey {
    role: crate::kernel::access::Role,
    municipality: Option<i64>,
}

impl ClassKey {
    fn of(viewer: &Viewer) -> Self {
        Self {
            role: viewer.role,
            municipality: viewer.municipality_id,
        }
    }

    fn viewer(&self) -> Viewer {
        Viewer {
            role: self.role,
            key: None,
            municipality_id: self.municipality,
        }
    }
}
