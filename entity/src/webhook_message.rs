//! A message owed to a webhook endpoint: one change event (or a test), its payload and where
//! its delivery stands.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_message")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub endpoint_id: i64,
    /// The change event it carries; none for a test message.
    pub sequence: Option<i64>,
    /// `initiative.created`, `webhook.test`…
    pub event_type: String,
    /// The body sent, as JSON.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// While a delivery is under way: no other instance takes the message.
    pub lease_until: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    /// The HTTP status of the last attempt, if it got one.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    /// The `webhook-id` it is sent under (`msg_` and 32 random hex digits), the same on every
    /// retry; none for messages made before it was kept (they go as `msg_<id>`).
    pub uid: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
