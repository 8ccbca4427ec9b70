//! A change stamp per table: the response cache reuses an answer only while every table it
//! read keeps the stamp it had. Every transaction of the write frame bumps the stamps of the
//! tables it wrote before it commits, so a stamp moves in the same commit as the data.
//!
//! Only the tables whose every change goes through the write frame have a stamp: API keys
//! (their last use) and webhook deliveries are written by the service's own bookkeeping, so an
//! answer that reads them is never reused. A table kept up to date by triggers (SQLite's
//! full-text indexes) `follows` the table whose changes fire them, and moves with it.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const STAMPED: &[&str] = &[
    "area",
    "audit_entry",
    "change_event",
    "change_sequence",
    "contact_person",
    "indicator",
    "initiative",
    "initiative_area",
    "initiative_need",
    "initiative_theme",
    "learning",
    "learning_endorsement",
    "learning_theme",
    "municipality",
    "need",
    "need_target_group",
    "organisation",
    "outcome",
    "partnership",
    "programme",
    "programme_theme",
    "search_document",
    "support_request",
    "theme",
    "translation_origin",
];

/// Tables written by triggers, and the table whose changes fire them.
const FOLLOWERS: &[(&str, &str)] = &[
    ("search_fts", "search_document"),
    ("search_theme_fts", "search_document"),
    ("search_trigram", "search_document"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("table_stamp")
                    .col(string_len("name", 63).primary_key())
                    .col(big_integer("stamp").default(0))
                    .col(string_len_null("follows", 63))
                    .take(),
            )
            .await?;
        let mut insert = Query::insert();
        insert
            .into_table("table_stamp")
            .columns(["name", "stamp", "follows"]);
        for name in STAMPED {
            insert.values_panic([(*name).into(), 0.into(), Option::<String>::None.into()]);
        }
        for (name, follows) in FOLLOWERS {
            insert.values_panic([(*name).into(), 0.into(), Some(*follows).into()]);
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("table_stamp").take())
            .await
    }
}
