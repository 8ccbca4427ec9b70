//! A covering index for outcome series: the rows of an indicator in a date range, with the
//! columns the series adds up, so the aggregate reads the index alone (an index-only scan on
//! PostgreSQL, a covering index on SQLite) instead of one table page per outcome.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Partial (unarchived rows only), which sea-query's index builder cannot express; the
        // statement is the same on both databases.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_outcome_series ON outcome \
                 (indicator_id, period_start, initiative_id, value_micro) \
                 WHERE archived_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_outcome_series")
                    .table("outcome")
                    .to_owned(),
            )
            .await
    }
}
