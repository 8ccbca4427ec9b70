//! A circular programme (Stroom) or an interregional project (CECI).
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "programme")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Empty for a project run by a network of partners rather than by one municipality.
    pub municipality_id: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub name: LocalizedText,
    #[sea_orm(column_type = "JsonBinary")]
    pub summary: LocalizedText,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub budget_min_eur: Option<i64>,
    pub budget_max_eur: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub funding_channel: LocalizedText,
    #[sea_orm(column_type = "JsonBinary")]
    pub staffing: LocalizedText,
    /// Staff in full-time equivalents, in hundredths (50 = one half-time worker).
    pub staffing_fte_centi: Option<i32>,
    pub website: Option<String>,
    pub contact_person_id: Option<i64>,
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
