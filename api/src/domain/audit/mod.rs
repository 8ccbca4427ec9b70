//! The audit trail: every change made through the API, who made it and what it changed. Admins
//! read all of it; editors read their own municipality's, and each record shows its history.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entity::audit_entry;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{Condition, EntityTrait, QueryFilter, QueryTrait};

use crate::domain::api_key::ApiKey;
use crate::domain::node::{Node, load};
use crate::graphql::context::{request, viewer};
use crate::graphql::filter::Filter;
use crate::graphql::loader::{Link, Only};
use crate::graphql::pagination::{Connection, PageArgs, SortKey, SortKind, children_where, list};
use crate::graphql::scalars::{DateTime, Json};
use crate::kernel::access::{Role, Viewer};
use crate::kernel::error::ApiError;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::record::{Table, col};

impl Table for audit_entry::Entity {
    const NAME: &'static str = "audit_entry";
    const ARCHIVABLE: bool = false;
    fn id(model: &audit_entry::Model) -> i64 {
        model.id
    }
    /// Admins read the whole trail, editors their municipality's part, others nothing.
    fn visible_to(viewer: &Viewer) -> Condition {
        match (viewer.role, viewer.municipality_id) {
            (Role::Admin, _) => Condition::all(),
            (Role::Editor, Some(municipality)) => {
                Condition::all().add(col(audit_entry::Column::MunicipalityId).eq(municipality))
            }
            _ => Condition::all().add(sea_orm::sea_query::Expr::cust("1 = 0")),
        }
    }
    fn default_sort() -> SortKey {
        SortKey::new(
            "AT",
            col(audit_entry::Column::At),
            SortKind::DateTime,
            Self::id_expr(),
        )
        .descending(true)
    }
}

/// Refuses the audit trail to callers that may not write.
pub fn require_reader(viewer: &Viewer) -> Result<(), ApiError> {
    match viewer.role {
        Role::Admin | Role::Editor => Ok(()),
        Role::Anonymous => Err(ApiError::Unauthenticated(
            "The audit trail needs an editor or admin API key: send `Authorization: Bearer <key>`."
                .into(),
        )),
        Role::Partner => Err(ApiError::Forbidden(
            "The audit trail is for editor and admin keys.".into(),
        )),
    }
}

/// One field a change touched.
#[derive(SimpleObject)]
pub struct FieldChange {
    /// The field, by its API name (references hold global IDs).
    pub field: String,
    /// The value before the change (null for a new record).
    pub before: Json,
    /// The value after the change.
    pub after: Json,
}

/// One change made through the API: who, when, which record, which mutation, and the changed
/// fields before and after.
#[stroom_derive::record(audit_entry)]
impl AuditEntry {
    /// When the change was made.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }

    /// Who made it: the API key's name (or "command line").
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// The API key that made it (visible to admins).
    reference!(api_key: Option<ApiKey> = api_key_id);

    /// The mutation, such as `createInitiative`.
    async fn mutation(&self) -> &str {
        &self.0.mutation
    }

    /// The type of the changed record, such as `Initiative`.
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }

    /// The global ID of the changed record.
    async fn subject_id(&self) -> ID {
        let kind = kind_of(&self.0.subject_type);
        kind.map(|k| k.id(self.0.subject_id))
            .unwrap_or_else(|| ID(self.0.subject_id.to_string()))
    }

    /// The changed record as it is now, if you may see it.
    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        match kind_of(&self.0.subject_type) {
            Some(kind) => load(ctx, "subject", &kind.id(self.0.subject_id)).await,
            None => Ok(None),
        }
    }

    /// The fields the change touched, with their values before and after.
    async fn changes(&self) -> Vec<FieldChange> {
        self.0
            .changes
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(field, change)| FieldChange {
                        field: field.clone(),
                        before: Json(change.get("before").cloned().unwrap_or_default()),
                        after: Json(change.get("after").cloned().unwrap_or_default()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn kind_of(type_name: &str) -> Option<NodeKind> {
    NodeKind::from_type_name(type_name)
}

/// An inclusive range of instants; either end may be left open.
#[derive(InputObject, Default)]
pub struct DateTimeRange {
    /// The first instant (inclusive).
    pub from: Option<DateTime>,
    /// The last instant (inclusive).
    pub to: Option<DateTime>,
}

/// Criteria for the audit trail.
#[derive(InputObject, Default)]
pub struct AuditEntryFilter {
    /// Only changes to these records.
    pub subjects: Option<Vec<ID>>,
    /// Only changes to records of these types, such as `Initiative`.
    pub subject_types: Option<Vec<String>>,
    /// Only changes made with these API keys.
    pub api_keys: Option<Vec<ID>>,
    /// Only these mutations, such as `updateInitiative`.
    pub mutations: Option<Vec<String>>,
    /// Only changes within this time range.
    pub at: Option<DateTimeRange>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail, latest change first. Admins see all of it, editors their municipality's;
    /// others get null, with an error.
    #[allow(clippy::too_many_arguments)]
    async fn audit_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n entries (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the entries after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n entries (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Returns the entries before this cursor.")] before: Option<String>,
        #[graphql(desc = "Criteria the entries must meet.")] filter: Option<AuditEntryFilter>,
    ) -> async_graphql::Result<Option<Connection<AuditEntry>>> {
        let viewer = viewer(ctx);
        require_reader(viewer)?;
        let filter = filter.unwrap_or_default();
        let base = audit_entry::Entity::find()
            .filter(audit_entry::Entity::visible_to(viewer))
            .into_query();
        let mut f = Filter::new(base, "audit_entry", request(ctx).db.get_database_backend());
        if let Some(subjects) = &filter.subjects {
            crate::graphql::common::check_id_list("filter.subjects", subjects.len())?;
            let mut any = Condition::any();
            for subject in subjects {
                let GlobalId { kind, id } = GlobalId::decode("filter.subjects", subject)?;
                any = any.add(
                    col(audit_entry::Column::SubjectType)
                        .eq(kind.type_name())
                        .and(col(audit_entry::Column::SubjectId).eq(id)),
                );
            }
            f.condition(any.into());
        }
        if let Some(types) = &filter.subject_types {
            f.condition(col(audit_entry::Column::SubjectType).is_in(types.iter().cloned()));
        }
        f.references(
            "filter.apiKeys",
            entity::audit_entry::Column::ApiKeyId,
            filter.api_keys.as_ref(),
            NodeKind::ApiKey,
        )?;
        if let Some(mutations) = &filter.mutations {
            f.condition(col(audit_entry::Column::Mutation).is_in(mutations.iter().cloned()));
        }
        if let Some(range) = &filter.at {
            if let (Some(from), Some(to)) = (range.from, range.to)
                && to < from
            {
                return Err(ApiError::bad_input(
                    "filter.at",
                    "`filter.at.to` lies before `filter.at.from`.",
                )
                .into());
            }
            if let Some(from) = range.from {
                f.condition(col(audit_entry::Column::At).gte(from.0));
            }
            if let Some(to) = range.to {
                f.condition(col(audit_entry::Column::At).lte(to.0));
            }
        }
        list(
            ctx,
            f.finish(),
            audit_entry::Entity::default_sort(),
            PageArgs::new(first, after, last, before),
        )
        .await
        .map(Some)
    }
}

/// The `history` field of every changeable type, flattened into it: one definition of the
/// field, its arguments and its gate.
pub struct RecordHistory {
    kind: NodeKind,
    id: i64,
}

impl RecordHistory {
    pub fn of(kind: NodeKind, id: i64) -> Self {
        Self { kind, id }
    }
}

#[Object]
impl RecordHistory {
    /// The changes made to this record through the API, latest first: for editor and admin keys
    /// (others get null, with an error at this path).
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n changes.")] first: Option<i32>,
        #[graphql(desc = "Returns the changes after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n changes.")] last: Option<i32>,
        #[graphql(desc = "Returns the changes before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Option<Connection<AuditEntry>>> {
        history(
            ctx,
            self.kind,
            self.id,
            PageArgs::new(first, after, last, before),
        )
        .await
    }
}

/// The history of one record, for the `history` field every changeable type has.
#[tracing::instrument(level = "debug", skip_all, fields(kind = kind.type_name(), id = id))]
pub async fn history(
    ctx: &Context<'_>,
    kind: NodeKind,
    id: i64,
    args: PageArgs,
) -> async_graphql::Result<Option<Connection<AuditEntry>>> {
    require_reader(viewer(ctx))?;
    children_where(
        ctx,
        Link::column(audit_entry::Column::SubjectId),
        id,
        Some(Only::TextIn("subject_type", vec![kind.type_name()])),
        args,
    )
    .await
    .map(Some)
}
