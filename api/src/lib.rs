//! Stroom API: the GraphQL service over a city's circular-economy citizen programme.
//!
//! Shared pieces (`pagination`, `error`, `auth`, `i18n`, `filter`, `loader`) each live in one
//! module; each domain type has its own module with its GraphQL types, inputs and queries.
pub mod auth;
pub mod breaker;
pub mod common;
pub mod config;
pub mod context;
pub mod db;
pub mod error;
pub mod filter;
pub mod http;
pub mod i18n;
pub mod ids;
pub mod input;
pub mod loader;
pub mod node;
pub mod open_data;
pub mod pagination;
pub mod record;
pub mod result_cache;
pub mod scalars;
pub mod schema;
pub mod search;
pub mod settle;
pub mod shared_store;
pub mod startup;
pub mod stats;
pub mod telemetry;
pub mod time;
pub mod translation;
pub mod write;

pub mod api_key;
pub mod area;
pub mod audit;
pub mod indicator;
pub mod initiative;
pub mod learning;
pub mod municipality;
pub mod need;
pub mod organisation;
pub mod outcome;
pub mod partnership;
pub mod programme;
pub mod theme;

pub use startup::Application;
