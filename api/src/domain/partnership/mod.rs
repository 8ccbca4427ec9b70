//! Partnerships: the role an organisation holds in a programme, an initiative or a network.
pub mod mutation;
use async_graphql::Enum;
use entity::partnership;

use crate::domain::initiative::Initiative;
use crate::domain::organisation::Organisation;
use crate::domain::programme::Programme;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::Only;
use crate::kernel::record::{Owner, owner_through};

crate::record_table! {
    partnership: Partnership {
        references: [organisation_id => Organisation, programme_id => Programme, initiative_id => Initiative, network_id => Organisation],
        texts: [note = TEXT_MAX],
    }
    table {
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
#[stroom_derive::record(partnership)]
impl Partnership {
    id!("partnership");

    /// The partner organisation.
    reference!(organisation: Organisation = organisation_id);

    /// The role it holds.
    async fn role(&self) -> PartnerRole {
        self.0.role.into()
    }

    /// What the partner does in this role, in the requested locale.
    text!(note: Option<String>, "Every translation of the note.");

    /// The programme, when the role is in a programme.
    reference!(programme: Option<Programme> = programme_id);

    /// The initiative, when the role is in an initiative.
    reference!(initiative: Option<Initiative> = initiative_id);

    /// The network or project (such as CECI), when the role is membership of one.
    reference!(network: Option<Organisation> = network_id);

    history!();
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
