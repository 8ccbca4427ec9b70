//! A place inside a municipality; areas nest (district > neighbourhood > street cluster).
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "area")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub municipality_id: i64,
    pub parent_id: Option<i64>,
    pub kind: AreaKind,
    #[sea_orm(column_type = "JsonBinary")]
    pub name: LocalizedText,
    pub households: Option<i64>,
    pub residents: Option<i64>,
    /// GeoJSON geometry object.
    #[sea_orm(column_type = "JsonBinary")]
    pub geometry: Option<Json>,
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
