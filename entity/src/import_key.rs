//! The external ID a spreadsheet gives a record, and the record's version as the last import
//! left it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "import_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The record's type, as its global IDs name it (`Initiative`).
    pub subject_type: String,
    pub external_id: String,
    pub subject_id: i64,
    pub imported_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
