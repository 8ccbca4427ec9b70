//! The GraphQL schema: the domains' query roots merged into one, with its limits. No I/O here.
use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::domain::api_key::{ApiKeyMutation, ApiKeyQuery};
use crate::domain::area::AreaQuery;
use crate::domain::area::mutation::AreaMutation;
use crate::domain::audit::AuditQuery;
use crate::domain::changes::{ChangeQuery, ChangeSubscription};
use crate::domain::import::mutation::ImportMutation;
use crate::domain::indicator::IndicatorQuery;
use crate::domain::indicator::mutation::IndicatorMutation;
use crate::domain::initiative::InitiativeQuery;
use crate::domain::initiative::mutation::InitiativeMutation;
use crate::domain::learning::LearningQuery;
use crate::domain::learning::endorsement::EndorsementMutation;
use crate::domain::learning::mutation::LearningMutation;
use crate::domain::learning::translation::LearningTranslationMutation;
use crate::domain::municipality::MunicipalityQuery;
use crate::domain::municipality::mutation::MunicipalityMutation;
use crate::domain::need::NeedQuery;
use crate::domain::need::mutation::NeedMutation;
use crate::domain::node::NodeQuery;
use crate::domain::organisation::OrganisationQuery;
use crate::domain::organisation::mutation::OrganisationMutation;
use crate::domain::outcome::OutcomeQuery;
use crate::domain::outcome::mutation::OutcomeMutation;
use crate::domain::partnership::mutation::PartnershipMutation;
use crate::domain::programme::ProgrammeQuery;
use crate::domain::programme::mutation::ProgrammeMutation;
use crate::domain::search::SearchQuery;
use crate::domain::stats::{SeriesQuery, StatsQuery};
use crate::domain::theme::ThemeQuery;
use crate::domain::theme::mutation::ThemeMutation;
use crate::domain::translation::TranslationMutation;
use crate::domain::webhook::mutation::WebhookMutation;
use crate::domain::webhook::{WebhookQuery, WebhookSettings};

/// Stroom API: a city's circular-economy citizen programme as data — initiatives, residents'
/// needs, partners, outcomes and learnings.
#[derive(MergedObject, Default)]
pub struct Query(
    NodeQuery,
    MunicipalityQuery,
    AreaQuery,
    ThemeQuery,
    OrganisationQuery,
    ProgrammeQuery,
    NeedQuery,
    InitiativeQuery,
    IndicatorQuery,
    OutcomeQuery,
    LearningQuery,
    ApiKeyQuery,
    AuditQuery,
    ChangeQuery,
    SearchQuery,
    StatsQuery,
    SeriesQuery,
    WebhookQuery,
);

/// Changes, for API keys with the editor role (their municipality's data) or the admin role.
/// Each takes one `input` and returns a payload with the changed record and `userErrors`.
#[derive(MergedObject, Default)]
pub struct Mutation(
    MunicipalityMutation,
    AreaMutation,
    ThemeMutation,
    OrganisationMutation,
    ProgrammeMutation,
    PartnershipMutation,
    NeedMutation,
    InitiativeMutation,
    IndicatorMutation,
    OutcomeMutation,
    LearningMutation,
    EndorsementMutation,
    LearningTranslationMutation,
    TranslationMutation,
    ApiKeyMutation,
    WebhookMutation,
    ImportMutation,
);

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

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema().sdl()
}
