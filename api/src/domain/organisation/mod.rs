//! Organisations (partners) and their contact people.
pub mod mutation;

use async_graphql::{Context, Enum, ID};
use entity::{contact_person, organisation};
use sea_orm::Condition;
use sea_orm::sea_query::Expr;

use crate::domain::municipality::Municipality;
use crate::domain::partnership::{PartnerRole, Partnership};
use crate::graphql::context::viewer;
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::Link;
use crate::graphql::pagination::{Connection, PageArgs, children};
use crate::kernel::access::Viewer;
use crate::kernel::error::ApiError;
use crate::kernel::record::{Owner, owner_through};

crate::record_table! {
    organisation: Organisation {
        references: [parent_id => Organisation, municipality_id => Municipality],
        texts: [name = NAME_MAX, description = TEXT_MAX],
        search: [name, description],
        municipality_or_shared: municipality_id,
    }
}

crate::record_table! {
    contact_person: ContactPerson {
        references: [organisation_id => Organisation],
    }
    table {
        /// Contact people are personal data: nothing of them for anonymous callers, on any path.
        fn visible_to(viewer: &Viewer) -> Condition {
            if viewer.sees_personal_data() {
                Condition::all()
            } else {
                Condition::all().add(Expr::cust("1 = 0"))
            }
        }
        fn owner(model: &contact_person::Model) -> Owner {
            Owner::Through(owner_through::<organisation::Entity>, model.organisation_id)
        }
    }
}

/// Refuses personal data to a caller without the right to see it.
pub fn require_personal_data_access(viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.sees_personal_data() {
        Ok(())
    } else {
        Err(ApiError::Unauthenticated(
            "Contact people are personal data: they are visible only with a partner, editor or \
             admin API key (`Authorization: Bearer <key>`)."
                .into(),
        ))
    }
}

/// The kind of an organisation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::OrganisationKind")]
pub enum OrganisationKind {
    /// A department of a city administration.
    CityDepartment,
    /// A body that funds programmes or initiatives.
    Funder,
    /// A (service) design agency.
    DesignAgency,
    /// An EU-funded project, such as an Interreg Europe project.
    EuProject,
    /// A regional government or council.
    Region,
    /// A city or municipality as an organisation.
    City,
    /// A public agency (development, innovation or business agency).
    PublicAgency,
    /// A social organisation or NGO.
    SocialOrganisation,
    /// An initiative of citizens.
    CitizenInitiative,
    /// A company or social enterprise.
    Enterprise,
    /// A university, college or research institute.
    KnowledgeInstitution,
}

/// A partner: a city department, funder, design agency, EU project, region, city, agency,
/// social organisation, citizen initiative, enterprise or knowledge institution.
#[stroom_derive::record(organisation)]
impl Organisation {
    id!("organisation");

    /// The name, in the requested locale (with fallback to other translations).
    text!(name: String, "Every translation of the name.");

    /// What the organisation does, in the requested locale.
    text!(description: Option<String>, "Every translation of the description.");

    /// What kind of organisation it is.
    async fn kind(&self) -> OrganisationKind {
        self.0.kind.into()
    }

    /// ISO 3166-1 alpha-2 country code, such as `BE`.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    /// The city where the organisation is based.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }

    /// The organisation's website.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }

    /// The organisation this one belongs to (a department belongs to its city).
    reference!(parent: Option<Organisation> = parent_id);

    /// Organisations that belong to this one (the departments of a city).
    list!(children: Organisation = parent_id, "organisations");

    /// The municipality whose staff maintain this record, if any.
    reference!(municipality: Option<Municipality> = municipality_id);

    /// Members of this organisation when it is a network or project (the partners of CECI).
    list!(members: Partnership = network_id, where roles: Option<Vec<PartnerRole>> by PartnerRole::only, "Only members with these roles.");

    /// The roles this organisation holds in programmes, initiatives and networks.
    list!(partnerships: Partnership = organisation_id, where roles: Option<Vec<PartnerRole>> by PartnerRole::only, "Only partnerships with these roles.");

    /// Contact people of the organisation. Personal data: only with a partner, editor or
    /// admin API key; anonymous requests get an `UNAUTHENTICATED` error here.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n contact people.")] first: Option<i32>,
        #[graphql(desc = "Returns the contact people after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n contact people.")] last: Option<i32>,
        #[graphql(desc = "Returns the contact people before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Option<Connection<ContactPerson>>> {
        require_personal_data_access(viewer(ctx))?;
        children(
            ctx,
            Link::column(contact_person::Column::OrganisationId),
            self.0.id,
            PageArgs::new(first, after, last, before),
        )
        .await
        .map(Some)
    }

    history!();
}

/// A contact person of an organisation. Personal data: visible only with a partner, editor
/// or admin API key.
#[stroom_derive::record(contact_person)]
impl ContactPerson {
    id!("contact person");

    /// Full name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// E-mail address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// Telephone number.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    /// Job title or role in the organisation.
    async fn job_title(&self) -> Option<&str> {
        self.0.job_title.as_deref()
    }

    /// The organisation the person works for.
    reference!(organisation: Organisation = organisation_id);

    history!();
}

/// Criteria for the list of organisations.
#[stroom_derive::filter(organisation)]
pub struct OrganisationFilter {
    /// Only organisations of these kinds.
    #[by(one_of(kind))]
    pub kinds: Option<Vec<OrganisationKind>>,
    /// Only organisations in these countries (ISO 3166-1 alpha-2 codes).
    #[by(any_of(country, upper))]
    pub countries: Option<Vec<String>>,
    /// Only organisations maintained by these municipalities.
    #[by(references(municipality_id, Municipality))]
    pub municipalities: Option<Vec<ID>>,
    /// Only organisations belonging to these organisations (at any depth).
    #[by(subtree(parent_id, Organisation))]
    pub within: Option<Vec<ID>>,
    /// Text contained in the name or description, in any language; case and accents do not matter.
    #[by(search)]
    pub search: Option<String>,
}

#[stroom_derive::order(organisation, "organisations")]
pub enum OrganisationOrderField {
    /// The name in the request's locale.
    #[default]
    #[sort(localized = name)]
    Name,
}

#[stroom_derive::query]
impl OrganisationQuery {
    /// Organisations: city departments, funders, agencies, projects, cities, partners.
    records!(organisations: Organisation, OrganisationFilter, OrganisationOrder = "by name");
}
