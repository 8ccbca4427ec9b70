//! A municipality saying of another's learning: "we saw this too".
use sea_orm::entity::prelude::*;

use crate::LocalizedText;
use crate::enums::Provenance;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "learning_endorsement")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub learning_id: i64,
    pub municipality_id: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub note: LocalizedText,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    pub archived_at: Option<DateTimeUtc>,
    pub provenance: Provenance,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
