//! The `webhook-id` a message is sent under: random, so that two deployments sending to one
//! receiver never give two messages the same id (their row numbers both start at 1), and kept,
//! so that every retry carries the same one. Messages made before have none and keep `msg_<row>`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("webhook_message")
                    .add_column(ColumnDef::new("uid").string_len(40).null())
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("webhook_message")
                    .drop_column("uid")
                    .take(),
            )
            .await
    }
}
