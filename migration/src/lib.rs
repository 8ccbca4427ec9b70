//! Database migrations of Stroom API: one set that runs on SQLite and on PostgreSQL.
pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261128_000001_create_core_tables;
mod m20261128_000002_create_api_keys_and_audit;
mod m20261128_000003_create_search_and_endorsements;
mod m20261128_000004_add_outcome_series_index;
mod m20261129_000001_create_area_lineage;
mod m20261129_000002_add_partial_word_search;
mod m20261129_000003_create_translation_origin;
mod m20261130_000001_create_change_feed;
mod m20261130_000002_create_webhooks;
mod m20261130_000003_create_table_stamps;
mod m20261203_000001_add_webhook_endpoint_key;
mod m20261203_000002_add_webhook_message_uid;
mod m20261203_000003_create_idempotency_record;
mod m20261203_000004_create_theme_and_organisation_lineage;
mod m20261203_000005_add_change_event_withdrawn_from;
mod m20261203_000006_search_words;
mod m20261204_000001_create_import_key;
mod m20261205_000001_create_following;
mod m20261205_000002_add_followed_instance_key;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_core_tables::Migration),
            Box::new(m20261128_000002_create_api_keys_and_audit::Migration),
            Box::new(m20261128_000003_create_search_and_endorsements::Migration),
            Box::new(m20261128_000004_add_outcome_series_index::Migration),
            Box::new(m20261129_000001_create_area_lineage::Migration),
            Box::new(m20261129_000002_add_partial_word_search::Migration),
            Box::new(m20261129_000003_create_translation_origin::Migration),
            Box::new(m20261130_000001_create_change_feed::Migration),
            Box::new(m20261130_000002_create_webhooks::Migration),
            Box::new(m20261130_000003_create_table_stamps::Migration),
            Box::new(m20261203_000001_add_webhook_endpoint_key::Migration),
            Box::new(m20261203_000002_add_webhook_message_uid::Migration),
            Box::new(m20261203_000003_create_idempotency_record::Migration),
            Box::new(m20261203_000004_create_theme_and_organisation_lineage::Migration),
            Box::new(m20261203_000005_add_change_event_withdrawn_from::Migration),
            Box::new(m20261203_000006_search_words::Migration),
            Box::new(m20261204_000001_create_import_key::Migration),
            Box::new(m20261205_000001_create_following::Migration),
            Box::new(m20261205_000002_add_followed_instance_key::Migration),
        ]
    }
}
