//! Support requests: what an initiative asked the city for, and the decision.
use async_graphql::Enum;
use entity::support_request;

use crate::domain::initiative::Initiative;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::graphql::scalars::{Date, Decimal};
use crate::kernel::record::{Owner, col, owner_through};

crate::record_table! {
    support_request: SupportRequest {
        references: [initiative_id => Initiative],
        texts: [description = TEXT_MAX, decision_note as "decisionNote" = TEXT_MAX],
    }
    table {
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
#[stroom_derive::record(support_request)]
impl SupportRequest {
    id!("support request");

    /// The initiative that asked.
    reference!(initiative: Initiative = initiative_id);

    /// What kind of support.
    async fn kind(&self) -> SupportKind {
        self.0.kind.into()
    }

    /// What was asked for, in the requested locale.
    text!(description: Option<String>, "Every translation of the description.");

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
    text!(decision_note: Option<String>, "Every translation of the decision note.");

    /// The amount asked for, in euro (financial support).
    async fn amount_requested(&self) -> Option<Decimal> {
        self.0.amount_requested_eur.map(|v| Decimal(v.into()))
    }

    /// The amount granted, in euro.
    async fn amount_granted(&self) -> Option<Decimal> {
        self.0.amount_granted_eur.map(|v| Decimal(v.into()))
    }

    history!();
}
