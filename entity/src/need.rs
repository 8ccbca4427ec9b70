//! A residents' need mapped in participatory research.
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "need")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub municipality_id: i64,
    pub programme_id: Option<i64>,
    pub area_id: Option<i64>,
    pub theme_id: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub title: LocalizedText,
    #[sea_orm(column_type = "JsonBinary")]
    pub description: LocalizedText,
    pub source: NeedSource,
    pub residents_count: Option<i64>,
    pub status: NeedStatus,
    pub recorded_on: Date,
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
