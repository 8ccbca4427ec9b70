//! The identity a spreadsheet gives a record: its external ID (a number or code from the
//! department's own files), per record type. An import finds the record a row means through
//! it, so importing the same file twice changes nothing the second time. `imported_version` is
//! the record's version as the last import left it: a record changed since (in the API) is not
//! overwritten by a file that does not know the change.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("import_key")
                    .col(big_pk_auto("id"))
                    .col(string_len("subject_type", 64))
                    .col(string_len("external_id", 255))
                    .col(big_integer("subject_id"))
                    .col(integer("imported_version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("import_key_external_id")
                    .table("import_key")
                    .col("subject_type")
                    .col("external_id")
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("import_key_subject")
                    .table("import_key")
                    .col("subject_type")
                    .col("subject_id")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("import_key").take())
            .await
    }
}
