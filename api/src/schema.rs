//! The GraphQL schema: the domains' query roots merged into one, with its limits. No I/O here.
use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema, SchemaBuilder};

use crate::area::AreaQuery;
use crate::indicator::IndicatorQuery;
use crate::initiative::InitiativeQuery;
use crate::learning::LearningQuery;
use crate::municipality::MunicipalityQuery;
use crate::need::NeedQuery;
use crate::node::NodeQuery;
use crate::organisation::OrganisationQuery;
use crate::outcome::OutcomeQuery;
use crate::programme::ProgrammeQuery;
use crate::theme::ThemeQuery;

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
);

pub type AppSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Deepest nesting a query may have.
pub const MAX_DEPTH: usize = 12;

fn builder() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription).limit_depth(MAX_DEPTH)
}

pub fn build_schema() -> AppSchema {
    builder().finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema().sdl()
}
