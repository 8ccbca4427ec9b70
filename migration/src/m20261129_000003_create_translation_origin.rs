//! Where each translation of a text comes from. A text's locales are its original ones unless a
//! row here says a person or a machine translated them, and which municipality contributed
//! the translation (partner cities translate each other's learnings).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::reference;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table("translation_origin")
            .col(big_pk_auto("id"))
            .col(string_len("subject_type", 32))
            .col(big_integer("subject_id"))
            .col(string_len("field", 64))
            .col(string_len("locale", 16))
            .col(string_len("origin", 16))
            .col(big_integer_null("municipality_id"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut reference(
                "translation_origin",
                "municipality_id",
                "municipality",
            ));
        manager.create_table(table.take()).await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_translation_origin_text")
                    .table("translation_origin")
                    .col("subject_type")
                    .col("subject_id")
                    .col("field")
                    .col("locale")
                    .unique()
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("translation_origin").take())
            .await?;
        Ok(())
    }
}
