//! Partial-word search and theme labels. Dutch, German and Finnish write compounds, so
//! "bibliotheek" must find "gereedschapsbibliotheek": PostgreSQL gets trigram indexes (pg_trgm)
//! over the search documents and over each record table's `search_text` (the lists'
//! `filter.search`); SQLite gets a second FTS5 index with the trigram tokenizer. And a record's
//! themes' labels (with those of the themes above them) join its search documents in a column
//! of their own, indexed apart, so "réparation" finds the records of the theme so labelled. The
//! documents are cleared: the service rebuilds them at start, with their themes.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The record tables whose lists filter by `search`.
const SEARCH_TEXT_TABLES: &[&str] = &[
    "municipality",
    "area",
    "theme",
    "organisation",
    "programme",
    "need",
    "initiative",
    "learning",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Theme labels become searchable: a search for "réparation" finds the records of the
        // theme so labelled. The service fills the folded text at start.
        manager
            .alter_table(
                Table::alter()
                    .table("theme")
                    .add_column(ColumnDef::new("search_text").text().not_null().default(""))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("search_document")
                    .add_column(
                        ColumnDef::new("folded_themes")
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .take(),
            )
            .await?;
        let connection = manager.get_connection();
        connection
            .execute_unprepared("DELETE FROM search_document")
            .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                connection
                    .execute_unprepared(
                        "ALTER TABLE search_document ADD COLUMN tsv_themes tsvector \
                         GENERATED ALWAYS AS (to_tsvector('simple', folded_themes)) STORED; \
                         CREATE INDEX idx_search_document_tsv_themes ON search_document \
                         USING GIN (tsv_themes);",
                    )
                    .await?;
                // A trusted extension since PostgreSQL 13: the database's owner may create it.
                connection
                    .execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                    .await?;
                connection
                    .execute_unprepared(
                        "CREATE INDEX idx_search_document_trigram ON search_document \
                         USING GIN ((folded_title || ' ' || folded_body) gin_trgm_ops)",
                    )
                    .await?;
                for table in SEARCH_TEXT_TABLES {
                    connection
                        .execute_unprepared(&format!(
                            "CREATE INDEX idx_{table}_search_text_trigram ON {table} \
                             USING GIN (search_text gin_trgm_ops)"
                        ))
                        .await?;
                }
            }
            _ => {
                connection
                    .execute_unprepared(
                        "CREATE VIRTUAL TABLE search_theme_fts USING fts5( \
                           folded_themes, content='search_document', content_rowid='id', \
                           tokenize='unicode61 remove_diacritics 2'); \
                         CREATE TRIGGER search_theme_ai AFTER INSERT ON search_document BEGIN \
                           INSERT INTO search_theme_fts(rowid, folded_themes) VALUES (new.id, new.folded_themes); END; \
                         CREATE TRIGGER search_theme_ad AFTER DELETE ON search_document BEGIN \
                           INSERT INTO search_theme_fts(search_theme_fts, rowid, folded_themes) \
                           VALUES ('delete', old.id, old.folded_themes); END; \
                         CREATE TRIGGER search_theme_au AFTER UPDATE ON search_document BEGIN \
                           INSERT INTO search_theme_fts(search_theme_fts, rowid, folded_themes) \
                           VALUES ('delete', old.id, old.folded_themes); \
                           INSERT INTO search_theme_fts(rowid, folded_themes) VALUES (new.id, new.folded_themes); END;",
                    )
                    .await?;
                connection
                    .execute_unprepared(
                        "CREATE VIRTUAL TABLE search_trigram USING fts5( \
                           folded_title, folded_body, content='search_document', content_rowid='id', \
                           tokenize='trigram'); \
                         INSERT INTO search_trigram(search_trigram) VALUES ('rebuild'); \
                         CREATE TRIGGER search_trigram_ai AFTER INSERT ON search_document BEGIN \
                           INSERT INTO search_trigram(rowid, folded_title, folded_body) \
                           VALUES (new.id, new.folded_title, new.folded_body); END; \
                         CREATE TRIGGER search_trigram_ad AFTER DELETE ON search_document BEGIN \
                           INSERT INTO search_trigram(search_trigram, rowid, folded_title, folded_body) \
                           VALUES ('delete', old.id, old.folded_title, old.folded_body); END; \
                         CREATE TRIGGER search_trigram_au AFTER UPDATE ON search_document BEGIN \
                           INSERT INTO search_trigram(search_trigram, rowid, folded_title, folded_body) \
                           VALUES ('delete', old.id, old.folded_title, old.folded_body); \
                           INSERT INTO search_trigram(rowid, folded_title, folded_body) \
                           VALUES (new.id, new.folded_title, new.folded_body); END;",
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                connection
                    .execute_unprepared(
                        "DROP INDEX IF EXISTS idx_search_document_trigram; \
                         DROP INDEX IF EXISTS idx_search_document_tsv_themes; \
                         ALTER TABLE search_document DROP COLUMN IF EXISTS tsv_themes;",
                    )
                    .await?;
                for table in SEARCH_TEXT_TABLES {
                    connection
                        .execute_unprepared(&format!(
                            "DROP INDEX IF EXISTS idx_{table}_search_text_trigram"
                        ))
                        .await?;
                }
            }
            _ => {
                connection
                    .execute_unprepared(
                        "DROP TRIGGER IF EXISTS search_trigram_ai; DROP TRIGGER IF EXISTS search_trigram_ad; \
                         DROP TRIGGER IF EXISTS search_trigram_au; DROP TABLE IF EXISTS search_trigram; \
                         DROP TRIGGER IF EXISTS search_theme_ai; DROP TRIGGER IF EXISTS search_theme_ad; \
                         DROP TRIGGER IF EXISTS search_theme_au; DROP TABLE IF EXISTS search_theme_fts;",
                    )
                    .await?;
            }
        }
        for (table, column) in [
            ("theme", "search_text"),
            ("search_document", "folded_themes"),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}
