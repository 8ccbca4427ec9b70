//! A lesson drawn from a programme or an initiative.
#![allow(unused_imports)]
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "learning")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub municipality_id: i64,
    pub programme_id: Option<i64>,
    pub initiative_id: Option<i64>,
    pub kind: LearningKind,
    pub audience: Audience,
    /// Position in the source it was drawn from (the case lists its learnings in order).
    pub position: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub title: LocalizedText,
    #[sea_orm(column_type = "JsonBinary")]
    pub body: LocalizedText,
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
