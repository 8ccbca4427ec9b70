//! `stroom follow`: following partner cities' instances from the command line, through the
//! same changes (checks and audit trail) as the GraphQL mutations.
use anyhow::{anyhow, bail};
use entity::followed_instance;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use crate::config::FollowCommand;
use crate::domain::network::following::{FollowedType, follow};
use crate::domain::network::source::Source;
use crate::kernel::ids::NodeKind;
use crate::webhooks::change;

pub async fn run(db: &DatabaseConnection, command: FollowCommand) -> anyhow::Result<()> {
    match command {
        FollowCommand::Add { url, key, types } => {
            let url = url.trim().trim_end_matches('/').to_owned();
            let mut kinds = Vec::new();
            for name in &types {
                let name = name.trim().to_lowercase();
                match FollowedType::parse(&name) {
                    Some(kind) => kinds.push(kind),
                    None => bail!("`{name}` cannot be followed; `learnings` and `outcomes` can."),
                }
            }
            let announced = Source::new(&url, key.clone())
                .map_err(|p| anyhow!(p.to_string()))?
                .announcement()
                .await
                .map_err(|p| anyhow!(p.to_string()))?;
            let name = announced.name.clone();
            let followed = change(db, "followInstance", move |write| {
                Box::pin(async move { follow(write, url, key, &kinds, announced).await })
            })
            .await?;
            println!(
                "Following {name} at {} ({}); a running server reads its changes.",
                followed.url,
                NodeKind::FollowedInstance.id(followed.id).0
            );
            Ok(())
        }
        FollowCommand::List => {
            let instances = followed_instance::Entity::find()
                .filter(followed_instance::Column::ArchivedAt.is_null())
                .order_by_asc(followed_instance::Column::Id)
                .all(db)
                .await?;
            if instances.is_empty() {
                println!("No instance is followed.");
            }
            for i in instances {
                println!(
                    "{}\t{}\t{}\tlast event {}\t{} applied{}{}",
                    i.url,
                    i.name.as_deref().unwrap_or("?"),
                    i.country.as_deref().unwrap_or("?"),
                    i.last_event,
                    i.events_applied,
                    if i.paused { "\tpaused" } else { "" },
                    i.last_error
                        .as_deref()
                        .map(|e| format!("\terror: {e}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        FollowCommand::Remove { url } => {
            let url = url.trim().trim_end_matches('/').to_owned();
            let found = followed_instance::Entity::find()
                .filter(followed_instance::Column::Url.eq(url.as_str()))
                .filter(followed_instance::Column::ArchivedAt.is_null())
                .one(db)
                .await?
                .ok_or_else(|| anyhow!("No followed instance is at {url}."))?;
            change(db, "unfollowInstance", move |write| {
                Box::pin(async move {
                    write
                        .set_archived::<followed_instance::Entity>(found.id, found.version, true)
                        .await
                })
            })
            .await?;
            println!("No longer following {url}; its copies left the lists.");
            Ok(())
        }
    }
}
