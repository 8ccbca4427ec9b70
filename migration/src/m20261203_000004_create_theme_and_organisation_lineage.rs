//! `theme_lineage` and `organisation_lineage`, as `area_lineage` is for areas: each record with
//! itself and every record above it. Filtering by a theme (its sub-themes included) and
//! counting by theme (sub-themes rolled up) read the same view, so a group's count is always
//! what the list under the same filter holds.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TREES: &[&str] = &["theme", "organisation"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for tree in TREES {
            // UNION (not UNION ALL) ends the recursion even if the parents ever formed a cycle.
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE VIEW {tree}_lineage ({tree}_id, ancestor_id) AS \
                     WITH RECURSIVE lineage(member_id, ancestor_id) AS ( \
                       SELECT id, id FROM {tree} \
                       UNION \
                       SELECT lineage.member_id, {tree}.parent_id FROM lineage \
                       JOIN {tree} ON {tree}.id = lineage.ancestor_id \
                       WHERE {tree}.parent_id IS NOT NULL \
                     ) SELECT member_id, ancestor_id FROM lineage"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for tree in TREES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP VIEW {tree}_lineage"))
                .await?;
        }
        Ok(())
    }
}
