//! Adding and removing partners: of programmes, initiatives and networks.
use async_graphql::{ID, InputObject};
use entity::partnership;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{PartnerRole, Partnership};
use crate::graphql::input::{ArchiveInput, TEXT_MAX, TranslationInput, id, text};
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{UserError, UserErrorCode, Write, WriteResult};
use crate::payload;

payload!(
    /// The result of a change to a partnership.
    PartnershipPayload { partnership: Partnership }
);

/// What an organisation becomes a partner of.
#[derive(Debug, Clone, Copy)]
pub enum PartnerOf {
    Programme(i64),
    Initiative(i64),
    Network(i64),
}

/// Adds an organisation in a role; a partnership archived earlier comes back.
pub async fn add_partner(
    write: &Write,
    of: PartnerOf,
    organisation: &ID,
    role: PartnerRole,
    note: Option<&[TranslationInput]>,
) -> WriteResult<partnership::Model> {
    let municipality = match of {
        PartnerOf::Programme(id) => {
            let programme = write
                .live::<entity::programme::Entity>("programme", id)
                .await?;
            write
                .authorize::<entity::programme::Entity>(&programme)
                .await?
        }
        PartnerOf::Initiative(id) => {
            let initiative = write
                .live::<entity::initiative::Entity>("initiative", id)
                .await?;
            write
                .authorize::<entity::initiative::Entity>(&initiative)
                .await?
        }
        PartnerOf::Network(id) => {
            let network = write
                .live::<entity::organisation::Entity>("network", id)
                .await?;
            write
                .authorize::<entity::organisation::Entity>(&network)
                .await?
        }
    };
    let organisation_id = id("organisation", organisation, NodeKind::Organisation)?;
    write
        .live::<entity::organisation::Entity>("organisation", organisation_id)
        .await?;
    if let PartnerOf::Network(network) = of
        && network == organisation_id
    {
        return Err(UserError::invalid(
            "organisation",
            "An organisation cannot be a member of itself.",
        )
        .into());
    }
    let note = text("note", note.unwrap_or_default(), false, TEXT_MAX)?;
    let role: entity::enums::PartnerRole = role.into();
    let (programme_id, initiative_id, network_id) = match of {
        PartnerOf::Programme(id) => (Some(id), None, None),
        PartnerOf::Initiative(id) => (None, Some(id), None),
        PartnerOf::Network(id) => (None, None, Some(id)),
    };
    let mut existing = partnership::Entity::find()
        .filter(partnership::Column::OrganisationId.eq(organisation_id))
        .filter(partnership::Column::Role.eq(role));
    existing = match of {
        PartnerOf::Programme(id) => existing.filter(partnership::Column::ProgrammeId.eq(id)),
        PartnerOf::Initiative(id) => existing.filter(partnership::Column::InitiativeId.eq(id)),
        PartnerOf::Network(id) => existing.filter(partnership::Column::NetworkId.eq(id)),
    };
    if let Some(found) = existing.one(&write.txn).await? {
        if found.archived_at.is_none() {
            return Err(UserError::new(
                "role",
                "The organisation already holds this role here.",
                UserErrorCode::Conflict,
            )
            .into());
        }
        // Removed before: bring the same partnership back rather than losing its history.
        let mut after = found.clone();
        after.archived_at = None;
        after.note = note;
        let stored = write
            .replace_audited::<partnership::Entity>(found.version, municipality, &found, after)
            .await?;
        return Ok(stored);
    }
    let model = crate::new_record!(partnership::Model {
        organisation_id,
        programme_id,
        initiative_id,
        network_id,
        role,
        note,
    });
    write
        .insert_audited::<partnership::Entity>(municipality, model)
        .await
}

/// Removes a partner: the partnership is archived, so its history stays.
pub async fn remove_partner(
    write: &Write,
    input: &ArchiveInput,
    of: NodeKind,
) -> WriteResult<partnership::Model> {
    let id = id("id", &input.id, NodeKind::Partnership)?;
    let found = write.existing::<partnership::Entity>(id).await?;
    let matches = match of {
        NodeKind::Programme => found.programme_id.is_some(),
        NodeKind::Initiative => found.initiative_id.is_some(),
        _ => found.network_id.is_some(),
    };
    if !matches {
        let what = match of {
            NodeKind::Programme => "a programme",
            NodeKind::Initiative => "an initiative",
            _ => "a network",
        };
        return Err(
            UserError::invalid("id", format!("This partnership is not one of {what}.")).into(),
        );
    }
    write
        .set_archived::<partnership::Entity>(id, input.version, true)
        .await
}

/// An organisation in a role in a programme.
#[derive(InputObject)]
pub struct AddProgrammePartnerInput {
    /// The programme.
    pub programme: ID,
    /// The partner organisation.
    pub organisation: ID,
    /// Its role.
    pub role: PartnerRole,
    /// What it does in this role, in one or more languages.
    pub note: Option<Vec<TranslationInput>>,
}

/// An organisation in a role in an initiative.
#[derive(InputObject)]
pub struct AddInitiativePartnerInput {
    /// The initiative.
    pub initiative: ID,
    /// The partner organisation.
    pub organisation: ID,
    /// Its role.
    pub role: PartnerRole,
    /// What it does in this role, in one or more languages.
    pub note: Option<Vec<TranslationInput>>,
}

/// An organisation joining a network or project (such as CECI) in a role.
#[derive(InputObject)]
pub struct AddNetworkMemberInput {
    /// The network or project.
    pub network: ID,
    /// The member organisation.
    pub organisation: ID,
    /// Its role (such as LEAD_PARTNER or PROJECT_PARTNER).
    pub role: PartnerRole,
    /// What it does in this role, in one or more languages.
    pub note: Option<Vec<TranslationInput>>,
}

#[stroom_derive::mutations]
impl PartnershipMutation {
    /// Adds a partner to a programme in a role (funder, coordinator, steering group…).
    change!(add_programme_partner(input: AddProgrammePartnerInput = "The programme, partner and role.") -> PartnershipPayload = add_partner(
        write,
        PartnerOf::Programme(id("programme", &input.programme, NodeKind::Programme)?),
        &input.organisation,
        input.role,
        input.note.as_deref(),
    ));

    /// Removes a partner from a programme (the partnership is archived, not deleted).
    change!(remove_programme_partner(input: ArchiveInput = "The partnership and the version you last read.") -> PartnershipPayload = remove_partner(write, &input, NodeKind::Programme));

    /// Adds a partner to an initiative in a role.
    change!(add_initiative_partner(input: AddInitiativePartnerInput = "The initiative, partner and role.") -> PartnershipPayload = add_partner(
        write,
        PartnerOf::Initiative(id("initiative", &input.initiative, NodeKind::Initiative)?),
        &input.organisation,
        input.role,
        input.note.as_deref(),
    ));

    /// Removes a partner from an initiative (the partnership is archived, not deleted).
    change!(remove_initiative_partner(input: ArchiveInput = "The partnership and the version you last read.") -> PartnershipPayload = remove_partner(write, &input, NodeKind::Initiative));

    /// Adds a member to a network or project organisation.
    change!(add_network_member(input: AddNetworkMemberInput = "The network, member and role.") -> PartnershipPayload = add_partner(
        write,
        PartnerOf::Network(id("network", &input.network, NodeKind::Organisation)?),
        &input.organisation,
        input.role,
        input.note.as_deref(),
    ));

    /// Removes a member from a network (the membership is archived, not deleted).
    change!(remove_network_member(input: ArchiveInput = "The membership and the version you last read.") -> PartnershipPayload = remove_partner(write, &input, NodeKind::Organisation));
}
