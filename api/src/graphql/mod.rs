//! GraphQL glue, generic over the domain: the request context, batched loaders, Relay
//! connections, filters, inputs, scalars and the reuse of computed results. It imports only
//! the kernel.
pub mod common;
pub mod context;
pub mod filter;
pub mod input;
pub mod loader;
pub mod mutation;
pub mod origin;
pub mod pagination;
pub mod plan;
pub mod result_cache;
pub mod scalars;
pub mod settle;
pub mod text;
