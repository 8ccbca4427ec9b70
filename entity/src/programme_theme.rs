//! Themes of a programme.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "programme_theme")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub programme_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub theme_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
