//! The per-request state resolvers reach through the GraphQL context.
use async_graphql::Context;
use async_graphql::dataloader::DataLoader;
use sea_orm::DatabaseConnection;

use crate::graphql::loader::DbLoader;
use crate::kernel::access::Viewer;
use crate::kernel::i18n::LocalePreferences;

/// Everything a resolver needs to know about the request it serves.
pub struct RequestContext {
    pub db: DatabaseConnection,
    pub viewer: Viewer,
    pub locales: LocalePreferences,
    pub loader: DataLoader<DbLoader>,
    /// The request's rate-limit budget after its cost was spent.
    pub rate_limit: Option<crate::kernel::rate_limit::Spent>,
    /// Reusable results of aggregates and search (`None` when turned off).
    pub results: Option<std::sync::Arc<crate::graphql::result_cache::ResultCache>>,
    /// The change stamps the result cache checks, read at most once per request (or handed
    /// over from the response cache's read).
    pub stamps: tokio::sync::OnceCell<std::sync::Arc<crate::kernel::stamps::Stamps>>,
    /// The locales of the texts served (for `Content-Language`).
    pub served_locales: std::sync::Arc<crate::kernel::i18n::ServedLocales>,
}

/// The request's state. The HTTP handler attaches it to every request it executes.
pub fn request<'a>(ctx: &'a Context<'_>) -> &'a RequestContext {
    // Invariant: `graphql::execute` always adds a RequestContext before executing.
    ctx.data_unchecked::<RequestContext>()
}

pub fn loader<'a>(ctx: &'a Context<'_>) -> &'a DataLoader<DbLoader> {
    &request(ctx).loader
}

pub fn viewer<'a>(ctx: &'a Context<'_>) -> &'a Viewer {
    &request(ctx).viewer
}

pub fn preferences<'a>(ctx: &'a Context<'_>) -> &'a LocalePreferences {
    &request(ctx).locales
}
