//! SeaORM entities of Stroom API: one module per table, nothing else.
//!
//! Conventions shared by the main tables: an `i64` primary key, `created_at` / `updated_at`
//! (UTC), a `version` that grows with every update (optimistic concurrency), `archived_at`
//! (records are archived, never deleted) and a `provenance` telling where a record comes from.
//! Multilingual text is stored per locale in a JSON object (`LocalizedText`), and `search_text`
//! holds a case- and accent-folded copy of all searchable text.

pub mod enums;
pub mod localized;

pub mod api_key;
pub mod area;
pub mod audit_entry;
pub mod change_event;
pub mod contact_person;
pub mod followed_instance;
pub mod import_key;
pub mod indicator;
pub mod initiative;
pub mod initiative_area;
pub mod initiative_need;
pub mod initiative_theme;
pub mod learning;
pub mod learning_endorsement;
pub mod learning_theme;
pub mod municipality;
pub mod need;
pub mod need_target_group;
pub mod organisation;
pub mod outcome;
pub mod partnership;
pub mod programme;
pub mod programme_theme;
pub mod remote_copy;
pub mod support_request;
pub mod theme;
pub mod translation_origin;
pub mod webhook_attempt;
pub mod webhook_endpoint;
pub mod webhook_message;

pub use localized::LocalizedText;
