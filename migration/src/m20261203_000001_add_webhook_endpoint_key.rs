//! The API key a webhook endpoint acts for: the admin key that registered it (or last enabled
//! it). Deliveries stop when that key is revoked, expires or is no longer an admin's. Endpoints
//! registered on the command line act for no key (NULL).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("webhook_endpoint")
                    .add_column(ColumnDef::new("api_key_id").big_integer().null())
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("webhook_endpoint")
                    .drop_column("api_key_id")
                    .take(),
            )
            .await
    }
}
