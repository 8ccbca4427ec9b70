//! Partnerships: the role an organisation holds in a programme, an initiative or a network.
pub mod mutation;
use async_graphql::{Context, Enum, ID, Object};
use entity::partnership;

use crate::domain::initiative::Initiative;
use crate::domain::organisation::Organisation;
use crate::domain::programme::Programme;
use crate::graphql::common::RecordMeta;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::{Only, reference, required_reference};
use crate::graphql::pagination::{SortKey, SortKind, Wraps};
use crate::graphql::text::{Translation, optional_text, served_locale, translations};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::TextField;
use crate::kernel::record::{Owner, Table, owner_through};
use crate::record_meta;

impl Table for partnership::Entity {
    const NAME: &'static str = "partnership";
    const REFERENCES: &'static [(&'static str, NodeKind)] = &[
        ("organisation_id", NodeKind::Organisation),
        ("programme_id", NodeKind::Programme),
        ("initiative_id", NodeKind::Initiative),
        ("network_id", NodeKind::Organisation),
    ];
    const TEXT_FIELDS: &'static [TextField] = &[TextField::new("note", "note", TEXT_MAX)];
    fn id(model: &partnership::Model) -> i64 {
        model.id
    }
    fn default_sort() -> SortKey {
        SortKey::new("ID", Self::id_expr(), SortKind::Int, Self::id_expr())
    }
    fn owner(model: &partnership::Model) -> Owner {
        match (model.programme_id, model.initiative_id, model.network_id) {
            (Some(id), _, _) => Owner::Through(owner_through::<entity::programme::Entity>, id),
            (_, Some(id), _) => Owner::Through(owner_through::<entity::initiative::Entity>, id),
            (_, _, Some(id)) => Owner::Through(owner_through::<entity::organisation::Entity>, id),
            _ => Owner::Shared,
        }
    }
    fn conflict(_columns: &[String]) -> crate::kernel::write::UserError {
        crate::kernel::write::UserError::new(
            "role",
            "The organisation already holds this role here.",
            crate::kernel::write::UserErrorCode::Conflict,
        )
    }
}

/// The role of an organisation in a programme, initiative or network.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::PartnerRole")]
pub enum PartnerRole {
    /// Lead partner of a project consortium.
    LeadPartner,
    /// Partner of a project consortium.
    ProjectPartner,
    /// Provides the funding.
    Funder,
    /// Coordinates the programme (the coordinating department).
    Coordinator,
    /// Supports the steering group (an involved department).
    SteeringGroup,
    /// Designs with the programme or initiative (co-creation, tools, materials).
    CoDesigner,
    /// Carries out the work.
    Implementer,
    /// Spreads the lessons learnt to other cities and regions.
    Dissemination,
    /// Hosts the initiative or its activities (a location).
    Host,
    /// Brings knowledge or research.
    KnowledgePartner,
    /// Supports in another way.
    Supporter,
}

/// An organisation's role in a programme, an initiative or a network such as the CECI project.
pub struct Partnership(pub partnership::Model);

impl Wraps for Partnership {
    type Entity = partnership::Entity;
    fn wrap(model: partnership::Model) -> Self {
        Self(model)
    }
}

/// An organisation's role in a programme, an initiative or a network such as the CECI project.
#[Object]
impl Partnership {
    /// The global ID of the partnership.
    pub async fn id(&self) -> ID {
        NodeKind::Partnership.id(self.0.id)
    }

    /// The partner organisation.
    async fn organisation(&self, ctx: &Context<'_>) -> async_graphql::Result<Organisation> {
        required_reference(ctx, self.0.organisation_id).await
    }

    /// The role it holds.
    async fn role(&self) -> PartnerRole {
        self.0.role.into()
    }

    /// What the partner does in this role, in the requested locale.
    async fn note(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Locale of the text, such as `nl` or `en`; by default the request's `Accept-Language`."
        )]
        locale: Option<String>,
    ) -> async_graphql::Result<Option<String>> {
        optional_text(ctx, &self.0.note, locale)
    }

    /// The locale `note` is served in, for the same `locale` argument: the first of the
    /// request's languages that it has, else a fallback's; null when it has no text at all.
    async fn note_locale(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `locale` argument given to `note`, if any.")] locale: Option<String>,
    ) -> async_graphql::Result<Option<String>> {
        served_locale(ctx, &self.0.note, locale)
    }

    /// Every translation of the note.
    async fn note_translations(&self) -> Vec<Translation> {
        translations(&self.0.note, NodeKind::Partnership, self.0.id, "note")
    }

    /// The programme, when the role is in a programme.
    async fn programme(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Programme>> {
        reference(ctx, self.0.programme_id).await
    }

    /// The initiative, when the role is in an initiative.
    async fn initiative(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Initiative>> {
        reference(ctx, self.0.initiative_id).await
    }

    /// The network or project (such as CECI), when the role is membership of one.
    async fn network(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Organisation>> {
        reference(ctx, self.0.network_id).await
    }

    #[graphql(flatten)]
    async fn history_field(&self) -> crate::domain::audit::RecordHistory {
        crate::domain::audit::RecordHistory::of(NodeKind::Partnership, self.0.id)
    }

    #[graphql(flatten)]
    async fn meta(&self) -> RecordMeta {
        record_meta!(self.0)
    }
}

impl PartnerRole {
    /// The restriction `roles: […]` puts on a nested list of partnerships.
    pub fn only(roles: Option<Vec<PartnerRole>>) -> Option<Only> {
        roles.map(|roles| {
            Only::TextIn(
                "role",
                roles
                    .into_iter()
                    .map(|r| entity::enums::PartnerRole::from(r).as_str())
                    .collect(),
            )
        })
    }
}
