//! A record copied from a followed instance: which local row it is, and its ID and version
//! at the source.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "remote_copy")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub followed_instance_id: i64,
    /// The local table the copy is a row of (`learning`).
    pub subject_type: String,
    pub subject_id: i64,
    /// Its global ID at the source.
    pub remote_id: String,
    pub remote_version: Option<i32>,
    pub fetched_at: DateTimeUtc,
    /// When the source stopped showing it (archived or withdrawn there).
    pub withdrawn_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
