//! `stroom keys`: API keys from the command line.
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use entity::api_key;
use entity::enums::KeyRole;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder, TransactionTrait};

use crate::config::{KeyRoleArg, KeysCommand};
use crate::domain::api_key::{create_key, is_active, key_changes, revoke_key};
use crate::kernel::i18n::fold;
use crate::kernel::ids::{GlobalId, NodeKind};

/// The actor the audit log names for changes made from the command line.
const CLI_ACTOR: &str = "command line";

pub async fn run(db: &DatabaseConnection, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            name,
            role,
            municipality,
            expires,
        } => {
            let role = match role {
                KeyRoleArg::Partner => KeyRole::Partner,
                KeyRoleArg::Editor => KeyRole::Editor,
                KeyRoleArg::Admin => KeyRole::Admin,
            };
            let municipality_id = match municipality.as_deref() {
                Some(m) => Some(find_municipality(db, m).await?),
                None => None,
            };
            let expires_at = expires.as_deref().map(parse_expiry).transpose()?;
            let txn = db.begin().await?;
            let (key, token) = create_key(&txn, &name, role, municipality_id, expires_at)
                .await
                .map_err(|e| anyhow!(e.message))?;
            audit(&txn, &key, key_changes(None, &key)).await?;
            txn.commit().await?;
            println!(
                "Created the {} key `{}`{}{}.",
                key.role.as_str(),
                key.name,
                municipality
                    .map(|m| format!(" for {m}"))
                    .unwrap_or_default(),
                key.expires_at
                    .map(|t| format!(", valid until {}", t.to_rfc3339()))
                    .unwrap_or_default()
            );
            println!("Keep the key now: it is shown this once and stored only as a hash.");
            println!("{token}");
            Ok(())
        }
        KeysCommand::List => {
            let keys = api_key::Entity::find()
                .order_by_asc(api_key::Column::Id)
                .all(db)
                .await?;
            let now = crate::kernel::time::now();
            println!(
                "{:<28} {:<30} {:<8} {:<6} {:<20} {:<20} STATUS",
                "ID", "NAME", "ROLE", "MUNI", "CREATED", "LAST USED"
            );
            for key in keys {
                let status = if key.revoked_at.is_some() {
                    "revoked"
                } else if !is_active(&key, now) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{:<28} {:<30} {:<8} {:<6} {:<20} {:<20} {status}",
                    NodeKind::ApiKey.id(key.id).0,
                    key.name,
                    key.role.as_str(),
                    key.municipality_id
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "-".into()),
                    key.created_at.format("%Y-%m-%d %H:%M"),
                    key.last_used_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into()),
                );
            }
            Ok(())
        }
        KeysCommand::Revoke { key } => {
            let id = find_key(db, &key).await?;
            let txn = db.begin().await?;
            let (before, after) = revoke_key(&txn, id).await.map_err(|e| anyhow!(e.message))?;
            audit(&txn, &after, key_changes(Some(&before), &after)).await?;
            txn.commit().await?;
            println!("Revoked the key `{}`.", after.name);
            Ok(())
        }
    }
}

async fn audit(
    txn: &sea_orm::DatabaseTransaction,
    key: &api_key::Model,
    changes: serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    use sea_orm::ActiveValue::{NotSet, Set};
    let mutation = if key.revoked_at.is_some() {
        "revokeApiKey"
    } else {
        "createApiKey"
    };
    entity::audit_entry::Entity::insert(entity::audit_entry::ActiveModel {
        id: NotSet,
        at: Set(crate::kernel::time::now()),
        api_key_id: Set(None),
        actor: Set(CLI_ACTOR.into()),
        mutation: Set(mutation.into()),
        subject_type: Set(NodeKind::ApiKey.type_name().into()),
        subject_id: Set(key.id),
        municipality_id: Set(key.municipality_id),
        changes: Set(serde_json::Value::Object(changes.clone())),
    })
    .exec_without_returning(txn)
    .await?;
    let created = key.revoked_at.is_none();
    let event = crate::kernel::feed::Event {
        kind: NodeKind::ApiKey,
        subject: key.id,
        municipality: key.municipality_id,
        operation: crate::kernel::feed::Operation::of(&changes, created),
        fields: changes.keys().cloned().collect(),
        version: None,
        withdrawn_from: None,
    };
    crate::kernel::feed::publish(txn, mutation, vec![event]).await?;
    Ok(())
}

/// `2027-01-31` (valid through that day, UTC) or an RFC 3339 instant.
fn parse_expiry(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let next = day.succ_opt().ok_or_else(|| anyhow!("date out of range"))?;
        return Ok(next.and_hms_opt(0, 0, 0).context("midnight")?.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("`{text}` is neither a date (YYYY-MM-DD) nor an RFC 3339 instant"))
}

/// A municipality by row ID, global ID or name in any language (case and accents ignored).
async fn find_municipality(db: &DatabaseConnection, wanted: &str) -> anyhow::Result<i64> {
    let all = entity::municipality::Entity::find().all(db).await?;
    let by_id = wanted.parse::<i64>().ok().or_else(|| {
        GlobalId::decode_as(
            "municipality",
            &async_graphql::ID(wanted.into()),
            NodeKind::Municipality,
        )
        .ok()
    });
    let folded = fold(wanted.trim());
    let found: Vec<&entity::municipality::Model> = all
        .iter()
        .filter(|m| Some(m.id) == by_id || m.name.iter().any(|(_, name)| fold(name) == folded))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.id),
        [] => bail!("no municipality is called or numbered `{wanted}`"),
        _ => bail!("several municipalities match `{wanted}`: use the ID"),
    }
}

/// A key by row ID, global ID or name.
async fn find_key(db: &DatabaseConnection, wanted: &str) -> anyhow::Result<i64> {
    let all = api_key::Entity::find().all(db).await?;
    let by_id = wanted.parse::<i64>().ok().or_else(|| {
        GlobalId::decode_as("key", &async_graphql::ID(wanted.into()), NodeKind::ApiKey).ok()
    });
    all.iter()
        .find(|k| k.name == wanted)
        .or_else(|| all.iter().find(|k| Some(k.id) == by_id))
        .map(|k| k.id)
        .ok_or_else(|| anyhow!("no API key is called or numbered `{wanted}`"))
}
