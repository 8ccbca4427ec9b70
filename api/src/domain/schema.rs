//! The GraphQL schema: the domains' query roots merged into one, with its limits. No I/O here.
use async_graphql::{MergedSubscription, Schema, SchemaBuilder};

use crate::domain::changes::ChangeSubscription;
use crate::domain::webhook::WebhookSettings;
use crate::domain::{Mutation, Query};

/// Live results, over WebSocket (`graphql-transport-ws`) or server-sent events, authorized
/// like queries.
#[derive(MergedSubscription, Default)]
pub struct Subscription(ChangeSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    // Depth, size and cost are checked by the HTTP layer (`http::limits`), which leaves
    // introspection out so that GraphiQL's schema query is never refused.
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
}

pub fn build_schema() -> AppSchema {
    build_schema_with(WebhookSettings::default())
}

/// The schema of a server with these webhook settings (resolvers read them as its data).
pub fn build_schema_with(webhooks: WebhookSettings) -> AppSchema {
    // Whatever changes through the schema keeps the search index in step.
    crate::domain::search::follow_changes();
    builder().data(webhooks).finish()
}

/// The read planner over every record type and top-level list of the schema.
pub fn planner() -> crate::graphql::plan::Planner {
    crate::graphql::plan::Planner::new(crate::domain::node::type_plans(), crate::domain::root_lists())
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema().sdl()
}
