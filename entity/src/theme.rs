//! A theme of the taxonomy; partner municipalities add their own.
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "theme")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub parent_id: Option<i64>,
    /// The municipality that added the theme; empty for the shared taxonomy.
    pub municipality_id: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub label: LocalizedText,
    #[sea_orm(column_type = "JsonBinary")]
    pub description: LocalizedText,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    pub archived_at: Option<DateTimeUtc>,
    pub provenance: Provenance,
    /// The folded labels (every translation), which search matches.
    pub search_text: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
