//! A circular initiative by citizens, entrepreneurs, social organisations or the city.
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "initiative")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub municipality_id: i64,
    pub programme_id: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub name: LocalizedText,
    #[sea_orm(column_type = "JsonBinary")]
    pub description: LocalizedText,
    pub initiator_kind: InitiatorKind,
    pub stage: InitiativeStage,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub business_model: BusinessModel,
    pub affordability: Affordability,
    pub website: Option<String>,
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
