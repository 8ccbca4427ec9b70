//! One entry of the audit trail: who changed what, when, through which mutation, with the
//! changed fields before and after.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_entry")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub api_key_id: Option<i64>,
    /// The key's name when the change was made (names outlive revoked keys).
    pub actor: String,
    pub mutation: String,
    /// The type of the changed record (`Initiative`…).
    pub subject_type: String,
    pub subject_id: i64,
    /// The municipality the record belongs to, if any.
    pub municipality_id: Option<i64>,
    /// `{"field": {"before": …, "after": …}}` for every changed field.
    #[sea_orm(column_type = "JsonBinary")]
    pub changes: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
