//! One measured value of an indicator over a period, for an initiative or a programme.
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outcome")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub indicator_id: i64,
    pub municipality_id: i64,
    pub initiative_id: Option<i64>,
    pub programme_id: Option<i64>,
    pub area_id: Option<i64>,
    pub period_start: Date,
    pub period_end: Date,
    /// Exact fixed-point value in millionths of the indicator's unit (no float drift in sums).
    pub value_micro: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub method: LocalizedText,
    pub source: Option<String>,
    pub verified: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    pub archived_at: Option<DateTimeUtc>,
    pub provenance: Provenance,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
