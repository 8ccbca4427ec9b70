//! The domain: one module per type (its GraphQL type, its `Table` description, links,
//! loaders, queries and mutations), and the modules that span types — audit, search, stats,
//! translation, open data, the `Node` registry and the schema. It imports the kernel and the
//! GraphQL glue, never `http`.
stroom_derive::registry! {
    /// Stroom API: a city's circular-economy citizen programme as data — initiatives, residents'
    /// needs, partners, outcomes and learnings.
    Query;
    /// Changes, for API keys with the editor role (their municipality's data) or the admin role.
    /// Each takes one `input` and returns a payload with the changed record and `userErrors`.
    Mutation;

    node; query NodeQuery;
    municipality: Municipality; query MunicipalityQuery; mutation mutation::MunicipalityMutation;
    area: Area; query AreaQuery; mutation mutation::AreaMutation;
    theme: Theme; query ThemeQuery; mutation mutation::ThemeMutation;
    organisation: Organisation, ContactPerson; query OrganisationQuery; mutation mutation::OrganisationMutation;
    programme: Programme; query ProgrammeQuery; mutation mutation::ProgrammeMutation;
    partnership: Partnership; mutation mutation::PartnershipMutation;
    need: Need; query NeedQuery; mutation mutation::NeedMutation;
    initiative: Initiative, SupportRequest; query InitiativeQuery; mutation mutation::InitiativeMutation;
    indicator: Indicator; query IndicatorQuery; mutation mutation::IndicatorMutation;
    outcome: Outcome; query OutcomeQuery; mutation mutation::OutcomeMutation;
    learning: Learning, LearningEndorsement; query LearningQuery;
        mutation mutation::LearningMutation, endorsement::EndorsementMutation, translation::LearningTranslationMutation;
    translation; mutation TranslationMutation;
    api_key: ApiKey; query ApiKeyQuery; mutation ApiKeyMutation;
    audit; query AuditQuery;
    changes; query ChangeQuery;
    search; query SearchQuery;
    stats; query StatsQuery, SeriesQuery;
    webhook: WebhookEndpoint, WebhookMessage; query WebhookQuery; mutation mutation::WebhookMutation;
    import; mutation mutation::ImportMutation;
    open_data;
    network: FollowedInstance; query FollowQuery; mutation FollowMutation;
    schema;
}
