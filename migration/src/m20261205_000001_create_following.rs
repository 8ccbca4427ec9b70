//! Following partner cities' instances: the instances an instance follows, with the cursor in
//! each one's change feed and how following it goes, and the records copied from them, each
//! with the ID it has at its source. A copy is a row of the record's own table; `remote_copy`
//! says where it comes from, so lists can keep to the instance's own records by default.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::record_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(record_table(
                "followed_instance",
                vec![
                    string_len("url", 2048).unique_key().take(),
                    text_null("api_key").take(),
                    string_len_null("name", 200).take(),
                    json_binary_null("municipality_name").take(),
                    string_len_null("country", 2).take(),
                    json_binary("languages").take(),
                    string_len_null("schema_version", 64).take(),
                    string_len("graphql_url", 2048).take(),
                    string_len("feed_url", 2048).take(),
                    json_binary("types").take(),
                    boolean("paused").default(false).take(),
                    big_integer("last_event").default(0).take(),
                    big_integer_null("source_head").take(),
                    big_integer("events_applied").default(0).take(),
                    timestamp_with_time_zone_null("last_applied_at").take(),
                    text_null("last_error").take(),
                    timestamp_with_time_zone_null("failing_since").take(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("remote_copy")
                    .col(big_pk_auto("id"))
                    .col(big_integer("followed_instance_id"))
                    // The local table the copy is a row of (`learning`).
                    .col(string_len("subject_type", 64))
                    .col(big_integer("subject_id"))
                    .col(string_len("remote_id", 255))
                    .col(integer_null("remote_version"))
                    .col(timestamp_with_time_zone("fetched_at"))
                    .col(timestamp_with_time_zone_null("withdrawn_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("remote_copy", "followed_instance_id")
                            .to("followed_instance", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        for (name, columns, unique) in [
            (
                "remote_copy_remote",
                &["followed_instance_id", "subject_type", "remote_id"][..],
                true,
            ),
            (
                "remote_copy_subject",
                &["subject_type", "subject_id"][..],
                true,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table("remote_copy");
            for column in columns {
                index.col(*column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.take()).await?;
        }
        // Both are written only by the write frame: kept answers that read them follow their stamps.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO table_stamp (name, stamp) VALUES ('followed_instance', 0), ('remote_copy', 0)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "DELETE FROM table_stamp WHERE name IN ('followed_instance', 'remote_copy')",
            )
            .await?;
        manager
            .drop_table(Table::drop().table("remote_copy").take())
            .await?;
        manager
            .drop_table(Table::drop().table("followed_instance").take())
            .await
    }
}
