//! The need's own batched loaders: its target groups, and whether an active initiative
//! answers it.
use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};

use crate::graphql::loader::DbLoader;
use crate::kernel::error::ApiError;
use crate::kernel::record::{col, in_ids};

/// The target groups of each need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetGroupsOf(pub i64);

impl Loader<TargetGroupsOf> for DbLoader {
    type Value = Vec<entity::enums::TargetGroup>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[TargetGroupsOf],
    ) -> Result<HashMap<TargetGroupsOf, Self::Value>, ApiError> {
        use entity::need_target_group::Entity;
        let rows = Entity::find()
            .filter(in_ids(
                self.db.get_database_backend(),
                col(entity::need_target_group::Column::NeedId),
                keys.iter().map(|k| k.0),
            ))
            .all(&self.db)
            .await?;
        let mut result: HashMap<TargetGroupsOf, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            if let Some(groups) = result.get_mut(&TargetGroupsOf(row.need_id)) {
                groups.push(row.target_group);
            }
        }
        for groups in result.values_mut() {
            groups.sort_by_key(|g| entity::enums::TargetGroup::ALL.iter().position(|x| x == g));
        }
        Ok(result)
    }
}

/// Whether an active initiative answers each need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnsweredNeed(pub i64);

impl Loader<AnsweredNeed> for DbLoader {
    type Value = bool;
    type Error = ApiError;

    async fn load(&self, keys: &[AnsweredNeed]) -> Result<HashMap<AnsweredNeed, bool>, ApiError> {
        use sea_orm::sea_query::Query;
        let select = Query::select()
            .column(("need", "id"))
            .from("need")
            .and_where(in_ids(
                self.db.get_database_backend(),
                col(entity::need::Column::Id),
                keys.iter().map(|k| k.0),
            ))
            .and_where(super::answered_condition())
            .take();
        let mut result: HashMap<AnsweredNeed, bool> = keys.iter().map(|k| (*k, false)).collect();
        for row in self.db.query_all(&select).await? {
            let id: i64 = row.try_get("", "id")?;
            result.insert(AnsweredNeed(id), true);
        }
        Ok(result)
    }
}
