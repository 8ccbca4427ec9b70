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
    /// `created`, `updated`, `archived`, `unarchived`, `linked`, `unlinked` or `withdrawn`.
    pub operation: String,
    /// The API names of the changed fields.
    #[sea_orm(column_type = "JsonBinary")]
    pub fields: Json,
    /// The record's version after the change, for records that have one.
    pub version: Option<i32>,
    /// The mutation that made the change.
    pub mutation: String,
    /// For a `withdrawn` event, the roles that lost sight of the record (`,anonymous,`): only
    /// they see the event. Empty for other events, which follow the record's visibility.
    pub withdrawn_from: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
