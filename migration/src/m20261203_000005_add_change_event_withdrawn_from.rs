//! `withdrawn` events: when a change takes a record out of sight of some readers (a learning
//! made partners-only), the feed tells those readers with an event of their own. The event's
//! `withdrawn_from` names who lost sight (`,anonymous,`), and only they see it; other events
//! leave it empty and follow the record's visibility.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("change_event")
                    .add_column(ColumnDef::new("withdrawn_from").string_len(63).null())
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("change_event")
                    .drop_column("withdrawn_from")
                    .take(),
            )
            .await
    }
}
