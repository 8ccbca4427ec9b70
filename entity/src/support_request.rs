//! Support an initiative asked the city for (a location, money, expertise…) and its decision.
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "support_request")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub initiative_id: i64,
    pub kind: SupportKind,
    #[sea_orm(column_type = "JsonBinary")]
    pub description: LocalizedText,
    pub status: SupportStatus,
    pub requested_on: Date,
    pub decided_on: Option<Date>,
    #[sea_orm(column_type = "JsonBinary")]
    pub decision_note: LocalizedText,
    pub amount_requested_eur: Option<i64>,
    pub amount_granted_eur: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    pub archived_at: Option<DateTimeUtc>,
    pub provenance: Provenance,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
