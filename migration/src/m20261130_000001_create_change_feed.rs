//! The change feed: one event per audited change, numbered in commit order. The numbers come
//! from the single row of `change_sequence`, taken as the last step of a writing transaction:
//! its row lock makes writers number their events one after another, so an event is visible
//! before any event with a higher number and a consumer that stores its cursor misses none.
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
                    .table("change_sequence")
                    .col(integer("id").primary_key())
                    .col(big_integer("last").default(0))
                    .take(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("change_sequence")
                    .columns(["id", "last"])
                    .values_panic([1.into(), 0.into()])
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("change_event")
                    .col(big_integer("sequence").primary_key())
                    .col(timestamp_with_time_zone("at"))
                    .col(string_len("subject_type", 32))
                    .col(big_integer("subject_id"))
                    .col(big_integer_null("municipality_id"))
                    .col(string_len("operation", 16))
                    .col(json_binary("fields"))
                    .col(integer_null("version"))
                    .col(string_len("mutation", 64))
                    .take(),
            )
            .await?;
        for (name, column) in [
            ("ix_change_event_type", "subject_type"),
            ("ix_change_event_municipality", "municipality_id"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("change_event")
                        .col(column)
                        .col("sequence")
                        .take(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["change_event", "change_sequence"] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
