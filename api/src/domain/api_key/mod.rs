//! API keys: who may read partner data and who may write, managed by admins over GraphQL and
//! from the command line (`stroom keys`).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::api_key;
use entity::enums::KeyRole;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait,
};
use serde_json::json;

use crate::domain::municipality::Municipality;
use crate::graphql::context::{request, viewer};
use crate::graphql::filter::Filter;
use crate::graphql::input::plain;
use crate::graphql::loader::reference;
use crate::graphql::mutation::run;
use crate::graphql::pagination::{Connection, PageArgs, list};
use crate::graphql::scalars::DateTime as GqlDateTime;
use crate::kernel::access::{Role, Viewer, generate_token, hash_token};
use crate::kernel::error::ApiError;
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Table, col};
use crate::kernel::write::{UserError, UserErrorCode, link_change};

crate::record_table! {
    api_key: ApiKey {
        references: [municipality_id => Municipality],
    }
    table {
        const ARCHIVABLE: bool = false;
        /// Keys are an admin's business only.
        fn visible_to(viewer: &Viewer) -> Condition {
            if viewer.role == Role::Admin {
                Condition::all()
            } else {
                Condition::all().add(sea_orm::sea_query::Expr::cust("1 = 0"))
            }
        }
    }
}

/// What a key may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::KeyRole")]
pub enum ApiKeyRole {
    /// Reads everything public, plus partner-only learnings and contact people.
    Partner,
    /// A partner's reads, and writes to one municipality's data.
    Editor,
    /// Everything, including keys and the audit log.
    Admin,
}

/// Refuses anything but an admin key.
pub fn require_admin(viewer: &Viewer) -> Result<(), ApiError> {
    match viewer.role {
        Role::Admin => Ok(()),
        Role::Anonymous => Err(ApiError::Unauthenticated(
            "This needs an admin API key: send `Authorization: Bearer <key>`.".into(),
        )),
        _ => Err(ApiError::Forbidden("Only an admin key may do this.".into())),
    }
}

/// An API key (without its secret, which is shown once, at creation).
#[stroom_derive::record(api_key)]
impl ApiKey {
    id!("key");

    /// The key's name, which the audit log shows as the author of its changes.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the key may do.
    async fn role(&self) -> ApiKeyRole {
        self.0.role.into()
    }

    /// The municipality an editor key writes to.
    reference!(municipality: Option<Municipality> = municipality_id);

    /// The first characters of the token, to recognise it.
    async fn token_prefix(&self) -> &str {
        &self.0.token_prefix
    }

    /// When the key was created.
    async fn created_at(&self) -> GqlDateTime {
        GqlDateTime(self.0.created_at)
    }

    /// When the key was last used (to the minute).
    async fn last_used_at(&self) -> Option<GqlDateTime> {
        self.0.last_used_at.map(GqlDateTime)
    }

    /// When the key stops working, if ever.
    async fn expires_at(&self) -> Option<GqlDateTime> {
        self.0.expires_at.map(GqlDateTime)
    }

    /// When the key was revoked.
    async fn revoked_at(&self) -> Option<GqlDateTime> {
        self.0.revoked_at.map(GqlDateTime)
    }

    /// Whether the key works now: neither revoked nor expired.
    async fn active(&self) -> bool {
        is_active(&self.0, crate::kernel::time::now())
    }
}

pub fn is_active(key: &api_key::Model, now: DateTime<Utc>) -> bool {
    key.revoked_at.is_none() && key.expires_at.is_none_or(|at| at > now)
}

/// The longest key name.
pub const NAME_MAX: usize = 100;

/// Creates a key and returns it with its token, which is never stored nor shown again.
pub async fn create_key(
    db: &impl ConnectionTrait,
    name: &str,
    role: KeyRole,
    municipality_id: Option<i64>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(api_key::Model, String), UserError> {
    let name = plain("name", name, NAME_MAX)?;
    match (role, municipality_id) {
        (KeyRole::Editor, None) => {
            return Err(UserError::invalid(
                "municipality",
                "An editor key writes one municipality's data: name the municipality.",
            ));
        }
        (KeyRole::Admin, Some(_)) => {
            return Err(UserError::invalid(
                "municipality",
                "An admin key is not bound to a municipality.",
            ));
        }
        _ => {}
    }
    let now = crate::kernel::time::now();
    if expires_at.is_some_and(|at| at <= now) {
        return Err(UserError::invalid(
            "expiresAt",
            "The expiry lies in the past.",
        ));
    }
    let taken = api_key::Entity::find()
        .filter(api_key::Column::Name.eq(&name))
        .one(db)
        .await
        .map_err(stored_or_taken)?;
    if taken.is_some() {
        return Err(UserError::new(
            "name",
            format!("A key named `{name}` exists already; names identify keys in the audit log."),
            UserErrorCode::Conflict,
        ));
    }
    let token = generate_token().map_err(|e| UserError::invalid("", e.to_string()))?;
    let model = api_key::ActiveModel {
        id: NotSet,
        name: Set(name),
        role: Set(role),
        municipality_id: Set(municipality_id),
        token_hash: Set(hash_token(&token)),
        token_prefix: Set(token.chars().take(12).collect()),
        created_at: Set(now),
        last_used_at: Set(None),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    };
    let stored = api_key::Entity::insert(model)
        .exec_with_returning(db)
        .await
        .map_err(stored_or_taken)?;
    Ok((stored, token))
}

/// A database error while storing a key, as the caller's problem: a name taken by a concurrent
/// creation is a conflict; anything else is logged and reported without its SQL.
fn stored_or_taken(error: sea_orm::DbErr) -> UserError {
    if crate::kernel::error::unique_violation(&error).is_some() {
        return UserError::new(
            "name",
            "A key with this name exists already; names identify keys in the audit log.",
            UserErrorCode::Conflict,
        );
    }
    tracing::error!(%error, "storing an API key failed");
    UserError::invalid("", "The key could not be stored; try again.")
}

/// What the audit log records of a key.
pub fn key_changes(
    before: Option<&api_key::Model>,
    after: &api_key::Model,
) -> serde_json::Map<String, serde_json::Value> {
    let view = |k: &api_key::Model| {
        json!({
            "name": k.name,
            "role": k.role.as_str(),
            "municipality": k.municipality_id.map(|id| NodeKind::Municipality.id(id).0),
            "expiresAt": k.expires_at.map(|t| t.to_rfc3339()),
            "revokedAt": k.revoked_at.map(|t| t.to_rfc3339()),
        })
    };
    match before {
        None => link_change("apiKey", serde_json::Value::Null, view(after)),
        Some(before) => link_change("apiKey", view(before), view(after)),
    }
}

/// Revokes a key at once.
pub async fn revoke_key(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<(api_key::Model, api_key::Model), UserError> {
    let before = api_key::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(stored_or_taken)?
        .ok_or_else(|| UserError::new("id", "No such API key.", UserErrorCode::NotFound))?;
    if before.revoked_at.is_some() {
        return Err(UserError::invalid(
            "id",
            format!("The key `{}` is already revoked.", before.name),
        ));
    }
    api_key::Entity::update_many()
        .col_expr(
            api_key::Column::RevokedAt,
            sea_orm::sea_query::Expr::val(crate::kernel::time::now()),
        )
        .filter(api_key::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(stored_or_taken)?;
    let after = api_key::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(stored_or_taken)?
        .ok_or_else(|| UserError::new("id", "No such API key.", UserErrorCode::NotFound))?;
    Ok((before, after))
}

/// Criteria for the list of API keys.
#[derive(InputObject, Default)]
pub struct ApiKeyFilter {
    /// Only keys with these roles.
    pub roles: Option<Vec<ApiKeyRole>>,
    /// Only keys that work now (true) or that do not (false).
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// Who is asking: the role of the request's API key (or anonymous) and what it may do.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<ViewerInfo> {
        let viewer = viewer(ctx);
        let key = match &viewer.key {
            Some((id, _)) => api_key::Entity::find_by_id(*id)
                .one(&request(ctx).db)
                .await
                .map_err(ApiError::from)?,
            None => None,
        };
        Ok(ViewerInfo {
            role: match viewer.role {
                Role::Anonymous => ViewerRole::Anonymous,
                Role::Partner => ViewerRole::Partner,
                Role::Editor => ViewerRole::Editor,
                Role::Admin => ViewerRole::Admin,
            },
            can_see_personal_data: viewer.sees_personal_data(),
            can_write: matches!(viewer.role, Role::Editor | Role::Admin),
            key: key.map(ApiKey),
            municipality_id: viewer.municipality_id,
        })
    }

    /// The rate limit of the request's key (or address, without a key), after this request.
    async fn rate_limit(&self, ctx: &Context<'_>) -> Option<RateLimit> {
        request(ctx).rate_limit.map(|spent| RateLimit {
            limit: spent.limit as i64,
            cost: spent.cost as i64,
            used: spent.used as i64,
            remaining: spent.remaining() as i64,
            reset_at: GqlDateTime(spent.reset_at),
        })
    }

    /// API keys. Admin keys only; others get null, with an error.
    #[allow(clippy::too_many_arguments)]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n keys (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the keys after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n keys (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Returns the keys before this cursor.")] before: Option<String>,
        #[graphql(desc = "Criteria the keys must meet.")] filter: Option<ApiKeyFilter>,
    ) -> async_graphql::Result<Option<Connection<ApiKey>>> {
        require_admin(viewer(ctx))?;
        let filter = filter.unwrap_or_default();
        let db = &request(ctx).db;
        let mut f = Filter::new(
            api_key::Entity::find().into_query(),
            "api_key",
            db.get_database_backend(),
        );
        f.one_of::<ApiKeyRole, KeyRole>(entity::api_key::Column::Role, filter.roles.as_ref());
        if let Some(active) = filter.active {
            let now = crate::kernel::time::now();
            let live = col(api_key::Column::RevokedAt).is_null().and(
                col(api_key::Column::ExpiresAt)
                    .is_null()
                    .or(col(api_key::Column::ExpiresAt).gt(now)),
            );
            f.condition(if active { live } else { live.not() });
        }
        list(
            ctx,
            f.finish(),
            api_key::Entity::default_sort(),
            PageArgs::new(first, after, last, before),
        )
        .await
        .map(Some)
    }
}

/// A client's rate limit: points per window, spent by each request's cost.
#[derive(SimpleObject)]
pub struct RateLimit {
    /// Points available per window.
    pub limit: i64,
    /// Points this request cost (one per hundred records it could return, at least one).
    pub cost: i64,
    /// Points used in the current window, this request included.
    pub used: i64,
    /// Points left in the current window.
    pub remaining: i64,
    /// When the window ends and the points are restored.
    pub reset_at: GqlDateTime,
}

/// The role of a request.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerRole {
    /// No API key: public data only.
    Anonymous,
    /// A partner key.
    Partner,
    /// An editor key, scoped to one municipality.
    Editor,
    /// An admin key.
    Admin,
}

/// Who is asking.
pub struct ViewerInfo {
    role: ViewerRole,
    can_see_personal_data: bool,
    can_write: bool,
    key: Option<ApiKey>,
    municipality_id: Option<i64>,
}

/// Who is asking, and what they may do.
#[Object]
impl ViewerInfo {
    /// The role of the request's API key, or ANONYMOUS without one.
    async fn role(&self) -> ViewerRole {
        self.role
    }

    /// The request's API key.
    async fn api_key(&self) -> Option<&ApiKey> {
        self.key.as_ref()
    }

    /// The municipality an editor key writes to.
    async fn municipality(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Municipality>> {
        reference(ctx, self.municipality_id).await
    }

    /// Whether contact people and partner-only learnings are visible.
    async fn can_see_personal_data(&self) -> bool {
        self.can_see_personal_data
    }

    /// Whether the key may make changes (to its municipality's data, for an editor).
    async fn can_write(&self) -> bool {
        self.can_write
    }
}

/// A new API key.
#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// A name that says whose key it is, such as "Economy department dashboard".
    pub name: String,
    /// What the key may do.
    pub role: ApiKeyRole,
    /// For an editor key: the municipality it writes to.
    pub municipality: Option<ID>,
    /// When the key stops working; never, if left out.
    pub expires_at: Option<GqlDateTime>,
}

/// The result of `createApiKey`.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    /// The new key.
    pub api_key: Option<ApiKey>,
    /// The secret token. It is shown this once and stored only as a hash: keep it now.
    pub token: Option<String>,
    /// What was wrong with the input, if anything; nothing was changed then.
    pub user_errors: Vec<UserError>,
}

/// The key to revoke.
#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    /// The global ID of the key.
    pub id: ID,
}

/// The result of `revokeApiKey`.
#[derive(SimpleObject)]
pub struct ApiKeyPayload {
    /// The key as it is now.
    pub api_key: Option<ApiKey>,
    /// What was wrong with the input, if anything; nothing was changed then.
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates an API key and shows its token once. Admin only.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new key.")] input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        require_admin(viewer(ctx))?;
        let (created, user_errors) = run(ctx, "createApiKey", move |write| {
            Box::pin(async move {
                let municipality = match &input.municipality {
                    Some(id) => Some(crate::graphql::input::id(
                        "municipality",
                        id,
                        NodeKind::Municipality,
                    )?),
                    None => None,
                };
                if let Some(id) = municipality {
                    write
                        .live::<entity::municipality::Entity>("municipality", id)
                        .await?;
                }
                let (key, token) = create_key(
                    &write.txn,
                    &input.name,
                    input.role.into(),
                    municipality,
                    input.expires_at.map(|t| t.0),
                )
                .await?;
                write.note_created(NodeKind::ApiKey, key.id, None);
                write
                    .audit(
                        NodeKind::ApiKey,
                        key.id,
                        key.municipality_id,
                        key_changes(None, &key),
                    )
                    .await?;
                Ok((key, token))
            })
        })
        .await?;
        let (api_key, token) = match created {
            Some((key, token)) => (Some(ApiKey(key)), Some(token)),
            None => (None, None),
        };
        Ok(CreateApiKeyPayload {
            api_key,
            token,
            user_errors,
        })
    }

    /// Revokes an API key: it is refused from the next request on. Admin only.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key to revoke.")] input: RevokeApiKeyInput,
    ) -> async_graphql::Result<ApiKeyPayload> {
        require_admin(viewer(ctx))?;
        let (key, user_errors) = run(ctx, "revokeApiKey", move |write| {
            Box::pin(async move {
                let id = crate::graphql::input::id("id", &input.id, NodeKind::ApiKey)?;
                let (before, after) = revoke_key(&write.txn, id).await?;
                write
                    .audit(
                        NodeKind::ApiKey,
                        id,
                        after.municipality_id,
                        key_changes(Some(&before), &after),
                    )
                    .await?;
                Ok(after)
            })
        })
        .await?;
        Ok(ApiKeyPayload {
            api_key: key.map(ApiKey),
            user_errors,
        })
    }
}
