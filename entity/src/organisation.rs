//! A partner: department, funder, agency, project, city, enterprise…
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "organisation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: OrganisationKind,
    pub parent_id: Option<i64>,
    /// The municipality whose editors maintain the record, if any.
    pub municipality_id: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub name: LocalizedText,
    #[sea_orm(column_type = "JsonBinary")]
    pub description: LocalizedText,
    pub country: Option<String>,
    pub city: Option<String>,
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
