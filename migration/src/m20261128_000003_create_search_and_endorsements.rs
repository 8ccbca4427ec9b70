//! Full-text search documents (PostgreSQL text search, SQLite FTS5) and endorsements of
//! learnings by other municipalities.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::columns::{index, localized, record_table, reference};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        // One row per record and locale; the folded columns are what is matched (case and
        // accents removed), the others what is shown.
        manager
            .create_table(
                Table::create()
                    .table("search_document")
                    .col(big_pk_auto("id"))
                    .col(string_len("subject_type", 32))
                    .col(big_integer("subject_id"))
                    .col(string_len("locale", 16))
                    .col(string_len("visibility", 16))
                    .col(text("title"))
                    .col(text("body"))
                    .col(text("folded_title"))
                    .col(text("folded_body"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("search_document", &["subject_type", "subject_id"]))
            .await?;
        let connection = manager.get_connection();
        match backend {
            DbBackend::Postgres => {
                connection
                    .execute_unprepared(
                        "ALTER TABLE search_document ADD COLUMN config regconfig NOT NULL DEFAULT 'simple'; \
                         ALTER TABLE search_document ADD COLUMN tsv tsvector GENERATED ALWAYS AS ( \
                           setweight(to_tsvector(config, folded_title), 'A') || \
                           setweight(to_tsvector(config, folded_body), 'B')) STORED; \
                         CREATE INDEX idx_search_document_tsv ON search_document USING GIN (tsv);",
                    )
                    .await?;
            }
            _ => {
                // External-content FTS5 index over the folded columns, kept in step by triggers.
                connection
                    .execute_unprepared(
                        "CREATE VIRTUAL TABLE search_fts USING fts5( \
                           folded_title, folded_body, content='search_document', content_rowid='id', \
                           tokenize='unicode61 remove_diacritics 2'); \
                         CREATE TRIGGER search_document_ai AFTER INSERT ON search_document BEGIN \
                           INSERT INTO search_fts(rowid, folded_title, folded_body) \
                           VALUES (new.id, new.folded_title, new.folded_body); END; \
                         CREATE TRIGGER search_document_ad AFTER DELETE ON search_document BEGIN \
                           INSERT INTO search_fts(search_fts, rowid, folded_title, folded_body) \
                           VALUES ('delete', old.id, old.folded_title, old.folded_body); END; \
                         CREATE TRIGGER search_document_au AFTER UPDATE ON search_document BEGIN \
                           INSERT INTO search_fts(search_fts, rowid, folded_title, folded_body) \
                           VALUES ('delete', old.id, old.folded_title, old.folded_body); \
                           INSERT INTO search_fts(rowid, folded_title, folded_body) \
                           VALUES (new.id, new.folded_title, new.folded_body); END;",
                    )
                    .await?;
            }
        }

        let mut endorsement = record_table(
            "learning_endorsement",
            vec![
                big_integer("learning_id"),
                big_integer("municipality_id"),
                localized("note"),
            ],
        );
        endorsement
            .foreign_key(&mut reference(
                "learning_endorsement",
                "learning_id",
                "learning",
            ))
            .foreign_key(&mut reference(
                "learning_endorsement",
                "municipality_id",
                "municipality",
            ));
        manager.create_table(endorsement).await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_learning_endorsement_municipality")
                    .table("learning_endorsement")
                    .col("learning_id")
                    .col("municipality_id")
                    .unique()
                    .take(),
            )
            .await?;
        for statement in [
            index("learning_endorsement", &["municipality_id"]),
            index("learning_endorsement", &["created_at", "id"]),
            index("learning_endorsement", &["updated_at", "id"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Sqlite {
            connection
                .execute_unprepared(
                    "DROP TRIGGER IF EXISTS search_document_ai; DROP TRIGGER IF EXISTS search_document_ad; \
                     DROP TRIGGER IF EXISTS search_document_au; DROP TABLE IF EXISTS search_fts;",
                )
                .await?;
        }
        for table in ["learning_endorsement", "search_document"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
