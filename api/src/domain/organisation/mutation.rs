//! Changing organisations and their contact people.
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::{contact_person, organisation};

use super::{ContactPerson, Organisation, OrganisationKind};
use crate::graphql::input::{
    NAME_MAX, TEXT_MAX, TranslationInput, country, email, id, phone, plain, text, url,
};
use crate::graphql::mutation::{edited, set_reference};
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{Problems, UserError, Write, WriteResult};
use crate::payload;

payload!(
    /// The result of a change to an organisation.
    OrganisationPayload { organisation: Organisation }
);

payload!(
    /// The result of a change to a contact person.
    ContactPersonPayload { contact_person: ContactPerson }
);

/// A new organisation.
#[derive(InputObject)]
pub struct CreateOrganisationInput {
    /// What kind of organisation it is.
    pub kind: OrganisationKind,
    /// Its name, in one or more languages.
    pub name: Vec<TranslationInput>,
    /// What it does, in one or more languages.
    pub description: Option<Vec<TranslationInput>>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// The city where it is based.
    pub city: Option<String>,
    /// Its website.
    pub website: Option<String>,
    /// The organisation it belongs to.
    pub parent: Option<ID>,
    /// The municipality whose staff maintain it (an editor's own; none: shared, admin only).
    pub municipality: Option<ID>,
}

/// Changes to an organisation; fields left out stay as they are, fields set to null are cleared.
#[stroom_derive::update(organisation, "organisation")]
pub struct UpdateOrganisationInput {
    /// What kind of organisation it is.
    #[set]
    pub kind: Option<OrganisationKind>,
    /// The name: replaces every translation.
    #[set(text = NAME_MAX)]
    pub name: Option<Vec<TranslationInput>>,
    /// The description: replaces every translation (null: none).
    #[set(text = TEXT_MAX)]
    pub description: MaybeUndefined<Vec<TranslationInput>>,
    /// The country (null: unknown).
    #[set(check = country)]
    pub country: MaybeUndefined<String>,
    /// The city (null: unknown).
    #[set(check = |field, city| plain(field, city, NAME_MAX))]
    pub city: MaybeUndefined<String>,
    /// The website (null: none).
    #[set(check = url)]
    pub website: MaybeUndefined<String>,
    /// The organisation it belongs to (null: none).
    pub parent: MaybeUndefined<ID>,
}

/// A new contact person. Personal data: visible with a partner, editor or admin key only.
#[derive(InputObject)]
pub struct CreateContactPersonInput {
    /// The organisation the person works for.
    pub organisation: ID,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Telephone number.
    pub phone: Option<String>,
    /// Job title or role.
    pub job_title: Option<String>,
}

/// Changes to a contact person; fields left out stay as they are, fields set to null are cleared.
#[stroom_derive::update(contact_person, "contact person")]
pub struct UpdateContactPersonInput {
    /// Full name.
    #[set(check = |field, name| plain(field, name, NAME_MAX))]
    pub name: Option<String>,
    /// E-mail address (null: none).
    #[set(check = email)]
    pub email: MaybeUndefined<String>,
    /// Telephone number (null: none).
    #[set(check = phone)]
    pub phone: MaybeUndefined<String>,
    /// Job title (null: none).
    #[set(check = |field, title| plain(field, title, NAME_MAX))]
    pub job_title: MaybeUndefined<String>,
}

/// Checks that `parent` exists and would not make an organisation its own ancestor.
async fn check_parent(write: &Write, own: Option<i64>, parent: &ID) -> WriteResult<i64> {
    let parent = id("parent", parent, NodeKind::Organisation)?;
    let mut current = Some(parent);
    let mut hops = 0;
    while let Some(id) = current {
        if Some(id) == own {
            return Err(UserError::invalid(
                "parent",
                "An organisation cannot belong to itself or to one of its own parts.",
            )
            .into());
        }
        let model = write.live::<organisation::Entity>("parent", id).await?;
        current = model.parent_id;
        hops += 1;
        if hops > 32 {
            return Err(UserError::invalid("parent", "The organisation tree is too deep.").into());
        }
    }
    Ok(parent)
}

pub async fn create(
    write: &Write,
    input: CreateOrganisationInput,
) -> WriteResult<organisation::Model> {
    let mut problems = Problems::default();
    let name = problems.check(text("name", &input.name, true, NAME_MAX));
    let description = problems.check(text(
        "description",
        input.description.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    ));
    let country = input
        .country
        .as_deref()
        .and_then(|c| problems.check(country("country", c)));
    let city = input
        .city
        .as_deref()
        .and_then(|c| problems.check(plain("city", c, NAME_MAX)));
    let website = input
        .website
        .as_deref()
        .and_then(|w| problems.check(url("website", w)));
    let municipality = input
        .municipality
        .as_ref()
        .and_then(|m| problems.check(id("municipality", m, NodeKind::Municipality)));
    problems.finish()?;
    let (Some(name), Some(description)) = (name, description) else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    write.may_write(municipality)?;
    if let Some(m) = municipality {
        write
            .live::<entity::municipality::Entity>("municipality", m)
            .await?;
    }
    let parent = match &input.parent {
        Some(p) => Some(check_parent(write, None, p).await?),
        None => None,
    };
    let model = crate::new_record!(organisation::Model {
        kind: input.kind.into(),
        parent_id: parent,
        municipality_id: municipality,
        name,
        description,
        country,
        city,
        website,
        search_text: String::new(),
    });
    write
        .insert_audited::<organisation::Entity>(municipality, model)
        .await
}

pub async fn update(
    write: &Write,
    input: UpdateOrganisationInput,
) -> WriteResult<organisation::Model> {
    let (id, before, mut after, municipality) = edited::<organisation::Entity, _>(write, &input).await?;
    set_reference(&input.parent, &mut after.parent_id, |p| check_parent(write, Some(id), p)).await?;
    write
        .replace_audited::<organisation::Entity>(input.version, municipality, &before, after)
        .await
}

pub async fn create_contact(
    write: &Write,
    input: CreateContactPersonInput,
) -> WriteResult<contact_person::Model> {
    let organisation_id = id("organisation", &input.organisation, NodeKind::Organisation)?;
    let organisation = write
        .live::<organisation::Entity>("organisation", organisation_id)
        .await?;
    let municipality = write
        .authorize::<organisation::Entity>(&organisation)
        .await?;
    let mut problems = Problems::default();
    let name = problems.check(plain("name", &input.name, NAME_MAX));
    let email = input
        .email
        .as_deref()
        .and_then(|e| problems.check(email("email", e)));
    let phone = input
        .phone
        .as_deref()
        .and_then(|p| problems.check(phone("phone", p)));
    let job_title = input
        .job_title
        .as_deref()
        .and_then(|j| problems.check(plain("jobTitle", j, NAME_MAX)));
    problems.finish()?;
    let Some(name) = name else {
        return Err(UserError::invalid("name", "Invalid name.").into());
    };
    let model = crate::new_record!(contact_person::Model {
        organisation_id,
        name,
        email,
        phone,
        job_title,
    });
    write
        .insert_audited::<contact_person::Entity>(municipality, model)
        .await
}

pub async fn update_contact(
    write: &Write,
    input: UpdateContactPersonInput,
) -> WriteResult<contact_person::Model> {
    let (_, before, after, municipality) = edited::<contact_person::Entity, _>(write, &input).await?;
    write
        .replace_audited::<contact_person::Entity>(input.version, municipality, &before, after)
        .await
}

#[stroom_derive::mutations]
impl OrganisationMutation {
    /// Registers an organisation.
    change!(create_organisation(input: CreateOrganisationInput = "The new organisation.") -> OrganisationPayload = create);

    updates!(organisation: OrganisationPayload, "an organisation");

    archives!(organisation: OrganisationPayload, "an organisation");

    /// Adds a contact person to an organisation.
    change!(create_contact_person(input: CreateContactPersonInput = "The new contact person.") -> ContactPersonPayload = create_contact);

    /// Changes a contact person.
    change!(update_contact_person(input: UpdateContactPersonInput = "The changes.") -> ContactPersonPayload = update_contact);

    /// Archives a contact person (who left, say): nothing is lost.
    archive!(archive_contact_person(input = "The contact person and the version you last read.") -> ContactPersonPayload);

    /// Brings an archived contact person back.
    archive!(unarchive_contact_person(input = "The contact person and the version you last read.") -> ContactPersonPayload);
}
