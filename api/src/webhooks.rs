//! `stroom webhooks`: webhook endpoints from the command line, through the same changes (and
//! the same checks and audit trail) as the GraphQL mutations.
use anyhow::{anyhow, bail};
use entity::{webhook_endpoint, webhook_message};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::config::WebhooksCommand;
use crate::domain::webhook::WebhookSettings;
use crate::domain::webhook::mutation::{
    CreateWebhookEndpointInput, UpdateWebhookEndpointInput, create, send_test, update,
};
use crate::kernel::access::{Role, Viewer};
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::write::{UserError, Write, WriteResult};

/// Who the audit trail says made changes from the command line.
fn command_line() -> Viewer {
    Viewer {
        role: Role::Admin,
        key: Some((0, "command line".to_owned())),
        municipality_id: None,
    }
}

/// Runs one change as the command line; user errors become the command's error.
pub(crate) async fn change<T, F>(
    db: &DatabaseConnection,
    mutation: &'static str,
    change: F,
) -> anyhow::Result<T>
where
    F: for<'w> FnOnce(&'w Write) -> futures_util::future::BoxFuture<'w, WriteResult<T>>,
{
    let write = Write::start(db, command_line(), mutation)
        .await
        .map_err(|e| anyhow!(e.to_string()))?;
    let result = change(&write).await;
    match write
        .finish(result)
        .await
        .map_err(|e| anyhow!(e.to_string()))?
    {
        (Some(value), _) => Ok(value),
        (None, errors) => bail!(
            "{}",
            errors
                .iter()
                .map(|e: &UserError| e.message.clone())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

pub async fn run(db: &DatabaseConnection, command: WebhooksCommand) -> anyhow::Result<()> {
    match command {
        WebhooksCommand::Add {
            url,
            events,
            description,
            allow_internal,
        } => {
            let settings = WebhookSettings {
                allow_internal,
                ..WebhookSettings::default()
            };
            let input = CreateWebhookEndpointInput {
                url,
                event_types: Some(events),
                description,
                enabled: Some(true),
            };
            let (endpoint, secret) = change(db, "createWebhookEndpoint", move |write| {
                Box::pin(async move { create(write, &settings, input).await })
            })
            .await?;
            println!(
                "Registered the webhook endpoint {} for {}.",
                NodeKind::WebhookEndpoint.id(endpoint.id).0,
                endpoint.url
            );
            println!("Keep its signing secret now: it is shown this once.");
            println!("{secret}");
            Ok(())
        }
        WebhooksCommand::List => list(db).await,
        WebhooksCommand::Disable { endpoint } => set_enabled(db, &endpoint, false).await,
        WebhooksCommand::Enable { endpoint } => set_enabled(db, &endpoint, true).await,
        WebhooksCommand::Remove { endpoint } => {
            let found = find(db, &endpoint).await?;
            change(db, "archiveWebhookEndpoint", move |write| {
                Box::pin(async move {
                    write
                        .set_archived::<webhook_endpoint::Entity>(found.id, found.version, true)
                        .await
                })
            })
            .await?;
            println!("Removed the webhook endpoint for {}.", found.url);
            Ok(())
        }
        WebhooksCommand::Test { endpoint } => {
            let found = find(db, &endpoint).await?;
            let message = change(db, "sendTestWebhook", move |write| {
                Box::pin(async move { send_test(write, found.id).await })
            })
            .await?;
            println!(
                "Queued the test message {} for {}; a running server delivers it.",
                crate::domain::webhook::delivery::webhook_id(&message),
                found.url
            );
            Ok(())
        }
    }
}

async fn set_enabled(db: &DatabaseConnection, endpoint: &str, enabled: bool) -> anyhow::Result<()> {
    let found = find(db, endpoint).await?;
    let input = UpdateWebhookEndpointInput {
        id: NodeKind::WebhookEndpoint.id(found.id),
        version: found.version,
        url: None,
        event_types: None,
        description: None,
        enabled: Some(enabled),
    };
    let settings = WebhookSettings::default();
    change(db, "updateWebhookEndpoint", move |write| {
        Box::pin(async move { update(write, &settings, input).await })
    })
    .await?;
    println!(
        "{} the webhook endpoint for {}.",
        if enabled { "Enabled" } else { "Disabled" },
        found.url
    );
    Ok(())
}

/// An endpoint (not archived) by global ID, row ID, description or URL.
async fn find(db: &DatabaseConnection, wanted: &str) -> anyhow::Result<webhook_endpoint::Model> {
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::ArchivedAt.is_null())
        .all(db)
        .await?;
    let by_id = GlobalId::decode("endpoint", &async_graphql::ID(wanted.to_owned()))
        .ok()
        .filter(|g| g.kind == NodeKind::WebhookEndpoint)
        .map(|g| g.id)
        .or_else(|| wanted.parse::<i64>().ok());
    let matches: Vec<webhook_endpoint::Model> = endpoints
        .into_iter()
        .filter(|e| Some(e.id) == by_id || e.description == wanted || e.url == wanted)
        .collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().expect("one match")),
        0 => bail!("no webhook endpoint has the ID, description or URL `{wanted}`"),
        n => bail!("{n} webhook endpoints match `{wanted}`: name one by its ID"),
    }
}

async fn list(db: &DatabaseConnection) -> anyhow::Result<()> {
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::ArchivedAt.is_null())
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(db)
        .await?;
    println!(
        "{:<28} {:<40} {:<24} {:<9} {:>7} {:>7} DESCRIPTION",
        "ID", "URL", "EVENTS", "STATE", "PENDING", "FAILED"
    );
    for endpoint in endpoints {
        let count = |status: &'static str| {
            webhook_message::Entity::find()
                .filter(webhook_message::Column::EndpointId.eq(endpoint.id))
                .filter(webhook_message::Column::Status.eq(status))
                .count(db)
        };
        let (pending, failed) = (count("pending").await?, count("failed").await?);
        let events = endpoint
            .event_types
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "*".into());
        let state = if endpoint.enabled {
            "enabled"
        } else {
            "disabled"
        };
        println!(
            "{:<28} {:<40} {:<24} {:<9} {:>7} {:>7} {}",
            NodeKind::WebhookEndpoint.id(endpoint.id).0,
            endpoint.url,
            events,
            state,
            pending,
            failed,
            endpoint.description
        );
        if let Some(reason) = &endpoint.disabled_reason {
            println!("    {reason}");
        }
    }
    Ok(())
}
