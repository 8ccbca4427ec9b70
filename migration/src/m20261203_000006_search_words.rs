//! Search gives the same answers on PostgreSQL and SQLite: both index the same words (folded
//! text with everything but letters and digits turned into spaces) and match them the same
//! way, by word prefix without stemming (PostgreSQL's `simple` configuration, SQLite's FTS5).
//! `search_word` lists the words of the index by who may find them, for typo suggestions. The
//! documents are dropped here and rebuilt in the new form when the service starts.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("search_word")
                    .col(string_len("word", 100))
                    .col(string_len("visibility", 16))
                    .primary_key(Index::create().col("word").col("visibility"))
                    .take(),
            )
            .await?;
        let connection = manager.get_connection();
        // Written only by the write frame (and bulk loads, which void every kept answer): a
        // kept answer that read it is checked by its stamp like the index's.
        connection
            .execute_unprepared("INSERT INTO table_stamp (name, stamp) VALUES ('search_word', 0)")
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            connection
                .execute_unprepared(
                    "DROP INDEX IF EXISTS idx_search_document_tsv; \
                     ALTER TABLE search_document DROP COLUMN tsv; \
                     ALTER TABLE search_document ADD COLUMN tsv tsvector GENERATED ALWAYS AS ( \
                       setweight(to_tsvector('simple', folded_title), 'A') || \
                       setweight(to_tsvector('simple', folded_body), 'B')) STORED; \
                     CREATE INDEX idx_search_document_tsv ON search_document USING GIN (tsv);",
                )
                .await?;
        }
        connection
            .execute_unprepared("DELETE FROM search_document")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("search_word").take())
            .await?;
        let connection = manager.get_connection();
        connection
            .execute_unprepared("DELETE FROM table_stamp WHERE name = 'search_word'")
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            connection
                .execute_unprepared(
                    "DROP INDEX IF EXISTS idx_search_document_tsv; \
                     ALTER TABLE search_document DROP COLUMN tsv; \
                     ALTER TABLE search_document ADD COLUMN tsv tsvector GENERATED ALWAYS AS ( \
                       setweight(to_tsvector(config, folded_title), 'A') || \
                       setweight(to_tsvector(config, folded_body), 'B')) STORED; \
                     CREATE INDEX idx_search_document_tsv ON search_document USING GIN (tsv);",
                )
                .await?;
        }
        connection
            .execute_unprepared("DELETE FROM search_document")
            .await?;
        Ok(())
    }
}
