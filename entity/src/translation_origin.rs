//! Where a translation of a text comes from: a person or a machine, and which municipality
//! contributed it. A locale without a row is one of the text's originals.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "translation_origin")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The record's type, as its global IDs name it (`Learning`).
    pub subject_type: String,
    pub subject_id: i64,
    /// The text's column (`title`, `body`).
    pub field: String,
    pub locale: String,
    /// `human` or `machine`.
    pub origin: String,
    /// The municipality that contributed the translation.
    pub municipality_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
