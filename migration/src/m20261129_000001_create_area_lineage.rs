//! `area_lineage`: each area with itself and every area above it, so counts by area can roll
//! sub-areas up into the areas that contain them (as filtering by an area does).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // UNION (not UNION ALL) ends the recursion even if the parents ever formed a cycle.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE VIEW area_lineage (area_id, ancestor_id) AS \
                 WITH RECURSIVE lineage(area_id, ancestor_id) AS ( \
                   SELECT id, id FROM area \
                   UNION \
                   SELECT lineage.area_id, area.parent_id FROM lineage \
                   JOIN area ON area.id = lineage.ancestor_id \
                   WHERE area.parent_id IS NOT NULL \
                 ) SELECT area_id, ancestor_id FROM lineage",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP VIEW area_lineage")
            .await?;
        Ok(())
    }
}
