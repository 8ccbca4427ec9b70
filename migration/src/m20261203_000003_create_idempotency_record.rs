//! The answers to requests sent with an `Idempotency-Key`, kept for a day so that a client
//! retrying a mutation (after a timeout, a lost connection) gets the first answer again instead
//! of a second write. In the shared database, so a retry that reaches another instance is
//! answered the same. `status` is empty while the first request is still running.
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
                    .table("idempotency_record")
                    .col(big_pk_auto("id"))
                    .col(big_integer("api_key_id"))
                    .col(string_len("idempotency_key", 255))
                    .col(string_len("fingerprint", 64))
                    .col(integer_null("status"))
                    .col(string_len_null("content_type", 127))
                    .col(text_null("body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_record_key")
                    .table("idempotency_record")
                    .col("api_key_id")
                    .col("idempotency_key")
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_record_created_at")
                    .table("idempotency_record")
                    .col("created_at")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("idempotency_record").take())
            .await
    }
}
