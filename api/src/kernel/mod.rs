//! The kernel: what every other layer builds on and which knows no domain type by name —
//! errors, global IDs, access (who is asking, what they may do), languages, keyset paging, the
//! `Table` description of a record, and the write frame (transaction, versions, user errors,
//! audit). It imports nothing from `graphql`, `domain` or `http`.
pub mod access;
pub mod bounded;
pub mod breaker;
pub mod db;
pub mod error;
pub mod feed;
pub mod i18n;
pub mod ids;
pub mod paging;
pub mod rate_limit;
pub mod record;
pub mod shared_store;
pub mod sort;
pub mod stamps;
pub mod time;
pub mod write;
