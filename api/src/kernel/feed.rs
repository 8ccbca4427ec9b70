//! The change feed's write side: every audited change becomes an event, numbered when its
//! transaction is about to commit.
//!
//! Numbers come from the one row of `change_sequence`, updated as the last statement of the
//! transaction. Its row lock is held until the commit, so a second writer gets its numbers only
//! once the first has committed: numbers follow commit order, without gaps, and a consumer that
//! has seen event N will never find a later-committed event below N. (On SQLite writers are
//! serialized anyway.) The price is that writers queue for the few milliseconds between that
//! statement and their commit.
use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use serde_json::{Map, Value as Json};

use crate::kernel::ids::NodeKind;
use crate::kernel::time::now;

/// What a change did to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Created,
    Updated,
    Archived,
    Unarchived,
    /// Only links were added (`needs`, `themes`…).
    Linked,
    /// Only links were removed.
    Unlinked,
    /// The record left the sight of some readers (`Event::withdrawn_from`).
    Withdrawn,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Archived => "archived",
            Self::Unarchived => "unarchived",
            Self::Linked => "linked",
            Self::Unlinked => "unlinked",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The operation of an audited change: `created` for a record made in this transaction,
    /// `archived`/`unarchived` when `archivedAt` turned on or off, `linked`/`unlinked` when
    /// every changed field is a list that only grew or only shrank, `updated` otherwise.
    pub fn of(changes: &Map<String, Json>, created: bool) -> Self {
        if created {
            return Self::Created;
        }
        if let Some(archived) = changes.get("archivedAt") {
            match (archived["before"].is_null(), archived["after"].is_null()) {
                (true, false) => return Self::Archived,
                (false, true) => return Self::Unarchived,
                _ => {}
            }
        }
        let lists: Option<Vec<(&Vec<Json>, &Vec<Json>)>> = changes
            .values()
            .map(|c| Some((c["before"].as_array()?, c["after"].as_array()?)))
            .collect();
        match lists {
            Some(lists) if !lists.is_empty() => {
                let grew = lists
                    .iter()
                    .all(|(before, after)| before.iter().all(|b| after.contains(b)));
                let shrank = lists
                    .iter()
                    .all(|(before, after)| after.iter().all(|a| before.contains(a)));
                match (grew, shrank) {
                    (true, false) => Self::Linked,
                    (false, true) => Self::Unlinked,
                    _ => Self::Updated,
                }
            }
            _ => Self::Updated,
        }
    }
}

/// A change waiting for its transaction to commit.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: NodeKind,
    pub subject: i64,
    pub municipality: Option<i64>,
    pub operation: Operation,
    pub fields: Vec<String>,
    pub version: Option<i32>,
    /// For `Withdrawn`: who lost sight of the record, as `,role,role,`.
    pub withdrawn_from: Option<String>,
}

impl Event {
    /// Says only which record left sight, never what it became: no fields, no version.
    fn withdrawn(kind: NodeKind, subject: i64, municipality: Option<i64>, roles: String) -> Self {
        Self {
            kind,
            subject,
            municipality,
            operation: Operation::Withdrawn,
            fields: Vec::new(),
            version: None,
            withdrawn_from: Some(roles),
        }
    }
}

/// What one transaction changed so far: its events, the records it created and the versions
/// it gave them.
#[derive(Debug, Default)]
pub struct ChangeLog {
    events: Vec<Event>,
    created: HashSet<(NodeKind, i64)>,
    versions: HashMap<(NodeKind, i64), i32>,
    /// Records a change took out of sight of some roles, said after the change's own event.
    withdrawn: Vec<(NodeKind, i64, String)>,
}

impl ChangeLog {
    /// A record this transaction made, with its first version if it has one.
    pub fn created(&mut self, kind: NodeKind, id: i64, version: Option<i32>) {
        self.created.insert((kind, id));
        if let Some(version) = version {
            self.versions.insert((kind, id), version);
        }
    }

    /// Whether this transaction made the record.
    pub fn is_created(&self, kind: NodeKind, id: i64) -> bool {
        self.created.contains(&(kind, id))
    }

    /// A record's version after this transaction changed it.
    pub fn versioned(&mut self, kind: NodeKind, id: i64, version: i32) {
        self.versions.insert((kind, id), version);
    }

    /// Notes an audited change of `subject` as an event.
    pub fn changed(
        &mut self,
        kind: NodeKind,
        subject: i64,
        municipality: Option<i64>,
        changes: &Map<String, Json>,
    ) {
        let created = self.created.contains(&(kind, subject));
        self.events.push(Event {
            kind,
            subject,
            municipality,
            operation: Operation::of(changes, created),
            fields: changes.keys().cloned().collect(),
            version: self.versions.get(&(kind, subject)).copied(),
            withdrawn_from: None,
        });
        // What the change took out of sight is said right after the change.
        let mut i = 0;
        while i < self.withdrawn.len() {
            if self.withdrawn[i].0 == kind && self.withdrawn[i].1 == subject {
                let (kind, subject, roles) = self.withdrawn.remove(i);
                self.events
                    .push(Event::withdrawn(kind, subject, municipality, roles));
            } else {
                i += 1;
            }
        }
    }

    /// Notes that a change to the record took it out of sight of `roles` (`,role,…,`).
    pub fn withdraw(&mut self, kind: NodeKind, subject: i64, roles: String) {
        self.withdrawn.push((kind, subject, roles));
    }

    /// Where the log stands, to go back to if what follows is undone.
    pub fn mark(&self) -> (usize, usize) {
        (self.events.len(), self.withdrawn.len())
    }

    /// Forgets what was noted after `mark`.
    pub fn truncate(&mut self, mark: (usize, usize)) {
        self.events.truncate(mark.0);
        self.withdrawn.truncate(mark.1);
    }

    /// Whether anything was created, changed or withdrawn after `mark` (an update that
    /// changed no field notes an event without fields).
    pub fn changed_since(&self, mark: (usize, usize)) -> bool {
        self.withdrawn.len() > mark.1
            || self.events[mark.0.min(self.events.len())..]
                .iter()
                .any(|e| !e.fields.is_empty() || e.operation != Operation::Updated)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        for (kind, subject, roles) in std::mem::take(&mut self.withdrawn) {
            self.events
                .push(Event::withdrawn(kind, subject, None, roles));
        }
        std::mem::take(&mut self.events)
    }
}

/// The PostgreSQL channel on which every commit that published events says its last number.
pub const CHANNEL: &str = "stroom_changes";

/// A database's doorbell: rings after every commit that published events, for the work that
/// follows the feed (live subscriptions, webhook deliveries): after each commit in this
/// process, and from the feed watcher for the commits of other processes (`NOTIFY` on
/// PostgreSQL, polling otherwise). It holds the highest number announced. There is one per
/// database this process reaches (the tests serve many), so a commit never wakes the readers
/// of another database.
pub type Doorbell = std::sync::Arc<tokio::sync::watch::Sender<i64>>;

/// The doorbell of the database `db` reaches.
pub fn published(db: &sea_orm::DatabaseConnection) -> Doorbell {
    static DOORBELLS: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Doorbell>>> =
        std::sync::OnceLock::new();
    let mut doorbells = DOORBELLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    doorbells
        .entry(database_of(db))
        .or_insert_with(|| std::sync::Arc::new(tokio::sync::watch::Sender::new(0)))
        .clone()
}

/// Names the database a connection reaches: the same for every pool onto it.
fn database_of(db: &sea_orm::DatabaseConnection) -> String {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let options = db.get_postgres_connection_pool().connect_options();
            format!(
                "postgres://{}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or_default()
            )
        }
        sea_orm::DbBackend::Sqlite => {
            let options = db.get_sqlite_connection_pool().connect_options();
            let file = options.get_filename();
            // One file by two paths is still one database.
            let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
            format!("sqlite://{}", file.display())
        }
        other => format!("{other:?}"),
    }
}

/// Says that events up to `last` are committed, waking everyone who waits for changes.
pub fn announce(doorbell: &Doorbell, last: i64) {
    doorbell.send_modify(|known| *known = (*known).max(last));
}

/// Numbers `events` and stores them, at the end of their transaction (see the module's
/// comment for why); answers the last number, to `announce` once the transaction committed.
/// On PostgreSQL the numbering statement also queues a notification of that number on
/// `CHANNEL`, which PostgreSQL delivers to every listening instance when (and only if) the
/// transaction commits.
pub async fn publish(
    txn: &impl ConnectionTrait,
    mutation: &str,
    events: Vec<Event>,
) -> Result<Option<i64>, DbErr> {
    if events.is_empty() {
        return Ok(None);
    }
    let count = events.len() as i64;
    let mut claim = Query::update()
        .table("change_sequence")
        .value(
            "last",
            sea_orm::sea_query::ExprTrait::add(Expr::col("last"), count),
        )
        .and_where(sea_orm::sea_query::ExprTrait::eq(Expr::col("id"), 1))
        .to_owned();
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        claim.returning(Query::returning().exprs([
            Expr::col("last"),
            Expr::cust(format!("pg_notify('{CHANNEL}', last::text)")),
        ]));
    } else {
        claim.returning_col("last");
    }
    let row = txn
        .query_one(&claim)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("change_sequence".into()))?;
    let last: i64 = row.try_get("", "last")?;
    let at = now();
    let mut models = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| entity::change_event::ActiveModel {
            sequence: sea_orm::Set(last - count + 1 + i as i64),
            at: sea_orm::Set(at),
            subject_type: sea_orm::Set(event.kind.type_name().to_owned()),
            subject_id: sea_orm::Set(event.subject),
            municipality_id: sea_orm::Set(event.municipality),
            operation: sea_orm::Set(event.operation.as_str().to_owned()),
            fields: sea_orm::Set(Json::Array(
                event.fields.into_iter().map(Json::String).collect(),
            )),
            version: sea_orm::Set(event.version),
            mutation: sea_orm::Set(mutation.to_owned()),
            withdrawn_from: sea_orm::Set(event.withdrawn_from),
        })
        .peekable();
    // In statements of a bounded size: a large write (an import) has more events than one
    // statement may bind values (SQLite: 32,766).
    while models.peek().is_some() {
        let chunk: Vec<_> = models.by_ref().take(EVENTS_PER_STATEMENT).collect();
        entity::change_event::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(Some(last))
}

/// Events stored per statement (ten values each).
const EVENTS_PER_STATEMENT: usize = 1000;

/// The number of the last event published (0 before the first change).
pub async fn last_event(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let select = Query::select()
        .column("last")
        .from("change_sequence")
        .and_where(sea_orm::sea_query::ExprTrait::eq(Expr::col("id"), 1))
        .to_owned();
    match db.query_one(&select).await? {
        Some(row) => row.try_get("", "last"),
        None => Ok(0),
    }
}

/// Follows the commits of every process sharing the database until `stop`: `LISTEN` on
/// `CHANNEL` on PostgreSQL, and on every backend a read of the last number each `poll` (the
/// only way on SQLite; on PostgreSQL it covers notifications lost while the listening
/// connection was being re-established).
pub async fn watch(
    db: sea_orm::DatabaseConnection,
    poll: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let doorbell = published(&db);
    let mut listener = None;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let pool = db.get_postgres_connection_pool();
        match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(mut connected) => match connected.listen(CHANNEL).await {
                Ok(()) => listener = Some(connected),
                Err(error) => tracing::warn!(%error, "feed: cannot listen; polling instead"),
            },
            Err(error) => tracing::warn!(%error, "feed: cannot listen; polling instead"),
        }
    }
    let mut ticks = tokio::time::interval(poll.max(std::time::Duration::from_millis(10)));
    // Polls ring only when the number moved.
    let mut polled = None;
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let notified = async {
            match listener.as_mut() {
                Some(listener) => Some(listener.recv().await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            received = notified => match received {
                Some(Ok(notification)) => {
                    if let Ok(last) = notification.payload().parse::<i64>() {
                        announce(&doorbell, last);
                    }
                }
                Some(Err(error)) => {
                    // `recv` reconnects on its next call; meanwhile polling covers the gap.
                    tracing::warn!(%error, "feed: the listening connection failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                None => {}
            },
            _ = ticks.tick() => match last_event(&db).await {
                Ok(last) if polled != Some(last) => {
                    announce(&doorbell, last);
                    polled = Some(last);
                }
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, "feed: cannot read the last number"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(value: Json) -> Map<String, Json> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn names_each_kind_of_change() {
        let archive = changes(json!({"archivedAt": {"before": null, "after": "2026-01-01"}}));
        assert_eq!(Operation::of(&archive, false), Operation::Archived);
        let unarchive = changes(json!({"archivedAt": {"before": "2026-01-01", "after": null}}));
        assert_eq!(Operation::of(&unarchive, false), Operation::Unarchived);
        let link = changes(json!({"needs": {"before": ["a"], "after": ["a", "b"]}}));
        assert_eq!(Operation::of(&link, false), Operation::Linked);
        let unlink = changes(json!({"needs": {"before": ["a", "b"], "after": ["b"]}}));
        assert_eq!(Operation::of(&unlink, false), Operation::Unlinked);
        let swap = changes(json!({"themes": {"before": ["a"], "after": ["b"]}}));
        assert_eq!(Operation::of(&swap, false), Operation::Updated);
        let mixed = changes(json!({
            "needs": {"before": [], "after": ["a"]},
            "name": {"before": {"en": "x"}, "after": {"en": "y"}}
        }));
        assert_eq!(Operation::of(&mixed, false), Operation::Updated);
        let name = changes(json!({"website": {"before": null, "after": "https://x"}}));
        assert_eq!(Operation::of(&name, false), Operation::Updated);
        assert_eq!(Operation::of(&name, true), Operation::Created);
        assert_eq!(Operation::of(&Map::new(), false), Operation::Updated);
    }
}
