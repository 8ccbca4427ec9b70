//! End-to-end tests: each starts the real server on a free port over a fresh database and
//! talks GraphQL over HTTP, as a client would.
mod batching;
mod changes;
mod cli;
mod connections;
mod dashboards;
mod demo;
mod endorsements;
mod errors;
mod filters;
mod hardening;
mod helpers;
mod hostile;
mod http;
mod locale;
mod observability;
mod open_data;
mod pagination;
mod performance;
mod privacy;
mod resilience;
mod roles;
mod schema;
mod search;
mod tls;
mod translations;
mod writes;
