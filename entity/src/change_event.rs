//! One event of the change feed: which record changed, how, which fields, its new version.
//! Numbered in commit order (`sequence`), without gaps.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "change_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    pub at: DateTimeUtc,
    /// The type of the changed record (`Initiative`…).
    pub subject_type: String,
    pub subject_id: i64,
    /// The municipality the record belongs to, if any.
    pub municipality_id: Option<i64>,
    /// `created`, `updated`, `archived`, `unarchived`, `linked` or `unlinked`.
    pub operation: String,
    /// The API names of the changed fields.
    #[sea_orm(column_type = "JsonBinary")]
    pub fields: Json,
    /// The record's version after the change, for records that have one.
    pub version: Option<i32>,
    /// The mutation that made the change.
    pub mutation: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
