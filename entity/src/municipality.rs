//! A city or region that runs programmes.
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "municipality")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub name: LocalizedText,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub default_locale: String,
    pub households: Option<i64>,
    pub population: Option<i64>,
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    pub archived_at: Option<DateTimeUtc>,
    pub provenance: Provenance,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
