//! An organisation's role in a programme, an initiative or a network (such as the CECI project):
//! exactly one of `programme_id`, `initiative_id` and `network_id` is set.
use sea_orm::entity::prelude::*;

use crate::{LocalizedText, enums::*};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "partnership")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organisation_id: i64,
    pub programme_id: Option<i64>,
    pub initiative_id: Option<i64>,
    pub network_id: Option<i64>,
    pub role: PartnerRole,
    #[sea_orm(column_type = "JsonBinary")]
    pub note: LocalizedText,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    pub archived_at: Option<DateTimeUtc>,
    pub provenance: Provenance,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
