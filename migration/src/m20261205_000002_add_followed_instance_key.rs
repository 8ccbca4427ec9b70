//! The API key a followed instance acts for: the admin key that followed it (or resumed it),
//! none from the command line. Following stops within a poll when that key no longer admits
//! it, as webhook deliveries do.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("followed_instance")
                    .add_column(big_integer_null("api_key_id"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("followed_instance")
                    .drop_column("api_key_id")
                    .take(),
            )
            .await
    }
}
