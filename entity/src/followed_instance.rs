//! Another instance this one follows: where it is, how it announced itself, what is followed,
//! and how far its change feed has been applied.
use sea_orm::entity::prelude::*;

use crate::LocalizedText;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "followed_instance")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Its base address (`https://stroom.lahti.fi`).
    pub url: String,
    /// The key presented to it, if any (never shown).
    pub api_key: Option<String>,
    pub name: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub municipality_name: Option<LocalizedText>,
    pub country: Option<String>,
    /// The languages it announced, as a JSON array.
    #[sea_orm(column_type = "JsonBinary")]
    pub languages: Json,
    pub schema_version: Option<String>,
    /// Its GraphQL API and change feed, as it announced them.
    pub graphql_url: String,
    pub feed_url: String,
    /// What is followed (`["learnings"]`), as a JSON array.
    #[sea_orm(column_type = "JsonBinary")]
    pub types: Json,
    pub paused: bool,
    /// The number of the last event of its feed applied here.
    pub last_event: i64,
    /// The number of the newest event its feed had when last read.
    pub source_head: Option<i64>,
    pub events_applied: i64,
    pub last_applied_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub failing_since: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    /// When it was unfollowed.
    pub archived_at: Option<DateTimeUtc>,
    pub provenance: crate::enums::Provenance,
    /// The admin key it acts for (none: the command line's).
    pub api_key_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
