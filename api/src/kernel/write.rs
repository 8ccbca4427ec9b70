//! The frame of every mutation: who may write, one transaction, optimistic concurrency, user
//! errors, and the audit entry written with the change.
use async_graphql::{Enum, SimpleObject};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Value};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, IdenStatic, IntoActiveModel, Iterable, ModelTrait, QueryFilter,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use serde_json::{Map, Value as Json, json};

use crate::kernel::access::{Role, Viewer};
use crate::kernel::error::ApiError;
use crate::kernel::feed::{ChangeLog, publish};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::Record;
use crate::kernel::record::{Owner, Table, column_of};
use crate::kernel::time::now;

/// What kind of problem a user error is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserErrorCode {
    /// A value is missing, malformed or out of range.
    BadUserInput,
    /// A referenced record does not exist (or is not visible to you).
    NotFound,
    /// The record changed since you read it (send its current `version`), or the value is taken.
    Conflict,
}

/// A problem with the input of a mutation: nothing was changed.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    /// The path to the input field at fault, such as `["input", "name"]`; null when the problem
    /// is not one field's.
    pub field: Option<Vec<String>>,
    /// What is wrong, for a person to read.
    pub message: String,
    /// What kind of problem it is.
    pub code: UserErrorCode,
    /// For a version conflict: the record's current version.
    pub current_version: Option<i32>,
}

impl UserError {
    pub fn new(field: &str, message: impl Into<String>, code: UserErrorCode) -> Self {
        let field = (!field.is_empty()).then(|| {
            std::iter::once("input".to_owned())
                .chain(field.split('.').map(str::to_owned))
                .collect()
        });
        Self {
            field,
            message: message.into(),
            code,
            current_version: None,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(field, message, UserErrorCode::BadUserInput)
    }
}

/// Why a mutation did not happen: the caller's input (reported as user errors, status 200), or
/// something else (reported as a GraphQL error).
#[derive(Debug)]
pub enum Refusal {
    User(Vec<UserError>),
    Api(ApiError),
}

pub type WriteResult<T> = Result<T, Refusal>;

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::BadUserInput { field, message } => {
                let field = field.unwrap_or_default();
                let field = field.strip_prefix("input.").unwrap_or(&field).to_owned();
                Refusal::User(vec![UserError::invalid(&field, message)])
            }
            ApiError::NotFound(message) => {
                Refusal::User(vec![UserError::new("", message, UserErrorCode::NotFound)])
            }
            other => Refusal::Api(other),
        }
    }
}

impl From<sea_orm::DbErr> for Refusal {
    fn from(error: sea_orm::DbErr) -> Self {
        Refusal::Api(error.into())
    }
}

impl From<UserError> for Refusal {
    fn from(error: UserError) -> Self {
        Refusal::User(vec![error])
    }
}

impl From<Vec<UserError>> for Refusal {
    fn from(errors: Vec<UserError>) -> Self {
        Refusal::User(errors)
    }
}

/// Collects user errors while parsing an input, so a client learns all of them at once.
#[derive(Default)]
pub struct Problems(Vec<UserError>);

impl Problems {
    /// Keeps the value, or notes the problem and returns `None`.
    pub fn check<T>(&mut self, result: Result<T, UserError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    pub fn push(&mut self, error: UserError) {
        self.0.push(error);
    }

    /// Ends parsing: an error if anything was wrong.
    pub fn finish(self) -> WriteResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Refusal::User(self.0))
        }
    }
}

/// Something that follows every audited change, in its transaction (the search index does):
/// called once per write, before it commits, with the records of a kind it changed.
pub type ChangeHook = for<'a> fn(
    &'a DatabaseTransaction,
    NodeKind,
    &'a [i64],
)
    -> futures_util::future::BoxFuture<'a, Result<(), sea_orm::DbErr>>;

static CHANGE_HOOKS: std::sync::RwLock<Vec<ChangeHook>> = std::sync::RwLock::new(Vec::new());

/// Registers a hook to run on every audited change (once, however often it is registered).
pub fn on_change(hook: ChangeHook) {
    let mut hooks = CHANGE_HOOKS.write().unwrap_or_else(|e| e.into_inner());
    if !hooks.iter().any(|h| std::ptr::fn_addr_eq(*h, hook)) {
        hooks.push(hook);
    }
}

/// Audit entries stored per statement (eight values each).
const AUDITS_PER_STATEMENT: usize = 500;

/// A part of a write that can be undone alone (`Write::part`): where the change log and the
/// audit entries stood when it began.
#[must_use = "a part ends with `keep` or `undo`"]
pub struct Part {
    log: (usize, usize),
    audits: usize,
}

/// One mutation in progress.
pub struct Write {
    pub txn: DatabaseTransaction,
    pub viewer: Viewer,
    pub mutation: &'static str,
    /// Its changes so far, published to the change feed as it commits.
    log: std::sync::Mutex<ChangeLog>,
    /// Rung once they are committed.
    doorbell: crate::kernel::feed::Doorbell,
    /// The records changed so far, for the change hooks (in the order first changed).
    changed: std::sync::Mutex<Vec<(NodeKind, i64)>>,
    /// Kept parts whose savepoints are not released yet.
    releases: std::sync::atomic::AtomicUsize,
    /// Parts begun and not yet kept or undone.
    open_parts: std::sync::atomic::AtomicUsize,
    /// Its audit entries, stored together as it commits.
    audits: std::sync::Mutex<Vec<entity::audit_entry::ActiveModel>>,
    /// Whether it may change copies of followed instances' records (`allow_copies`).
    copies_allowed: std::sync::atomic::AtomicBool,
    /// Live records looked up, by table and ID, when the write keeps them
    /// (`keep_references`): an import checks the same municipality and themes row after row.
    references: Option<std::sync::Mutex<References>>,
}

type References = std::collections::HashMap<(&'static str, i64), Box<dyn std::any::Any + Send>>;

impl Write {
    /// Starts a mutation: refuses anonymous and read-only callers, opens the transaction.
    #[tracing::instrument(level = "debug", name = "write", skip_all, fields(mutation = mutation))]
    pub async fn start(
        db: &DatabaseConnection,
        viewer: Viewer,
        mutation: &'static str,
    ) -> Result<Self, ApiError> {
        require_writer(&viewer)?;
        // SQLite: take the write lock at once, so two writers queue rather than fail halfway.
        let options = TransactionOptions {
            sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = db.begin_with_options(options).await?;
        Ok(Self {
            txn,
            viewer,
            mutation,
            log: Default::default(),
            doorbell: crate::kernel::feed::published(db),
            changed: Default::default(),
            audits: Default::default(),
            releases: Default::default(),
            open_parts: Default::default(),
            copies_allowed: Default::default(),
            references: None,
        })
    }

    /// Commits a successful change; rolls back a refused one. User errors come back as data.
    #[tracing::instrument(level = "debug", name = "commit", skip_all, fields(mutation = self.mutation, refused = result.is_err()))]
    pub async fn finish<T>(
        self,
        result: WriteResult<T>,
    ) -> Result<(Option<T>, Vec<UserError>), ApiError> {
        match result {
            Ok(value) => {
                if let Err(error) = self.store_audit_entries().await {
                    self.txn.rollback().await?;
                    return Err(error.into());
                }
                if let Err(error) = self.follow_changes().await {
                    self.txn.rollback().await?;
                    return Err(error.into());
                }
                let events = self.change_log().take_events();
                let published = publish(&self.txn, self.mutation, events).await?;
                // The stamps of what this request wrote move in the same commit (all of them
                // when the writes were not watched, or one of them was not understood).
                let written = crate::kernel::db::REQUEST_STATEMENTS
                    .try_with(|sql| sql.written())
                    .ok()
                    .filter(|w| !w.unknown);
                crate::kernel::stamps::bump(&self.txn, written.as_ref().map(|w| &w.tables)).await?;
                self.txn.commit().await?;
                if let Some(last) = published {
                    crate::kernel::feed::announce(&self.doorbell, last);
                }
                Ok((Some(value), Vec::new()))
            }
            Err(Refusal::User(errors)) => {
                self.txn.rollback().await?;
                Ok((None, errors))
            }
            Err(Refusal::Api(error)) => {
                self.txn.rollback().await?;
                Err(error)
            }
        }
    }

    /// Opens a part of this write that can be undone alone (one row of an import): a
    /// savepoint, and the change log's place. End it with `keep` or `undo`.
    pub async fn part(&self) -> Result<Part, sea_orm::DbErr> {
        // Between parts, a long write's audit entries go to the database, so memory stays
        // bounded however many rows an import has.
        if self.open_parts.load(std::sync::atomic::Ordering::Relaxed) == 0
            && self.audit_entries().len() >= AUDITS_PER_STATEMENT
        {
            self.store_audit_entries().await?;
        }
        // Kept parts are released here, in the same round trip as the new savepoint.
        let sql = format!("{}SAVEPOINT part", self.take_releases());
        self.txn.execute_unprepared(&sql).await?;
        self.open_parts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Part {
            log: self.change_log().mark(),
            audits: self.audit_entries().len(),
        })
    }

    /// Whether the part changed anything (an update to the same values does not).
    pub fn changed_in(&self, part: &Part) -> bool {
        self.change_log().changed_since(part.log)
    }

    /// Keeps what the part did, as part of the whole write. Its savepoint is released with the
    /// next statement about parts (or by the commit, which ends every savepoint).
    pub fn keep(&self, part: Part) {
        let _ = part;
        self.releases
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.open_parts
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Undoes what the part did, in the database, the change log and the audit entries; the
    /// rest of the write goes on (on PostgreSQL even after a statement of the part failed).
    pub async fn undo(&self, part: Part) -> Result<(), sea_orm::DbErr> {
        let sql = format!(
            "{}ROLLBACK TO SAVEPOINT part; RELEASE SAVEPOINT part",
            self.take_releases()
        );
        self.txn.execute_unprepared(&sql).await?;
        self.open_parts
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.change_log().truncate(part.log);
        self.audit_entries().truncate(part.audits);
        Ok(())
    }

    /// `RELEASE SAVEPOINT part; ` for each kept part not released yet (innermost first).
    fn take_releases(&self) -> String {
        let kept = self.releases.swap(0, std::sync::atomic::Ordering::Relaxed);
        "RELEASE SAVEPOINT part; ".repeat(kept)
    }

    fn audit_entries(&self) -> std::sync::MutexGuard<'_, Vec<entity::audit_entry::ActiveModel>> {
        self.audits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores the write's audit entries, a few hundred per statement.
    async fn store_audit_entries(&self) -> Result<(), sea_orm::DbErr> {
        let entries = std::mem::take(&mut *self.audit_entries());
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            let chunk: Vec<_> = entries.by_ref().take(AUDITS_PER_STATEMENT).collect();
            entity::audit_entry::Entity::insert_many(chunk)
                .exec_without_returning(&self.txn)
                .await?;
        }
        Ok(())
    }

    fn change_log(&self) -> std::sync::MutexGuard<'_, ChangeLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a record this mutation made (for its event in the change feed); `insert_new`
    /// does so itself.
    pub fn note_created(&self, kind: NodeKind, id: i64, version: Option<i32>) {
        self.change_log().created(kind, id, version);
    }

    /// Refuses a change to a record of another municipality (or of the shared data) to an editor.
    pub fn may_write(&self, municipality: Option<i64>) -> Result<(), ApiError> {
        may_write(&self.viewer, municipality)
    }

    /// Lets this write change copies of followed instances' records: following does, and a
    /// translation made here may add to a copy's texts. Every other change to a copy is refused
    /// (`update_versioned`): it changes at its source only.
    pub fn allow_copies(&self) {
        self.copies_allowed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Refuses a change that only an administrator may make.
    pub fn admin_only(&self, what: &str) -> Result<(), ApiError> {
        if self.viewer.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "Only an admin key may {what}."
            )))
        }
    }

    /// Keeps the live records this write looks up for its later checks, until it changes
    /// one of their table (for a write of many records that name the same few).
    pub fn keep_references(&mut self) {
        self.references = Some(Default::default());
    }

    fn kept<E: Table>(&self, id: i64) -> Option<E::Model> {
        let references = self.references.as_ref()?;
        let references = references.lock().unwrap_or_else(|e| e.into_inner());
        references
            .get(&(E::NAME, id))
            .and_then(|m| m.downcast_ref::<E::Model>())
            .cloned()
    }

    fn remember<E: Table>(&self, model: &E::Model) {
        if let Some(references) = &self.references {
            references
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((E::NAME, E::id(model)), Box::new(model.clone()));
        }
    }

    fn forget<E: Table>(&self) {
        if let Some(references) = &self.references {
            references
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(table, _), _| *table != E::NAME);
        }
    }

    /// A live (not archived) record, by ID, for an input that references it.
    pub async fn live<E: Record>(&self, field: &str, id: i64) -> WriteResult<E::Model> {
        let kind = E::KIND;
        if let Some(model) = self.kept::<E>(id) {
            return Ok(model);
        }
        let model = E::find()
            .filter(E::id_expr().eq(id))
            .one(&self.txn)
            .await?
            .ok_or_else(|| {
                UserError::new(
                    field,
                    format!("No {} has the ID {}.", kind.type_name(), kind.id(id).0),
                    UserErrorCode::NotFound,
                )
            })?;
        if E::ARCHIVABLE && archived_at::<E>(&model) {
            return Err(UserError::invalid(
                field,
                format!(
                    "The {} {} is archived; unarchive it first.",
                    kind.type_name(),
                    kind.id(id).0
                ),
            )
            .into());
        }
        self.remember::<E>(&model);
        Ok(model)
    }

    /// Any record by ID, archived or not, for the record a mutation changes.
    pub async fn existing<E: Record>(&self, id: i64) -> WriteResult<E::Model> {
        let kind = E::KIND;
        E::find()
            .filter(E::id_expr().eq(id))
            .one(&self.txn)
            .await?
            .ok_or_else(|| {
                UserError::new(
                    "id",
                    format!("No {} has the ID {}.", kind.type_name(), kind.id(id).0),
                    UserErrorCode::NotFound,
                )
                .into()
            })
    }

    /// Writes `active` over the record if its version is still `version`, growing the version.
    /// A stale version is refused with the current one.
    pub async fn update_versioned<E, A>(
        &self,
        id: i64,
        version: i32,
        mut active: A,
    ) -> WriteResult<E::Model>
    where
        E: Record,
        A: ActiveModelTrait<Entity = E> + Send,
    {
        let kind = E::KIND;
        self.forget::<E>();
        let version_column = column::<E>("version")?;
        let updated_column = column::<E>("updated_at")?;
        let seen_before = if E::VISIBILITY_FOLLOWS_VALUES {
            Some(self.seen_by::<E>(id).await?)
        } else {
            None
        };
        active.set(version_column, Value::Int(Some(version + 1)));
        active.set(updated_column, Value::ChronoDateTimeUtc(Some(now())));
        let mut update = E::update_many()
            .set(active)
            .filter(E::id_expr().eq(id))
            .filter(column_of(E::NAME, "version").eq(version));
        // A copy of a followed instance's record changes at its source only: in the same
        // statement, so that checking costs nothing.
        let copies_refused = E::COPIED
            && !self
                .copies_allowed
                .load(std::sync::atomic::Ordering::Relaxed);
        if copies_refused {
            update = update.filter(
                sea_orm::sea_query::Expr::exists(
                    sea_orm::sea_query::Query::select()
                        .expr(sea_orm::sea_query::Expr::val(1))
                        .from("remote_copy")
                        .and_where(column_of("remote_copy", "subject_type").eq(E::NAME))
                        .and_where(column_of("remote_copy", "subject_id").eq(id))
                        .take(),
                )
                .not(),
            );
        }
        let result = update
            .exec(&self.txn)
            .await
            .map_err(|error| conflict_or::<E>(error))?;
        let current = self.existing::<E>(id).await?;
        if result.rows_affected == 0 {
            let current_version = current.get(version_column);
            let current_version = match current_version {
                Value::Int(Some(v)) => v,
                _ => 0,
            };
            if copies_refused && current_version == version {
                return Err(UserError::invalid(
                    "id",
                    format!(
                        "This {} is a copy of a record of an instance this one follows: it changes at its source only (translations and endorsements made here stay yours).",
                        kind.type_name()
                    ),
                )
                .into());
            }
            return Err(UserError {
                field: Some(vec!["input".into(), "version".into()]),
                message: format!(
                    "The {} changed since you read it: you sent version {version}, the current \
                     version is {current_version}. Read it again, then retry your change.",
                    kind.type_name()
                ),
                code: UserErrorCode::Conflict,
                current_version: Some(current_version),
            }
            .into());
        }
        self.change_log().versioned(kind, id, version + 1);
        if let Some(before) = seen_before {
            let after = self.seen_by::<E>(id).await?;
            let lost: Vec<&str> = Role::ALL
                .iter()
                .zip(before.iter().zip(&after))
                .filter(|(_, (before, after))| **before && !**after)
                .map(|(role, _)| role.as_str())
                .collect();
            if !lost.is_empty() {
                self.change_log()
                    .withdraw(kind, id, format!(",{},", lost.join(",")));
            }
        }
        Ok(current)
    }

    /// Which roles (in `Role::ALL`'s order) may see the record now, in one statement.
    async fn seen_by<E: Table>(&self, id: i64) -> WriteResult<Vec<bool>> {
        use sea_orm::QueryTrait;
        let mut select = E::find().filter(E::id_expr().eq(id)).into_query();
        select.clear_selects();
        for role in Role::ALL {
            let visible = E::visible_to(&role.viewer());
            let seen = if visible.is_empty() {
                sea_orm::sea_query::Expr::val(1)
            } else {
                sea_orm::sea_query::Expr::case(visible, 1).finally(0).into()
            };
            select.expr_as(seen, sea_orm::sea_query::Alias::new(role.as_str()));
        }
        let row = self.txn.query_one(&select).await?;
        Ok(Role::ALL
            .iter()
            .map(|role| {
                row.as_ref()
                    .and_then(|row| row.try_get::<i32>("", role.as_str()).ok())
                    .is_some_and(|seen| seen != 0)
            })
            .collect())
    }

    /// Writes the audit entry of a change to `subject`.
    pub async fn audit(
        &self,
        kind: NodeKind,
        subject: i64,
        municipality: Option<i64>,
        changes: Map<String, Json>,
    ) -> WriteResult<()> {
        let (key_id, actor) = self.viewer.key.clone().unwrap_or((0, "unknown".to_owned()));
        let changes_for_feed = changes.clone();
        let entry = entity::audit_entry::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            at: sea_orm::ActiveValue::Set(now()),
            api_key_id: sea_orm::ActiveValue::Set((key_id > 0).then_some(key_id)),
            actor: sea_orm::ActiveValue::Set(actor),
            mutation: sea_orm::ActiveValue::Set(self.mutation.to_owned()),
            subject_type: sea_orm::ActiveValue::Set(kind.type_name().to_owned()),
            subject_id: sea_orm::ActiveValue::Set(subject),
            municipality_id: sea_orm::ActiveValue::Set(municipality),
            changes: sea_orm::ActiveValue::Set(Json::Object(changes)),
        };
        // Stored as the write commits, with the others (one statement for an ordinary
        // mutation, a few hundred entries per statement for an import).
        self.audit_entries().push(entry);
        self.change_log()
            .changed(kind, subject, municipality, &changes_for_feed);
        // Every change passes here: what follows changes (the search index) sees each changed
        // record once, in the same transaction, as the write ends.
        self.changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((kind, subject));
        Ok(())
    }

    /// Runs the change hooks over the records this write changed, once each, a kind at a time
    /// (so a write of many records, an import, is followed in a few statements). A record a
    /// part undid may be among them: a hook finds it as it now is.
    async fn follow_changes(&self) -> Result<(), sea_orm::DbErr> {
        let changed = std::mem::take(&mut *self.changed.lock().unwrap_or_else(|e| e.into_inner()));
        if changed.is_empty() {
            return Ok(());
        }
        let mut kinds: Vec<(NodeKind, Vec<i64>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (kind, id) in changed {
            if !seen.insert((kind, id)) {
                continue;
            }
            match kinds.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, ids)) => ids.push(id),
                None => kinds.push((kind, vec![id])),
            }
        }
        let hooks = CHANGE_HOOKS
            .read()
            .map(|hooks| hooks.clone())
            .unwrap_or_default();
        for hook in hooks {
            for (kind, ids) in &kinds {
                hook(&self.txn, *kind, ids).await?;
            }
        }
        Ok(())
    }

    /// Audits the change from `before` to `after` (either may be absent).
    pub async fn audit_change<E: Record>(
        &self,
        subject: i64,
        municipality: Option<i64>,
        before: Option<&E::Model>,
        after: Option<&E::Model>,
    ) -> WriteResult<()> {
        self.audit_linked::<E>(subject, municipality, before, after, Map::new())
            .await
    }

    /// `audit_change` with the changes to the record's links in the same entry.
    async fn audit_linked<E: Record>(
        &self,
        subject: i64,
        municipality: Option<i64>,
        before: Option<&E::Model>,
        after: Option<&E::Model>,
        links: Map<String, Json>,
    ) -> WriteResult<()> {
        let mut changes = diff(
            before.map(|m| snapshot::<E>(m)),
            after.map(|m| snapshot::<E>(m)),
        );
        changes.extend(links);
        self.audit(E::KIND, subject, municipality, changes).await
    }

    /// Inserts `model` as a new record, its ID given by the database (the model's is ignored).
    pub async fn insert_new<E>(&self, model: E::Model) -> WriteResult<E::Model>
    where
        E: Record,
        E::Model: IntoActiveModel<E::ActiveModel>,
        E::ActiveModel: sea_orm::ActiveModelBehavior,
    {
        let search_text = E::search_text(&model);
        let mut active = model.into_active_model().reset_all();
        active.not_set(column::<E>("id")?);
        set_search_text::<E>(&mut active, search_text)?;
        let stored = active
            .insert(&self.txn)
            .await
            .map_err(|error| conflict_or::<E>(error))?;
        self.note_created(E::KIND, E::id(&stored), version_of::<E>(&stored));
        Ok(stored)
    }

    /// Inserts `model` as a new record and audits it: the common end of a create.
    pub async fn insert_audited<E>(
        &self,
        municipality: Option<i64>,
        model: E::Model,
    ) -> WriteResult<E::Model>
    where
        E: Record,
        E::Model: IntoActiveModel<E::ActiveModel>,
        E::ActiveModel: sea_orm::ActiveModelBehavior,
    {
        let stored = self.insert_new::<E>(model).await?;
        self.audit_created::<E>(municipality, &stored, Map::new())
            .await?;
        Ok(stored)
    }

    /// Audits a record inserted with `insert_new`, with the changes to its links made since
    /// (they need its ID): one entry for the whole create.
    pub async fn audit_created<E: Record>(
        &self,
        municipality: Option<i64>,
        stored: &E::Model,
        links: Map<String, Json>,
    ) -> WriteResult<()> {
        self.audit_linked::<E>(E::id(stored), municipality, None, Some(stored), links)
            .await
    }

    /// Stores `after` over the record `before` (checking the client's `version`) and audits
    /// the fields that changed: the common end of an update.
    pub async fn replace_audited<E>(
        &self,
        version: i32,
        municipality: Option<i64>,
        before: &E::Model,
        after: E::Model,
    ) -> WriteResult<E::Model>
    where
        E: Record,
        E::Model: IntoActiveModel<E::ActiveModel>,
    {
        self.replace_linked::<E>(version, municipality, before, after, Map::new())
            .await
    }

    /// `replace_audited` for a record whose links were replaced too: their changes join
    /// the record's in one audit entry.
    pub async fn replace_linked<E>(
        &self,
        version: i32,
        municipality: Option<i64>,
        before: &E::Model,
        after: E::Model,
        links: Map<String, Json>,
    ) -> WriteResult<E::Model>
    where
        E: Record,
        E::Model: IntoActiveModel<E::ActiveModel>,
    {
        let id = E::id(before);
        let search_text = E::search_text(&after);
        let mut active = after.into_active_model().reset_all();
        set_search_text::<E>(&mut active, search_text)?;
        let stored = self.update_versioned::<E, _>(id, version, active).await?;
        self.audit_linked::<E>(id, municipality, Some(before), Some(&stored), links)
            .await?;
        Ok(stored)
    }
}

/// A unique constraint refusing the write is the caller's conflict, named by the table; any
/// other database error is not the caller's.
fn conflict_or<E: Table>(error: sea_orm::DbErr) -> Refusal {
    match crate::kernel::error::unique_violation(&error) {
        Some(columns) => Refusal::User(vec![E::conflict(&columns)]),
        None => error.into(),
    }
}

/// Refuses anonymous and read-only callers.
pub fn require_writer(viewer: &Viewer) -> Result<(), ApiError> {
    match viewer.role {
        Role::Anonymous => Err(ApiError::Unauthenticated(
            "Changes need an API key with the editor or admin role: send `Authorization: Bearer <key>`."
                .into(),
        )),
        Role::Partner => Err(ApiError::Forbidden(
            "A partner key reads; changes need an editor or admin key.".into(),
        )),
        Role::Editor | Role::Admin => Ok(()),
    }
}

/// An editor writes its own municipality's records only; an admin writes everything.
pub fn may_write(viewer: &Viewer, municipality: Option<i64>) -> Result<(), ApiError> {
    match viewer.role {
        Role::Admin => Ok(()),
        Role::Editor if municipality.is_some() && municipality == viewer.municipality_id => Ok(()),
        Role::Editor if municipality.is_none() => Err(ApiError::Forbidden(
            "This record is shared by all municipalities: only an admin key may change it.".into(),
        )),
        Role::Editor => Err(ApiError::Forbidden(
            "This record belongs to another municipality: your editor key writes only its own municipality's data."
                .into(),
        )),
        _ => require_writer(viewer),
    }
}

/// The folded search text a table keeps of its texts, computed from the record as stored.
fn set_search_text<E: Table>(active: &mut E::ActiveModel, text: Option<String>) -> WriteResult<()> {
    if let Some(text) = text {
        active.set(column::<E>("search_text")?, Value::String(Some(text)));
    }
    Ok(())
}

fn column<E: EntityTrait>(name: &str) -> Result<E::Column, ApiError> {
    E::Column::iter()
        .find(|c| c.as_str() == name)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no column {name}")))
}

/// A record's version, for tables that have one.
pub fn version_of<E: Table>(model: &E::Model) -> Option<i32> {
    match model.get(column::<E>("version").ok()?) {
        Value::Int(version) => version,
        _ => None,
    }
}

fn archived_at<E: Table>(model: &E::Model) -> bool {
    match column::<E>("archived_at") {
        Ok(c) => !matches!(model.get(c), Value::ChronoDateTimeUtc(None)),
        Err(_) => false,
    }
}

/// Columns never listed as changes: they change with every write, or are derived.
const UNAUDITED: &[&str] = &["id", "search_text", "created_at", "updated_at", "version"];

/// `snake_case` as `camelCase`, as the API names fields.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn to_json(value: Value) -> Json {
    match value {
        Value::Bool(v) => json!(v),
        Value::TinyInt(v) => json!(v),
        Value::SmallInt(v) => json!(v),
        Value::Int(v) => json!(v),
        Value::BigInt(v) => json!(v),
        Value::String(v) => json!(v),
        Value::Json(v) => v.map(|j| *j).unwrap_or(Json::Null),
        Value::ChronoDate(v) => json!(v.map(|d| d.to_string())),
        Value::ChronoDateTimeUtc(v) => {
            json!(v.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
        }
        other => json!(format!("{other:?}")),
    }
}

/// A record as the audit trail shows it: API field names, references as global IDs.
pub fn snapshot<E: Table>(model: &E::Model) -> Map<String, Json> {
    let mut fields = Map::new();
    for column in E::Column::iter() {
        let name = column.as_str();
        if UNAUDITED.contains(&name) {
            continue;
        }
        let value = model.get(column);
        let target = E::REFERENCES
            .iter()
            .find(|(column, _)| *column == name)
            .map(|(_, kind)| *kind);
        let (key, value) = match (target, &value) {
            (Some(target), Value::BigInt(id)) => (
                camel_case(name.trim_end_matches("_id")),
                json!(id.map(|id| target.id(id).0)),
            ),
            _ => (camel_case(name), to_json(value)),
        };
        let (key, value) = E::audited(key, value);
        fields.insert(key, value);
    }
    fields
}

/// `{"field": {"before": …, "after": …}}` for the fields that differ.
pub fn diff(
    before: Option<Map<String, Json>>,
    after: Option<Map<String, Json>>,
) -> Map<String, Json> {
    let before = before.unwrap_or_default();
    let after = after.unwrap_or_default();
    let mut changes = Map::new();
    let keys: Vec<&String> = after
        .keys()
        .chain(before.keys().filter(|k| !after.contains_key(*k)))
        .collect();
    for key in keys {
        let old = before.get(key).cloned().unwrap_or(Json::Null);
        let new = after.get(key).cloned().unwrap_or(Json::Null);
        if old != new {
            changes.insert(key.clone(), json!({"before": old, "after": new}));
        }
    }
    changes
}

/// A change that is not a column: a link added or removed (`needs`, `targetGroups`…).
pub fn link_change(field: &str, before: Json, after: Json) -> Map<String, Json> {
    let mut changes = Map::new();
    changes.insert(field.to_owned(), json!({"before": before, "after": after}));
    changes
}

impl Write {
    /// The municipality a record belongs to (following contact people to their organisation,
    /// partnerships and support requests to what they belong to); `None` when shared.
    pub async fn owner_of<E: Table>(&self, model: &E::Model) -> WriteResult<Option<i64>> {
        let mut owner = E::owner(model);
        // Two hops at most: a partnership's programme, or a contact's organisation.
        for _ in 0..3 {
            owner = match owner {
                Owner::Municipality(municipality) => return Ok(municipality),
                Owner::Shared => return Ok(None),
                Owner::Through(owner_of, id) => {
                    owner_of(&self.txn, id).await?.ok_or_else(|| {
                        Refusal::Api(ApiError::internal(anyhow::anyhow!(
                            "the record {id} a {} belongs to is missing",
                            E::NAME
                        )))
                    })?
                }
            };
        }
        Ok(None)
    }

    /// Checks that the viewer may change this record; returns its municipality.
    pub async fn authorize<E: Table>(&self, model: &E::Model) -> WriteResult<Option<i64>> {
        let municipality = self.owner_of::<E>(model).await?;
        self.may_write(municipality)?;
        Ok(municipality)
    }

    /// Archives or unarchives a record (never deletes it), with its version checked.
    pub async fn set_archived<E: Record>(
        &self,
        id: i64,
        version: i32,
        archived: bool,
    ) -> WriteResult<E::Model> {
        let kind = E::KIND;
        let before = self.existing::<E>(id).await?;
        let municipality = self.authorize::<E>(&before).await?;
        if archived_at::<E>(&before) == archived {
            return Err(UserError::invalid(
                "id",
                format!(
                    "The {} is {} archived.",
                    kind.type_name(),
                    if archived { "already" } else { "not" }
                ),
            )
            .into());
        }
        let mut active = <E::ActiveModel as ActiveModelTrait>::default();
        active.set(
            column::<E>("archived_at")?,
            Value::ChronoDateTimeUtc(archived.then(now)),
        );
        let after = self.update_versioned::<E, _>(id, version, active).await?;
        self.audit_change::<E>(id, municipality, Some(&before), Some(&after))
            .await?;
        Ok(after)
    }

    /// Stores the folded search text of a record whose texts changed.
    pub async fn refresh_search_text<E: Table>(&self, model: &E::Model) -> WriteResult<()> {
        if let Some(text) = E::search_text(model) {
            let mut active = <E::ActiveModel as ActiveModelTrait>::default();
            active.set(column::<E>("search_text")?, Value::String(Some(text)));
            E::update_many()
                .set(active)
                .filter(E::id_expr().eq(E::id(model)))
                .exec(&self.txn)
                .await?;
        }
        Ok(())
    }
}

impl Write {
    /// Several live records by ID, in the order given; each missing or archived one is a
    /// user error naming its position.
    pub async fn live_all<E: Record>(
        &self,
        field: &str,
        ids: &[i64],
    ) -> WriteResult<Vec<E::Model>> {
        let kind = E::KIND;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let kept: Vec<E::Model> = ids.iter().filter_map(|id| self.kept::<E>(*id)).collect();
        if kept.len() == ids.len() {
            return Ok(kept);
        }
        let found = E::find()
            .filter(E::id_expr().is_in(ids.iter().copied()))
            .all(&self.txn)
            .await?;
        let mut problems = Problems::default();
        let mut models = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            match found.iter().find(|m| E::id(m) == *id) {
                None => problems.push(UserError::new(
                    &format!("{field}.{i}"),
                    format!("No {} has the ID {}.", kind.type_name(), kind.id(*id).0),
                    UserErrorCode::NotFound,
                )),
                Some(model) if E::ARCHIVABLE && archived_at::<E>(model) => {
                    problems.push(UserError::invalid(
                        &format!("{field}.{i}"),
                        format!("The {} {} is archived.", kind.type_name(), kind.id(*id).0),
                    ))
                }
                Some(model) => models.push(model.clone()),
            }
        }
        problems.finish()?;
        for model in &models {
            self.remember::<E>(model);
        }
        Ok(models)
    }

    /// Replaces the rows of a link table for one record (`owner`, a record of the link's own
    /// kind), linking it to `ids` (none given: the links stay as they are); returns the change
    /// of `field` for the audit entry, empty when nothing changed.
    pub async fn replace_links<C: ColumnTrait>(
        &self,
        field: &str,
        links: &Links<C>,
        owner: i64,
        ids: Option<&[i64]>,
    ) -> WriteResult<Map<String, Json>> {
        use sea_orm::sea_query::{Query, SelectStatement};
        let Some(ids) = ids else {
            return Ok(Map::new());
        };
        let table = links.own.entity_name();
        let mut before: Vec<i64> = Vec::new();
        // A record made by this write has no links yet: nothing to read or remove.
        if !self.change_log().is_created(links.own_kind, owner) {
            let select: SelectStatement = Query::select()
                .column(links.other)
                .from(table.clone())
                .and_where(Expr::col((table.clone(), links.own)).eq(owner))
                .take();
            for row in self.txn.query_all(&select).await? {
                before.push(row.try_get("", links.other.as_str())?);
            }
            before.sort_unstable();
            let delete = Query::delete()
                .from_table(table.clone())
                .and_where(Expr::col((table.clone(), links.own)).eq(owner))
                .take();
            self.txn.execute(&delete).await?;
        }
        if !ids.is_empty() {
            let now = now();
            let mut insert = Query::insert();
            insert.into_table(table).columns([
                Alias::new(links.own.as_str()),
                Alias::new(links.other.as_str()),
                Alias::new("created_at"),
            ]);
            for id in ids {
                insert.values_panic([owner.into(), (*id).into(), now.into()]);
            }
            self.txn.execute(&insert).await?;
        }
        let mut after = ids.to_vec();
        after.sort_unstable();
        Ok(if before == after {
            Map::new()
        } else {
            let kind = links.other_kind;
            link_change(field, global_ids(kind, &before), global_ids(kind, &after))
        })
    }
}

/// A link table's two columns, typed: the one holding the owning record's ID and the one
/// holding the linked record's, with the two records' kinds (for the audit trail).
pub struct Links<C> {
    own: C,
    own_kind: NodeKind,
    other: C,
    other_kind: NodeKind,
}

impl<C: ColumnTrait> Links<C> {
    /// `Links::new::<learning::Entity, theme::Entity>(LearningId, ThemeId)`.
    pub const fn new<Own: Record, Other: Record>(own: C, other: C) -> Self {
        Self {
            own,
            own_kind: Own::KIND,
            other,
            other_kind: Other::KIND,
        }
    }
}

/// Global IDs of a list of row IDs, for the audit trail.
pub fn global_ids(kind: NodeKind, ids: &[i64]) -> Json {
    Json::Array(ids.iter().map(|id| json!(kind.id(*id).0)).collect())
}

/// A user error when a referenced record belongs to another municipality.
pub fn same_municipality(
    field: &str,
    expected: i64,
    actual: Option<i64>,
    what: &str,
) -> Result<(), UserError> {
    match actual {
        Some(actual) if actual != expected => Err(UserError::invalid(
            field,
            format!("The {what} belongs to another municipality."),
        )),
        _ => Ok(()),
    }
}
