//! Support requests: what an initiative asked the city for, and the decision.
use async_graphql::{Context, Enum, ID, Object};
use entity::support_request;

use crate::domain::initiative::Initiative;
use crate::graphql::common::RecordMeta;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::required_reference;
use crate::graphql::pagination::{SortKey, SortKind, Wraps};
use crate::graphql::scalars::{Date, Decimal};
use crate::graphql::text::{Translation, optional_text, served_locale, translations};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::TextField;
use crate::kernel::record::{Owner, Table, col, owner_through};
use crate::record_meta;

impl Table for support_request::Entity {
    const NAME: &'static str = "support_request";
    const REFERENCES: &'static [(&'static str, NodeKind)] =
        &[("initiative_id", NodeKind::Initiative)];
    const TEXT_FIELDS: &'static [TextField] = &[
        TextField::new("description", "description", TEXT_MAX),
        TextField::new("decisionNote", "decision_note", TEXT_MAX),
    ];
    fn id(model: &support_request::Model) -> i64 {
        model.id
    }
    fn default_sort() -> SortKey {
        SortKey::new(
            "REQUESTED_ON",
            col(support_request::Column::RequestedOn),
            SortKind::Date,
            Self::id_expr(),
        )
        .descending(true)
    }
    fn owner(model: &support_request::Model) -> Owner {
        Owner::Through(
            owner_through::<entity::initiative::Entity>,
            model.initiative_id,
        )
    }
}

/// What kind of support was asked for.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SupportKind")]
pub enum SupportKind {
    /// A location or premises.
    Location,
    /// Money.
    Financial,
    /// Communication and promotion.
    Communication,
    /// Expertise or coaching (such as on the business model).
    Expertise,
    /// Materials or equipment.
    Materials,
    /// Contacts and a network.
    Network,
    /// Something else.
    Other,
}

/// Where a support request stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SupportStatus")]
pub enum SupportStatus {
    /// Asked for, not yet looked at.
    Requested,
    /// Being looked at.
    InReview,
    /// Granted.
    Granted,
    /// Granted in part.
    PartiallyGranted,
    /// Declined.
    Declined,
    /// Withdrawn by the initiative.
    Withdrawn,
}

/// Support an initiative asked the city for (a location, money, expertise…) and the decision.
pub struct SupportRequest(pub support_request::Model);

impl Wraps for SupportRequest {
    type Entity = support_request::Entity;
    fn wrap(model: support_request::Model) -> Self {
        Self(model)
    }
}

/// Support an initiative asked the city for (a location, money, expertise…) and the decision.
#[Object]
impl SupportRequest {
    /// The global ID of the support request.
    pub async fn id(&self) -> ID {
        NodeKind::SupportRequest.id(self.0.id)
    }

    /// The initiative that asked.
    async fn initiative(&self, ctx: &Context<'_>) -> async_graphql::Result<Initiative> {
        required_reference(ctx, self.0.initiative_id).await
    }

    /// What kind of support.
    async fn kind(&self) -> SupportKind {
        self.0.kind.into()
    }

    /// What was asked for, in the requested locale.
    async fn description(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Locale of the text, such as `nl` or `en`; by default the request's `Accept-Language`."
        )]
        locale: Option<String>,
    ) -> async_graphql::Result<Option<String>> {
        optional_text(ctx, &self.0.description, locale)
    }

    /// The locale `description` is served in, for the same `locale` argument: the first of the
    /// request's languages that it has, else a fallback's; null when it has no text at all.
    async fn description_locale(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `locale` argument given to `description`, if any.")] locale: Option<
            String,
        >,
    ) -> async_graphql::Result<Option<String>> {
        served_locale(ctx, &self.0.description, locale)
    }

    /// Every translation of the description.
    async fn description_translations(&self) -> Vec<Translation> {
        translations(
            &self.0.description,
            NodeKind::SupportRequest,
            self.0.id,
            "description",
        )
    }

    /// Where the request stands.
    async fn status(&self) -> SupportStatus {
        self.0.status.into()
    }

    /// The day it was asked for.
    async fn requested_on(&self) -> Date {
        Date(self.0.requested_on)
    }

    /// The day it was decided on.
    async fn decided_on(&self) -> Option<Date> {
        self.0.decided_on.map(Date)
    }

    /// The decision and its reasons, in the requested locale.
    async fn decision_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Locale of the text, such as `nl` or `en`; by default the request's `Accept-Language`."
        )]
        locale: Option<String>,
    ) -> async_graphql::Result<Option<String>> {
        optional_text(ctx, &self.0.decision_note, locale)
    }

    /// The locale `decisionNote` is served in, for the same `locale` argument: the first of the
    /// request's languages that it has, else a fallback's; null when it has no text at all.
    async fn decision_note_locale(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `locale` argument given to `decisionNote`, if any.")] locale: Option<
            String,
        >,
    ) -> async_graphql::Result<Option<String>> {
        served_locale(ctx, &self.0.decision_note, locale)
    }

    /// Every translation of the decision note.
    async fn decision_note_translations(&self) -> Vec<Translation> {
        translations(
            &self.0.decision_note,
            NodeKind::SupportRequest,
            self.0.id,
            "decision_note",
        )
    }

    /// The amount asked for, in euro (financial support).
    async fn amount_requested(&self) -> Option<Decimal> {
        self.0.amount_requested_eur.map(|v| Decimal(v.into()))
    }

    /// The amount granted, in euro.
    async fn amount_granted(&self) -> Option<Decimal> {
        self.0.amount_granted_eur.map(|v| Decimal(v.into()))
    }

    #[graphql(flatten)]
    async fn history_field(&self) -> crate::domain::audit::RecordHistory {
        crate::domain::audit::RecordHistory::of(NodeKind::SupportRequest, self.0.id)
    }

    #[graphql(flatten)]
    async fn meta(&self) -> RecordMeta {
        record_meta!(self.0)
    }
}
