//! API keys (stored as hashes) and the audit trail of every change made through the API.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::{index, reference};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("api_key")
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("name", 100))
                    .col(string_len("role", 32))
                    .col(big_integer_null("municipality_id"))
                    .col(string_len_uniq("token_hash", 64))
                    .col(string_len("token_prefix", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut reference("api_key", "municipality_id", "municipality"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_entry")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(big_integer_null("api_key_id"))
                    .col(string_len("actor", 100))
                    .col(string_len("mutation", 64))
                    .col(string_len("subject_type", 32))
                    .col(big_integer("subject_id"))
                    .col(big_integer_null("municipality_id"))
                    .col(json_binary("changes"))
                    .foreign_key(&mut reference("audit_entry", "api_key_id", "api_key"))
                    .take(),
            )
            .await?;
        for statement in [
            index("api_key", &["created_at", "id"]),
            index("audit_entry", &["subject_type", "subject_id", "at"]),
            index("audit_entry", &["api_key_id", "at"]),
            index("audit_entry", &["at", "id"]),
            index("audit_entry", &["municipality_id", "at"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_entry", "api_key"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
