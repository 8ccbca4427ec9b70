//! Webhooks: endpoints that admins register, the messages owed to each (one per change event
//! it subscribes to, made from the change feed, which is written in the change's own
//! transaction) and every delivery attempt.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::{index, record_table, reference};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(record_table(
                "webhook_endpoint",
                vec![
                    string_len("url", 2048),
                    text("description").default("").take(),
                    // The event types it receives (`initiative.created`, `need.*`); empty: all.
                    json_binary("event_types"),
                    boolean("enabled").default(true).take(),
                    string_len("secret", 128),
                    string_len_null("previous_secret", 128),
                    timestamp_with_time_zone_null("previous_secret_expires_at"),
                    // The last change event turned into a message for it.
                    big_integer("cursor").default(0).take(),
                    timestamp_with_time_zone_null("failing_since"),
                    timestamp_with_time_zone_null("disabled_at"),
                    text_null("disabled_reason"),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_message")
                    .col(big_pk_auto("id"))
                    .col(big_integer("endpoint_id"))
                    // The change event it carries; none for a test message.
                    .col(big_integer_null("sequence"))
                    .col(string_len("event_type", 64))
                    .col(json_binary("payload"))
                    .col(string_len("status", 16))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    // While a delivery is under way: no other instance takes the message.
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(timestamp_with_time_zone_null("delivered_at"))
                    .col(integer_null("last_status"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut reference(
                        "webhook_message",
                        "endpoint_id",
                        "webhook_endpoint",
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_webhook_message_event")
                    .table("webhook_message")
                    .col("endpoint_id")
                    .col("sequence")
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(index("webhook_message", &["status", "next_attempt_at"]))
            .await?;
        manager
            .create_index(index("webhook_message", &["endpoint_id", "id"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_attempt")
                    .col(big_pk_auto("id"))
                    .col(big_integer("message_id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(integer_null("status"))
                    .col(text_null("error"))
                    .col(integer("duration_ms"))
                    .foreign_key(&mut reference(
                        "webhook_attempt",
                        "message_id",
                        "webhook_message",
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("webhook_attempt", &["message_id", "at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_attempt", "webhook_message", "webhook_endpoint"] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
