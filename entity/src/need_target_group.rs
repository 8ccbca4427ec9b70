//! Target groups of a need.
use sea_orm::entity::prelude::*;

use crate::enums::TargetGroup;
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "need_target_group")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub need_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_group: TargetGroup,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
