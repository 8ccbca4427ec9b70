//! The domain: one module per type (its GraphQL type, its `Table` description, links,
//! loaders, queries and mutations), and the modules that span types — audit, search, stats,
//! translation, open data, the `Node` registry and the schema. It imports the kernel and the
//! GraphQL glue, never `http`.
pub mod api_key;
pub mod area;
pub mod audit;
pub mod changes;
pub mod import;
pub mod indicator;
pub mod initiative;
pub mod learning;
pub mod municipality;
pub mod need;
pub mod node;
pub mod open_data;
pub mod organisation;
pub mod outcome;
pub mod partnership;
pub mod programme;
pub mod schema;
pub mod search;
pub mod stats;
pub mod theme;
pub mod translation;
pub mod webhook;
