//! Where a copy comes from: the instance it was read from, its ID there, when it was read,
//! and whether the source still shows it.
use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, Object};
use entity::{followed_instance, remote_copy};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::graphql::context::loader;
use crate::graphql::loader::DbLoader;
use crate::graphql::scalars::DateTime;
use crate::kernel::error::ApiError;

/// The copy a local row is, by its table and ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CopyOf(pub &'static str, pub i64);

impl Loader<CopyOf> for DbLoader {
    type Value = Origin;
    type Error = ApiError;

    async fn load(&self, keys: &[CopyOf]) -> Result<HashMap<CopyOf, Origin>, ApiError> {
        let mut tables: Vec<&'static str> = keys.iter().map(|k| k.0).collect();
        tables.sort_unstable();
        tables.dedup();
        let copies = remote_copy::Entity::find()
            .filter(remote_copy::Column::SubjectType.is_in(tables))
            .filter(remote_copy::Column::SubjectId.is_in(keys.iter().map(|k| k.1)))
            .all(&self.db)
            .await?;
        if copies.is_empty() {
            return Ok(HashMap::new());
        }
        let instances: HashMap<i64, followed_instance::Model> = followed_instance::Entity::find()
            .filter(
                followed_instance::Column::Id.is_in(copies.iter().map(|c| c.followed_instance_id)),
            )
            .all(&self.db)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        Ok(copies
            .into_iter()
            .filter_map(|copy| {
                let key = *keys
                    .iter()
                    .find(|k| k.0 == copy.subject_type && k.1 == copy.subject_id)?;
                let instance = instances.get(&copy.followed_instance_id)?.clone();
                Some((key, Origin { copy, instance }))
            })
            .collect())
    }
}

/// Where a local row comes from, when it is a copy of another instance's record.
pub async fn origin_of(
    ctx: &Context<'_>,
    table: &'static str,
    id: i64,
) -> async_graphql::Result<Option<Origin>> {
    Ok(loader(ctx).load_one(CopyOf(table, id)).await?)
}

/// Where a copy of a partner instance's record comes from.
#[derive(Debug, Clone)]
pub struct Origin {
    copy: remote_copy::Model,
    instance: followed_instance::Model,
}

/// Where a copy of a record of an instance this one follows comes from.
#[Object]
impl Origin {
    /// The name of the instance it comes from, as that instance announced it.
    async fn instance(&self) -> &str {
        self.instance.name.as_deref().unwrap_or(&self.instance.url)
    }

    /// The country of the instance it comes from (ISO 3166-1 alpha-2).
    async fn country(&self) -> Option<&str> {
        self.instance.country.as_deref()
    }

    /// Its global ID at the source: `node(id:)` there finds it.
    async fn remote_id(&self) -> ID {
        ID(self.copy.remote_id.clone())
    }

    /// The source's GraphQL API.
    async fn url(&self) -> &str {
        &self.instance.graphql_url
    }

    /// When it was last read from the source.
    async fn fetched_at(&self) -> DateTime {
        DateTime(self.copy.fetched_at)
    }

    /// Whether the source shows it no more (archived or withdrawn there), or it is no longer
    /// followed here.
    async fn withdrawn(&self) -> bool {
        self.copy.withdrawn_at.is_some() || self.instance.archived_at.is_some()
    }
}
