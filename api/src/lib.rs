//! Stroom API: the GraphQL service over a city's circular-economy citizen programme.
//!
//! Four layers, each importing only those below it (`ARCHITECTURE.md` draws them; `.ci/run`
//! checks the rule): `kernel` (errors, IDs, access, languages, keyset paging, the `Table`
//! description of a record, the write frame), `graphql` (request context, loaders, connections,
//! filters, inputs), `domain` (one module per type, plus audit, search, stats, translation,
//! open data and the schema) and `http` (the router, the GraphQL handler, operations). The
//! crate's root holds only configuration, start-up and the `stroom keys` commands.
pub mod config;
pub mod domain;
pub mod follows;
pub mod graphql;
pub mod http;
pub mod imports;
pub mod kernel;
pub mod keys;
pub mod startup;
pub mod telemetry;
pub mod webhooks;

pub use startup::Application;

// The public surface for the binary, the seed crate and the tests, by short names.
pub use domain::*;
pub use graphql::{pagination, scalars};
pub use kernel::access as auth;
pub use kernel::{db, error, i18n, ids, stamps, time};
