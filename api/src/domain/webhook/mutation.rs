//! Managing webhook endpoints (admin only): register one (its secret is shown once), change
//! it, rotate its secret, archive it; redeliver a message; send a test.
use async_graphql::{Context, ID, InputObject, SimpleObject};
use entity::{webhook_endpoint, webhook_message};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, IntoActiveModel};
use serde_json::{Value as Json, json};

use super::signing::new_secret;
use super::{
    WebhookEndpoint, WebhookMessage, WebhookMessageStatus, WebhookSettings, address,
    pending_message, settings,
};
use crate::graphql::input::id;
use crate::graphql::mutation::run;
use crate::kernel::error::ApiError;
use crate::kernel::feed::last_event;
use crate::kernel::ids::NodeKind;
use crate::kernel::time::now;
use crate::kernel::write::{Problems, UserError, Write, WriteResult, diff, snapshot};
use crate::payload;

/// The longest description.
const DESCRIPTION_MAX: usize = 500;

payload!(
    /// The result of a change to a webhook endpoint.
    WebhookEndpointPayload { webhook_endpoint: WebhookEndpoint }
);

payload!(
    /// The result of redelivering or sending a webhook message.
    WebhookMessagePayload { webhook_message: WebhookMessage }
);

/// The result of registering an endpoint or rotating its secret: the secret, shown this once.
#[derive(SimpleObject)]
pub struct WebhookSecretPayload {
    /// The endpoint as it is after the change; null when the change was refused.
    pub webhook_endpoint: Option<WebhookEndpoint>,
    /// The signing secret (`whsec_…`): store it now, it is not shown again. Verify deliveries
    /// with it (any Standard Webhooks library does).
    pub secret: Option<String>,
    /// What was wrong with the input; empty on success. Nothing is changed when it is not.
    pub user_errors: Vec<UserError>,
}

/// A new webhook endpoint.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where deliveries go: an `https://` URL (or `http://`) on a public address.
    pub url: String,
    /// The event types it receives: `initiative.created`, `initiative.*` or `*`; none: all.
    pub event_types: Option<Vec<String>>,
    /// What it is for, for people.
    pub description: Option<String>,
    /// Whether deliveries start at once (default: true).
    pub enabled: Option<bool>,
}

/// Changes to a webhook endpoint.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    /// The endpoint.
    pub id: ID,
    /// The version you last read.
    pub version: i32,
    /// Where deliveries go.
    pub url: Option<String>,
    /// The event types it receives; an empty list: all.
    pub event_types: Option<Vec<String>>,
    /// What it is for.
    pub description: Option<String>,
    /// Whether deliveries are made. Enabling an endpoint the service disabled clears the
    /// reason; its waiting messages are then delivered.
    pub enabled: Option<bool>,
}

/// The endpoint whose secret to replace.
#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    /// The endpoint.
    pub id: ID,
    /// The version you last read.
    pub version: i32,
}

/// A message to deliver again.
#[derive(InputObject)]
pub struct RedeliverWebhookMessageInput {
    /// The message.
    pub id: ID,
}

/// Where to send a test message.
#[derive(InputObject)]
pub struct SendTestWebhookInput {
    /// The endpoint.
    pub endpoint: ID,
}

/// The URL, checked (an internal address is refused unless the configuration allows it).
async fn checked_url(url: &str, settings: &WebhookSettings) -> Result<String, UserError> {
    address::check_url(url.trim(), settings.allow_internal)
        .await
        .map(|url| url.to_string())
        .map_err(|message| UserError::invalid("url", message))
}

fn checked_types(types: &[String]) -> Result<Json, UserError> {
    super::check_event_types(types)
        .map(|types| json!(types))
        .map_err(|message| UserError::invalid("eventTypes", message))
}

fn checked_description(description: &str) -> Result<String, UserError> {
    let description = description.trim();
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(UserError::invalid(
            "description",
            format!("The description is longer than {DESCRIPTION_MAX} characters."),
        ));
    }
    if description.contains('\0') {
        return Err(UserError::invalid(
            "description",
            "The description holds a NUL character.",
        ));
    }
    Ok(description.to_owned())
}

fn secret() -> WriteResult<String> {
    new_secret().map_err(|e| ApiError::internal(e).into())
}

/// Registers an endpoint; returns it with its secret. Its messages start with the changes
/// made after it, not the whole history.
pub async fn create(
    write: &Write,
    settings: &WebhookSettings,
    input: CreateWebhookEndpointInput,
) -> WriteResult<(webhook_endpoint::Model, String)> {
    write.admin_only("register a webhook endpoint")?;
    let mut problems = Problems::default();
    let url = problems.check(checked_url(&input.url, settings).await);
    let types = problems.check(checked_types(
        input.event_types.as_deref().unwrap_or_default(),
    ));
    let description = problems.check(checked_description(
        input.description.as_deref().unwrap_or_default(),
    ));
    problems.finish()?;
    let (Some(url), Some(event_types), Some(description)) = (url, types, description) else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    let secret = secret()?;
    let model = crate::new_record!(webhook_endpoint::Model {
        url,
        description,
        event_types,
        enabled: input.enabled.unwrap_or(true),
        secret: secret.clone(),
        previous_secret: None,
        previous_secret_expires_at: None,
        cursor: last_event(&write.txn).await?,
        failing_since: None,
        disabled_at: None,
        disabled_reason: None,
        api_key_id: write.viewer.api_key(),
    });
    let stored = write
        .insert_audited::<webhook_endpoint::Entity>(None, model)
        .await?;
    Ok((stored, secret))
}

pub async fn update(
    write: &Write,
    settings: &WebhookSettings,
    input: UpdateWebhookEndpointInput,
) -> WriteResult<webhook_endpoint::Model> {
    write.admin_only("change a webhook endpoint")?;
    let kind = NodeKind::WebhookEndpoint;
    let id = id("id", &input.id, kind)?;
    let before = write.existing::<webhook_endpoint::Entity>(id).await?;
    let mut problems = Problems::default();
    let mut active = <webhook_endpoint::ActiveModel as ActiveModelTrait>::default();
    if let Some(url) = &input.url
        && let Some(url) = problems.check(checked_url(url, settings).await)
    {
        active.url = Set(url);
    }
    if let Some(types) = &input.event_types
        && let Some(types) = problems.check(checked_types(types))
    {
        active.event_types = Set(types);
    }
    if let Some(description) = &input.description
        && let Some(description) = problems.check(checked_description(description))
    {
        active.description = Set(description);
    }
    problems.finish()?;
    if let Some(enabled) = input.enabled {
        active.enabled = Set(enabled);
        if enabled {
            // Enabled again, it acts for the key that enabled it.
            active.api_key_id = Set(write.viewer.api_key());
            active.disabled_at = Set(None);
            active.disabled_reason = Set(None);
            active.failing_since = Set(None);
        }
    }
    let after = write
        .update_versioned::<webhook_endpoint::Entity, _>(id, input.version, active)
        .await?;
    write
        .audit_change::<webhook_endpoint::Entity>(id, None, Some(&before), Some(&after))
        .await?;
    Ok(after)
}

/// Replaces the secret; the previous one keeps signing for the grace period, so receivers can
/// switch without losing a delivery.
pub async fn rotate(
    write: &Write,
    settings: &WebhookSettings,
    input: RotateWebhookSecretInput,
) -> WriteResult<(webhook_endpoint::Model, String)> {
    write.admin_only("rotate a webhook secret")?;
    let kind = NodeKind::WebhookEndpoint;
    let id = id("id", &input.id, kind)?;
    let before = write.existing::<webhook_endpoint::Entity>(id).await?;
    let secret = secret()?;
    let grace = chrono::Duration::from_std(settings.secret_grace).unwrap_or_default();
    let mut active = <webhook_endpoint::ActiveModel as ActiveModelTrait>::default();
    active.secret = Set(secret.clone());
    active.previous_secret = Set(Some(before.secret.clone()));
    active.previous_secret_expires_at = Set(Some(now() + grace));
    let after = write
        .update_versioned::<webhook_endpoint::Entity, _>(id, input.version, active)
        .await?;
    write
        .audit_change::<webhook_endpoint::Entity>(id, None, Some(&before), Some(&after))
        .await?;
    Ok((after, secret))
}

/// Makes a failed (or delivered) message pending again, with a fresh set of retries.
pub async fn redeliver(write: &Write, message: i64) -> WriteResult<webhook_message::Model> {
    write.admin_only("redeliver a webhook message")?;
    let kind = NodeKind::WebhookMessage;
    let before = write.existing::<webhook_message::Entity>(message).await?;
    if before.status == WebhookMessageStatus::Pending.stored() {
        return Err(
            UserError::invalid("id", "The message is waiting for its delivery already.").into(),
        );
    }
    let mut active = before.clone().into_active_model();
    active.status = Set(WebhookMessageStatus::Pending.stored().to_owned());
    active.attempts = Set(0);
    active.next_attempt_at = Set(now());
    active.lease_until = Set(None);
    let after = active.update(&write.txn).await?;
    write
        .audit(
            kind,
            message,
            None,
            diff(
                Some(snapshot::<webhook_message::Entity>(&before)),
                Some(snapshot::<webhook_message::Entity>(&after)),
            ),
        )
        .await?;
    Ok(after)
}

/// Queues a `webhook.test` message for an endpoint, delivered like any other.
pub async fn send_test(write: &Write, endpoint: i64) -> WriteResult<webhook_message::Model> {
    write.admin_only("send a test webhook")?;
    let endpoint = write
        .live::<webhook_endpoint::Entity>("endpoint", endpoint)
        .await?;
    let now = now();
    let payload = json!({
        "type": "webhook.test",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "message": "A test message from Stroom API: your endpoint receives and verifies deliveries.",
            "endpointId": NodeKind::WebhookEndpoint.id(endpoint.id).0,
        },
    });
    let stored = pending_message(endpoint.id, None, "webhook.test".into(), payload, now)
        .insert(&write.txn)
        .await?;
    write.note_created(NodeKind::WebhookMessage, stored.id, None);
    write
        .audit(
            NodeKind::WebhookMessage,
            stored.id,
            None,
            diff(None, Some(snapshot::<webhook_message::Entity>(&stored))),
        )
        .await?;
    Ok(stored)
}

#[stroom_derive::mutations]
impl WebhookMutation {
    /// Registers a webhook endpoint. The signing secret is in the payload, shown this once.
    /// Admin only.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new endpoint.")] input: CreateWebhookEndpointInput,
    ) -> async_graphql::Result<WebhookSecretPayload> {
        let settings = settings(ctx);
        let (created, user_errors) = run(ctx, "createWebhookEndpoint", move |write| {
            Box::pin(async move { create(write, &settings, input).await })
        })
        .await?;
        let (endpoint, secret) = created.unzip();
        Ok(WebhookSecretPayload {
            webhook_endpoint: endpoint.map(WebhookEndpoint),
            secret,
            user_errors,
        })
    }

    /// Changes a webhook endpoint: its URL, event types, description, or whether it is
    /// enabled. Admin only.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: UpdateWebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointPayload> {
        let settings = settings(ctx);
        let (endpoint, user_errors) = run(ctx, "updateWebhookEndpoint", move |write| {
            Box::pin(async move { update(write, &settings, input).await })
        })
        .await?;
        Ok(WebhookEndpointPayload {
            webhook_endpoint: endpoint.map(WebhookEndpoint),
            user_errors,
        })
    }

    /// Replaces an endpoint's signing secret; the new one is in the payload, shown this once.
    /// The previous secret also signs deliveries for a while (`previousSecretExpiresAt`), so
    /// the receiver can switch without losing any. Admin only.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint and the version you last read.")]
        input: RotateWebhookSecretInput,
    ) -> async_graphql::Result<WebhookSecretPayload> {
        let settings = settings(ctx);
        let (rotated, user_errors) = run(ctx, "rotateWebhookSecret", move |write| {
            Box::pin(async move { rotate(write, &settings, input).await })
        })
        .await?;
        let (endpoint, secret) = rotated.unzip();
        Ok(WebhookSecretPayload {
            webhook_endpoint: endpoint.map(WebhookEndpoint),
            secret,
            user_errors,
        })
    }

    /// Archives (removes) a webhook endpoint: no more deliveries. Admin only.
    archive!(archive_webhook_endpoint(input = "The endpoint and the version you last read.") -> WebhookEndpointPayload);

    /// Brings an archived webhook endpoint back; it receives the changes made since. Admin
    /// only.
    archive!(unarchive_webhook_endpoint(input = "The endpoint and the version you last read.") -> WebhookEndpointPayload);

    /// Delivers a message again (a failed one, or a delivered one the receiver lost), with a
    /// fresh set of retries. Admin only.
    async fn redeliver_webhook_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The message.")] input: RedeliverWebhookMessageInput,
    ) -> async_graphql::Result<WebhookMessagePayload> {
        let (message, user_errors) = run(ctx, "redeliverWebhookMessage", move |write| {
            Box::pin(async move {
                let message = id("id", &input.id, NodeKind::WebhookMessage)?;
                redeliver(write, message).await
            })
        })
        .await?;
        Ok(WebhookMessagePayload {
            webhook_message: message.map(WebhookMessage),
            user_errors,
        })
    }

    /// Sends a `webhook.test` message to an endpoint, delivered and signed like any other.
    /// Admin only.
    async fn send_test_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: SendTestWebhookInput,
    ) -> async_graphql::Result<WebhookMessagePayload> {
        let (message, user_errors) = run(ctx, "sendTestWebhook", move |write| {
            Box::pin(async move {
                let endpoint = id("endpoint", &input.endpoint, NodeKind::WebhookEndpoint)?;
                send_test(write, endpoint).await
            })
        })
        .await?;
        Ok(WebhookMessagePayload {
            webhook_message: message.map(WebhookMessage),
            user_errors,
        })
    }
}
