//! Organisations (partners) and their contact people.
pub mod mutation;

use async_graphql::{Context, Enum, ID, InputObject, Object};
use entity::{contact_person, organisation};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, EntityTrait, QueryTrait};

use crate::domain::municipality::Municipality;
use crate::domain::partnership::{PartnerRole, Partnership};
use crate::graphql::common::localized_expr;
use crate::graphql::context::{preferences, request, viewer};
use crate::graphql::filter::{Filter, RecordCriteria};
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::Link;
use crate::graphql::pagination::{
    Connection, PageArgs, SortKey, SortKind, children, children_where,
};
use crate::kernel::access::Viewer;
use crate::kernel::error::ApiError;
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Owner, Table, col, owner_through};

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
pub struct Organisation(pub organisation::Model);

/// A partner: a city department, funder, design agency, EU project, region, city, agency,
/// social organisation, citizen initiative, enterprise or knowledge institution.
#[stroom_derive::record(organisation)]
#[Object]
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
    #[allow(clippy::too_many_arguments)]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only members with these roles.")] roles: Option<Vec<PartnerRole>>,
        #[graphql(desc = "Returns the first n members.")] first: Option<i32>,
        #[graphql(desc = "Returns the members after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n members.")] last: Option<i32>,
        #[graphql(desc = "Returns the members before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Connection<Partnership>> {
        children_where(
            ctx,
            Link::column(entity::partnership::Column::NetworkId),
            self.0.id,
            PartnerRole::only(roles),
            PageArgs::new(first, after, last, before),
        )
        .await
    }

    /// The roles this organisation holds in programmes, initiatives and networks.
    #[allow(clippy::too_many_arguments)]
    async fn partnerships(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only partnerships with these roles.")] roles: Option<Vec<PartnerRole>>,
        #[graphql(desc = "Returns the first n partnerships.")] first: Option<i32>,
        #[graphql(desc = "Returns the partnerships after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n partnerships.")] last: Option<i32>,
        #[graphql(desc = "Returns the partnerships before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Connection<Partnership>> {
        children_where(
            ctx,
            Link::column(entity::partnership::Column::OrganisationId),
            self.0.id,
            PartnerRole::only(roles),
            PageArgs::new(first, after, last, before),
        )
        .await
    }

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
pub struct ContactPerson(pub contact_person::Model);

/// A contact person of an organisation. Personal data: visible only with a partner, editor
/// or admin API key.
#[stroom_derive::record(contact_person)]
#[Object]
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
#[derive(InputObject, Default)]
pub struct OrganisationFilter {
    /// Only organisations of these kinds.
    pub kinds: Option<Vec<OrganisationKind>>,
    /// Only organisations in these countries (ISO 3166-1 alpha-2 codes).
    pub countries: Option<Vec<String>>,
    /// Only organisations maintained by these municipalities.
    pub municipalities: Option<Vec<ID>>,
    /// Only organisations belonging to these organisations (at any depth).
    pub within: Option<Vec<ID>>,
    /// Text contained in the name or description, in any language; case and accents do not matter.
    pub search: Option<String>,
    /// The criteria of every list of records.
    #[graphql(flatten)]
    pub record: RecordCriteria,
}

/// What organisations can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrganisationOrderField {
    /// The name in the request's locale.
    #[default]
    Name,
    /// Creation time.
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
}

crate::order_input!(
    /// The order of a list of organisations.
    #[derive(Default)]
    OrganisationOrder(OrganisationOrderField)
);

impl crate::graphql::pagination::ListFilter for OrganisationFilter {
    fn select(
        self,
        ctx: &Context<'_>,
    ) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
        let filter = self;
        let db = &request(ctx).db;
        let mut f = Filter::new(
            organisation::Entity::find().into_query(),
            "organisation",
            db.get_database_backend(),
        );
        f.one_of::<OrganisationKind, entity::enums::OrganisationKind>(
            entity::organisation::Column::Kind,
            filter.kinds.as_ref(),
        );
        if let Some(countries) = &filter.countries {
            let countries: Vec<String> = countries.iter().map(|c| c.to_ascii_uppercase()).collect();
            f.condition(col(organisation::Column::Country).is_in(countries));
        }
        f.references(
            "filter.municipalities",
            entity::organisation::Column::MunicipalityId,
            filter.municipalities.as_ref(),
            NodeKind::Municipality,
        )?
        .subtree(
            "filter.within",
            entity::organisation::Column::ParentId,
            filter.within.as_ref(),
            NodeKind::Organisation,
            "organisation",
        )?
        .search(filter.search.as_ref())?
        .record(&filter.record);
        Ok(f.finish())
    }
}

impl crate::graphql::pagination::ListOrder for OrganisationOrder {
    fn key(order_by: Option<Self>, ctx: &Context<'_>) -> SortKey {
        let order = order_by.unwrap_or_default();
        let id = organisation::Entity::id_expr();
        match order.field {
            OrganisationOrderField::Name => SortKey::new(
                "NAME",
                localized_expr("organisation", "name", &preferences(ctx).chain(None)),
                SortKind::Text,
                id,
            )
            .nullable(),
            OrganisationOrderField::CreatedAt => organisation::Entity::by_created_at(),
            OrganisationOrderField::UpdatedAt => organisation::Entity::by_updated_at(),
        }
        .descending(order.direction.is_desc())
    }
}

#[derive(Default)]
pub struct OrganisationQuery;

#[stroom_derive::record]
#[Object]
impl OrganisationQuery {
    /// Organisations: city departments, funders, agencies, projects, cities, partners.
    records!(organisations: Organisation, OrganisationFilter, OrganisationOrder = "by name");
}
