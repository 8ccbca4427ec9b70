//! Webhooks: the change feed pushed to the systems that asked for it, per the Standard
//! Webhooks specification. Admins register endpoints (a URL and the event types it wants);
//! each change event of those types becomes a message for it, signed with its secret and
//! retried until it is delivered (`delivery`). Messages are made from the change feed, which
//! is written in each change's own transaction: nothing is lost if a process dies.
pub mod address;
pub mod delivery;
pub mod mutation;
pub mod signing;

use std::time::Duration;

use async_graphql::{Context, Enum, Object};
use entity::{webhook_attempt, webhook_endpoint, webhook_message};
use sea_orm::sea_query::Expr;
use sea_orm::{Condition, EntityTrait, QueryTrait};

use crate::domain::api_key::require_admin;
use crate::domain::changes::ChangeEvent;
use crate::graphql::common::RecordMeta;
use crate::graphql::context::viewer;
use crate::graphql::loader::{Link, Only, reference};
use crate::graphql::pagination::{
    Connection, PageArgs, SortKey, SortKind, Wraps, children, children_where, list,
};
use crate::graphql::scalars::{DateTime, Json};
use crate::kernel::access::{Role, Viewer};
use crate::kernel::feed::Operation;
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Table, col};
use crate::record_meta;

/// How webhooks are delivered, from the configuration.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Whether this instance delivers (every instance may; they never take the same message).
    pub deliver: bool,
    /// Whether endpoints may be on internal addresses (loopback, private networks…).
    pub allow_internal: bool,
    /// The longest one delivery attempt may take.
    pub timeout: Duration,
    /// The delay before the first retry; later retries wait longer (`delivery::RETRY_STEPS`).
    pub retry_base: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub secret_grace: Duration,
    /// How often an instance looks for work it was not woken for (changes made through
    /// another instance, retries falling due).
    pub poll_interval: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            deliver: true,
            allow_internal: false,
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            secret_grace: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The settings of the request's server (its schema's data), or the defaults.
pub fn settings(ctx: &Context<'_>) -> WebhookSettings {
    ctx.data_opt::<WebhookSettings>()
        .cloned()
        .unwrap_or_default()
}

/// Only admins see webhooks.
fn admins_only(viewer: &Viewer) -> Condition {
    if viewer.role == Role::Admin {
        Condition::all()
    } else {
        Condition::all().add(Expr::cust("1 = 0"))
    }
}

/// Fields the audit trail and the change feed never show the value of.
const SECRET_FIELDS: &[&str] = &["secret", "previousSecret"];

crate::record_table! {
    webhook_endpoint: WebhookEndpoint {
        references: [api_key_id => ApiKey],
    }
    table {
        fn visible_to(viewer: &Viewer) -> Condition {
            admins_only(viewer)
        }
        fn audited(key: String, value: serde_json::Value) -> (String, serde_json::Value) {
            if SECRET_FIELDS.contains(&key.as_str()) && !value.is_null() {
                (key, serde_json::Value::String("(secret)".into()))
            } else {
                (key, value)
            }
        }
    }
}

crate::record_table! {
    webhook_message: WebhookMessage {
        references: [endpoint_id => WebhookEndpoint],
    }
    table {
        const ARCHIVABLE: bool = false;
        fn visible_to(viewer: &Viewer) -> Condition {
            admins_only(viewer)
        }
        /// Latest first.
        fn default_sort() -> SortKey {
            SortKey::new("ID", Self::id_expr(), SortKind::Int, Self::id_expr()).descending(true)
        }
    }
}

impl Table for webhook_attempt::Entity {
    const NAME: &'static str = "webhook_attempt";
    const ARCHIVABLE: bool = false;
    fn id(model: &webhook_attempt::Model) -> i64 {
        model.id
    }
    fn visible_to(viewer: &Viewer) -> Condition {
        admins_only(viewer)
    }
    /// Latest first.
    fn default_sort() -> SortKey {
        SortKey::new("ID", Self::id_expr(), SortKind::Int, Self::id_expr()).descending(true)
    }
}

/// The event type of a change: the record's type in snake case and the operation, such as
/// `initiative.created` or `learning_endorsement.archived`.
pub fn event_type(kind: NodeKind, operation: &str) -> String {
    format!("{}.{operation}", snake_case(kind.type_name()))
}

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The operations event types name.
const OPERATIONS: &[Operation] = &[
    Operation::Created,
    Operation::Updated,
    Operation::Archived,
    Operation::Unarchived,
    Operation::Linked,
    Operation::Unlinked,
];

/// Checks an endpoint's event types: `initiative.created`, `initiative.*` or `*`. The message
/// lists what is allowed.
pub fn check_event_types(types: &[String]) -> Result<Vec<String>, String> {
    let mut checked = Vec::new();
    for pattern in types {
        let pattern = pattern.trim();
        let valid = pattern == "*"
            || pattern.split_once('.').is_some_and(|(kind, operation)| {
                NodeKind::all()
                    .iter()
                    .any(|k| snake_case(k.type_name()) == kind)
                    && (operation == "*" || OPERATIONS.iter().any(|o| o.as_str() == operation))
            });
        if !valid {
            return Err(format!(
                "`{pattern}` is no event type: use `<type>.<operation>` such as `initiative.created`, \
                 `<type>.*` or `*`, where the operation is one of {}.",
                OPERATIONS
                    .iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !checked.iter().any(|c: &String| c == pattern) {
            checked.push(pattern.to_owned());
        }
    }
    Ok(checked)
}

/// Whether an endpoint subscribed to these patterns (none: all) receives `event_type`.
pub fn subscribed(patterns: &serde_json::Value, event_type: &str) -> bool {
    let patterns: Vec<&str> = patterns
        .as_array()
        .map(|p| p.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    patterns.is_empty()
        || patterns.iter().any(|pattern| {
            *pattern == "*"
                || *pattern == event_type
                || pattern.strip_suffix(".*").is_some_and(|kind| {
                    event_type
                        .split_once('.')
                        .is_some_and(|(event_kind, _)| event_kind == kind)
                })
        })
}

/// Where a message's delivery stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookMessageStatus {
    /// Waiting for its first attempt or its next retry.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; `redeliverWebhookMessage` tries again.
    Failed,
}

impl WebhookMessageStatus {
    pub fn stored(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    fn of(stored: &str) -> Self {
        match stored {
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// A URL that receives the changes of some event types, each delivery signed with the
/// endpoint's secret (Standard Webhooks). Admin only.
#[stroom_derive::record(webhook_endpoint)]
impl WebhookEndpoint {
    id!("endpoint");

    /// Where deliveries go.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// What the endpoint is for, for people.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The event types it receives (`initiative.created`, `need.*`); empty: every type.
    async fn event_types(&self) -> Vec<String> {
        self.0
            .event_types
            .as_array()
            .map(|types| {
                types
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether deliveries are made. An endpoint that kept failing for over a day is disabled
    /// (see `disabledReason`); enable it again with `updateWebhookEndpoint`.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// Why the service disabled the endpoint, if it did.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }

    /// When the service disabled the endpoint, if it did.
    async fn disabled_at(&self) -> Option<DateTime> {
        self.0.disabled_at.map(DateTime)
    }

    /// Since when deliveries have been failing; null while they succeed.
    async fn failing_since(&self) -> Option<DateTime> {
        self.0.failing_since.map(DateTime)
    }

    /// The secret's first characters, to tell secrets apart (the secret itself is shown once,
    /// when it is made).
    async fn secret_prefix(&self) -> String {
        self.0.secret.chars().take(10).collect()
    }

    /// Until when the secret before the last rotation also signs deliveries.
    async fn previous_secret_expires_at(&self) -> Option<DateTime> {
        self.0
            .previous_secret_expires_at
            .filter(|at| *at > crate::kernel::time::now())
            .map(DateTime)
    }

    /// The messages owed to the endpoint, latest first.
    #[allow(clippy::too_many_arguments)]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n messages (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the messages after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n messages (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Returns the messages before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only messages in these states.")] status: Option<
            Vec<WebhookMessageStatus>,
        >,
    ) -> async_graphql::Result<Connection<WebhookMessage>> {
        let only = status
            .map(|status| Only::TextIn("status", status.iter().map(|s| s.stored()).collect()));
        children_where(
            ctx,
            Link::column(webhook_message::Column::EndpointId),
            self.0.id,
            only,
            PageArgs::new(first, after, last, before),
        )
        .await
    }

    #[graphql(flatten)]
    async fn meta(&self) -> RecordMeta {
        record_meta!(self.0)
    }
}

/// A message owed to a webhook endpoint: one change event (or a test), the body sent, and
/// where its delivery stands. Admin only.
#[stroom_derive::record(webhook_message)]
impl WebhookMessage {
    id!("message");

    /// The `webhook-id` header of its deliveries: the same on every retry, so that a receiver
    /// can recognise a message it already handled.
    async fn webhook_id(&self) -> String {
        delivery::webhook_id(&self.0)
    }

    /// The endpoint it goes to.
    async fn endpoint(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<WebhookEndpoint>> {
        reference(ctx, Some(self.0.endpoint_id)).await
    }

    /// Its type, such as `initiative.created` (`webhook.test` for a test).
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// The change event it carries (null for a test).
    reference!(event: Option<ChangeEvent> = sequence);

    /// The body sent: `type`, `timestamp` and the event as `data`.
    async fn payload(&self) -> Json {
        Json(self.0.payload.clone())
    }

    /// Where its delivery stands.
    async fn status(&self) -> WebhookMessageStatus {
        WebhookMessageStatus::of(&self.0.status)
    }

    /// How many attempts were made.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When the next attempt is due, while it is pending.
    async fn next_attempt_at(&self) -> Option<DateTime> {
        (self.0.status == "pending").then_some(DateTime(self.0.next_attempt_at))
    }

    /// When it was delivered.
    async fn delivered_at(&self) -> Option<DateTime> {
        self.0.delivered_at.map(DateTime)
    }

    /// The HTTP status the last attempt got, if it got an answer.
    async fn last_response_status(&self) -> Option<i32> {
        self.0.last_status
    }

    /// What went wrong in the last attempt, if it failed without an answer.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// When the message was made.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    /// Every attempt, latest first.
    async fn attempt_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n attempts (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the attempts after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<WebhookAttempt>> {
        children(
            ctx,
            Link::column(webhook_attempt::Column::MessageId),
            self.0.id,
            PageArgs::new(first, after, None, None),
        )
        .await
    }
}

/// One attempt to deliver a message.
pub struct WebhookAttempt(pub webhook_attempt::Model);

impl Wraps for WebhookAttempt {
    type Entity = webhook_attempt::Entity;
    fn wrap(model: webhook_attempt::Model) -> Self {
        Self(model)
    }
}

/// One attempt to deliver a webhook message: when, and the answer or the error.
#[Object]
impl WebhookAttempt {
    /// When it was made.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }

    /// The HTTP status of the answer; null when none came (see `error`).
    async fn response_status(&self) -> Option<i32> {
        self.0.status
    }

    /// What went wrong: the connection, a timeout, an address refused, or the status.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// How long it took, in milliseconds.
    async fn duration_ms(&self) -> i32 {
        self.0.duration_ms
    }
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Webhook endpoints. Admin keys only; others get null, with an error.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n endpoints (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the endpoints after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n endpoints (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Returns the endpoints before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Option<Connection<WebhookEndpoint>>> {
        let viewer = viewer(ctx);
        require_admin(viewer)?;
        let mut select = webhook_endpoint::Entity::find().into_query();
        select.and_where(sea_orm::sea_query::ExprTrait::is_null(col(
            webhook_endpoint::Column::ArchivedAt,
        )));
        list(
            ctx,
            select,
            webhook_endpoint::Entity::default_sort(),
            PageArgs::new(first, after, last, before),
        )
        .await
        .map(Some)
    }
}

/// A message owed to an endpoint, due now: for a change event (`sequence`) or a test.
pub fn pending_message(
    endpoint: i64,
    sequence: Option<i64>,
    event_type: String,
    payload: serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> webhook_message::ActiveModel {
    use sea_orm::ActiveValue::{NotSet, Set};
    webhook_message::ActiveModel {
        id: NotSet,
        endpoint_id: Set(endpoint),
        sequence: Set(sequence),
        event_type: Set(event_type),
        payload: Set(payload),
        status: Set(WebhookMessageStatus::Pending.stored().into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        delivered_at: Set(None),
        last_status: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        uid: Set(Some(delivery::new_webhook_id())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_types_name_the_record_and_the_operation() {
        assert_eq!(
            event_type(NodeKind::Initiative, "created"),
            "initiative.created"
        );
        assert_eq!(
            event_type(NodeKind::LearningEndorsement, "archived"),
            "learning_endorsement.archived"
        );
    }

    #[test]
    fn endpoints_receive_the_types_they_subscribed_to() {
        assert!(subscribed(&json!([]), "need.updated"));
        assert!(subscribed(&json!(["*"]), "need.updated"));
        assert!(subscribed(&json!(["need.*"]), "need.updated"));
        assert!(subscribed(&json!(["need.updated"]), "need.updated"));
        assert!(!subscribed(&json!(["need.created"]), "need.updated"));
        assert!(!subscribed(&json!(["need.*"]), "need_target.updated"));
        assert!(!subscribed(&json!(["initiative.*"]), "need.updated"));
    }

    #[test]
    fn event_type_patterns_are_checked() {
        let ok = |t: &str| check_event_types(&[t.to_owned()]).is_ok();
        assert!(ok("*") && ok("initiative.*") && ok("learning_endorsement.created"));
        assert!(!ok("initiative") && !ok("initiatives.created") && !ok("initiative.deleted"));
        assert!(!ok("") && !ok("*.created"));
    }
}
