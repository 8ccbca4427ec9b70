//! The GraphQL schema: the domains' query roots merged into one, with its limits. No I/O here.
use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use crate::api_key::{ApiKeyMutation, ApiKeyQuery};
use crate::area::AreaQuery;
use crate::area::mutation::AreaMutation;
use crate::audit::AuditQuery;
use crate::indicator::IndicatorQuery;
use crate::indicator::mutation::IndicatorMutation;
use crate::initiative::InitiativeQuery;
use crate::initiative::mutation::InitiativeMutation;
use crate::learning::LearningQuery;
use crate::learning::endorsement::EndorsementMutation;
use crate::learning::mutation::LearningMutation;
use crate::learning::translation::LearningTranslationMutation;
use crate::municipality::MunicipalityQuery;
use crate::municipality::mutation::MunicipalityMutation;
use crate::need::NeedQuery;
use crate::need::mutation::NeedMutation;
use crate::node::NodeQuery;
use crate::organisation::OrganisationQuery;
use crate::organisation::mutation::OrganisationMutation;
use crate::outcome::OutcomeQuery;
use crate::outcome::mutation::OutcomeMutation;
use crate::partnership::mutation::PartnershipMutation;
use crate::programme::ProgrammeQuery;
use crate::programme::mutation::ProgrammeMutation;
use crate::search::SearchQuery;
use crate::stats::{SeriesQuery, StatsQuery};
use crate::theme::ThemeQuery;
use crate::theme::mutation::ThemeMutation;
use crate::translation::TranslationMutation;

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
    SearchQuery,
    StatsQuery,
    SeriesQuery,
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
);

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    // Depth, size and cost are checked by the HTTP layer (`http::limits`), which leaves
    // introspection out so that GraphiQL's schema query is never refused.
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
}

pub fn build_schema() -> AppSchema {
    builder().finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema().sdl()
}
