//! Organisations (partners) and their contact people.
pub mod mutation;

use async_graphql::{Context, Enum, ID, InputObject, Object};
use entity::{contact_person, organisation};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, EntityTrait, QueryTrait};

use crate::domain::municipality::Municipality;
use crate::domain::partnership::{PartnerRole, Partnership};
use crate::graphql::common::{OrderDirection, RecordMeta, localized_expr};
use crate::graphql::context::{preferences, request, viewer};
use crate::graphql::filter::{Filter, RecordCriteria};
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::{Link, reference, required_reference};
use crate::graphql::pagination::{
    Connection, PageArgs, SortKey, SortKind, Wraps, children, children_where, list,
};
use crate::graphql::text::{
    Translation, optional_text, required_text, served_locale, translations,
};
use crate::kernel::access::Viewer;
use crate::kernel::error::ApiError;
use crate::kernel::ids::NodeKind;
use crate::kernel::record::TextField;
use crate::kernel::record::{Owner, Table, col, owner_through};
use crate::record_meta;

impl Table for organisation::Entity {
    const NAME: &'static str = "organisation";
    const REFERENCES: &'static [(&'static str, NodeKind)] = &[
        ("parent_id", NodeKind::Organisation),
        ("municipality_id", NodeKind::Municipality),
    ];
    const TEXT_FIELDS: &'static [TextField] = &[
        TextField::new("name", "name", NAME_MAX),
        TextField::new("description", "description", TEXT_MAX),
    ];
    fn id(model: &organisation::Model) -> i64 {
        model.id
    }
    fn default_sort() -> SortKey {
        SortKey::new("ID", Self::id_expr(), SortKind::Int, Self::id_expr())
    }
    fn owner(model: &organisation::Model) -> Owner {
        Owner::Municipality(model.municipality_id)
    }
    fn search_text(model: &organisation::Model) -> Option<String> {
        Some(search_text(model))
    }
}

/// The folded text the `search` filter matches: every translation of name and description.
pub fn search_text(model: &organisation::Model) -> String {
    crate::kernel::i18n::search_text([&model.name, &model.description])
}

impl Table for contact_person::Entity {
    const NAME: &'static str = "contact_person";
    const REFERENCES: &'static [(&'static str, NodeKind)] =
        &[("organisation_id", NodeKind::Organisation)];
    fn id(model: &contact_person::Model) -> i64 {
        model.id
    }
    /// Contact people are personal data: nothing of them for anonymous callers, on any path.
    fn visible_to(viewer: &Viewer) -> Condition {
        if viewer.sees_personal_data() {
            Condition::all()
        } else {
            Condition::all().add(Expr::cust("1 = 0"))
        }
    }
    fn default_sort() -> SortKey {
        SortKey::new("ID", Self::id_expr(), SortKind::Int, Self::id_expr())
    }
    fn owner(model: &contact_person::Model) -> Owner {
        Owner::Through(owner_through::<organisation::Entity>, model.organisation_id)
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

impl Wraps for Organisation {
    type Entity = organisation::Entity;
    fn wrap(model: organisation::Model) -> Self {
        Self(model)
    }
}

/// A partner: a city department, funder, design agency, EU project, region, city, agency,
/// social organisation, citizen initiative, enterprise or knowledge institution.
#[Object]
impl Organisation {
    /// The global ID of the organisation.
    pub async fn id(&self) -> ID {
        NodeKind::Organisation.id(self.0.id)
    }

    /// The name, in the requested locale (with fallback to other translations).
    async fn name(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Locale of the text, such as `nl` or `en`; by default the request's `Accept-Language`."
        )]
        locale: Option<String>,
    ) -> async_graphql::Result<String> {
        required_text(ctx, &self.0.name, locale)
    }

    /// The locale `name` is served in, for the same `locale` argument: the first of the
    /// request's languages that it has, else a fallback's; null when it has no text at all.
    async fn name_locale(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `locale` argument given to `name`, if any.")] locale: Option<String>,
    ) -> async_graphql::Result<Option<String>> {
        served_locale(ctx, &self.0.name, locale)
    }

    /// Every translation of the name.
    async fn name_translations(&self) -> Vec<Translation> {
        translations(&self.0.name, NodeKind::Organisation, self.0.id, "name")
    }

    /// What the organisation does, in the requested locale.
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
            NodeKind::Organisation,
            self.0.id,
            "description",
        )
    }

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
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Organisation>> {
        reference(ctx, self.0.parent_id).await
    }

    /// Organisations that belong to this one (the departments of a city).
    async fn children(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n organisations.")] first: Option<i32>,
        #[graphql(desc = "Returns the organisations after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n organisations.")] last: Option<i32>,
        #[graphql(desc = "Returns the organisations before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Connection<Organisation>> {
        children(
            ctx,
            Link::Column("parent_id"),
            self.0.id,
            PageArgs::new(first, after, last, before),
        )
        .await
    }

    /// The municipality whose staff maintain this record, if any.
    async fn municipality(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Municipality>> {
        reference(ctx, self.0.municipality_id).await
    }

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
            Link::Column("network_id"),
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
            Link::Column("organisation_id"),
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
            Link::Column("organisation_id"),
            self.0.id,
            PageArgs::new(first, after, last, before),
        )
        .await
        .map(Some)
    }

    #[graphql(flatten)]
    async fn history_field(&self) -> crate::domain::audit::RecordHistory {
        crate::domain::audit::RecordHistory::of(NodeKind::Organisation, self.0.id)
    }

    #[graphql(flatten)]
    async fn meta(&self) -> RecordMeta {
        record_meta!(self.0)
    }
}

/// A contact person of an organisation. Personal data: visible only with a partner, editor
/// or admin API key.
pub struct ContactPerson(pub contact_person::Model);

impl Wraps for ContactPerson {
    type Entity = contact_person::Entity;
    fn wrap(model: contact_person::Model) -> Self {
        Self(model)
    }
}

/// A contact person of an organisation. Personal data: visible only with a partner, editor
/// or admin API key.
#[Object]
impl ContactPerson {
    /// The global ID of the contact person.
    pub async fn id(&self) -> ID {
        NodeKind::ContactPerson.id(self.0.id)
    }

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
    async fn organisation(&self, ctx: &Context<'_>) -> async_graphql::Result<Organisation> {
        required_reference(ctx, self.0.organisation_id).await
    }

    #[graphql(flatten)]
    async fn history_field(&self) -> crate::domain::audit::RecordHistory {
        crate::domain::audit::RecordHistory::of(NodeKind::ContactPerson, self.0.id)
    }

    #[graphql(flatten)]
    async fn meta(&self) -> RecordMeta {
        record_meta!(self.0)
    }
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

/// The order of a list of organisations.
#[derive(InputObject, Default)]
pub struct OrganisationOrder {
    /// The field to order by.
    pub field: OrganisationOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

#[derive(Default)]
pub struct OrganisationQuery;

#[Object]
impl OrganisationQuery {
    /// Organisations: city departments, funders, agencies, projects, cities, partners.
    #[allow(clippy::too_many_arguments)]
    async fn organisations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n organisations (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the organisations after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n organisations (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Returns the organisations before this cursor.")] before: Option<String>,
        #[graphql(desc = "Criteria the organisations must meet.")] filter: Option<
            OrganisationFilter,
        >,
        #[graphql(desc = "The order of the list (default: by name).")] order_by: Option<
            OrganisationOrder,
        >,
    ) -> async_graphql::Result<Connection<Organisation>> {
        let filter = filter.unwrap_or_default();
        let db = &request(ctx).db;
        let mut f = Filter::new(
            organisation::Entity::find().into_query(),
            "organisation",
            db.get_database_backend(),
        );
        f.one_of::<OrganisationKind, entity::enums::OrganisationKind>(
            "kind",
            filter.kinds.as_ref(),
        );
        if let Some(countries) = &filter.countries {
            let countries: Vec<String> = countries.iter().map(|c| c.to_ascii_uppercase()).collect();
            f.condition(col(organisation::Column::Country).is_in(countries));
        }
        f.references(
            "filter.municipalities",
            "municipality_id",
            filter.municipalities.as_ref(),
            NodeKind::Municipality,
        )?
        .subtree(
            "filter.within",
            "parent_id",
            filter.within.as_ref(),
            NodeKind::Organisation,
            "organisation",
        )?
        .search(filter.search.as_ref())?
        .record(&filter.record);
        let order = order_by.unwrap_or_default();
        let id = organisation::Entity::id_expr();
        let key = match order.field {
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
        .descending(order.direction.is_desc());
        list(
            ctx,
            f.finish(),
            key,
            PageArgs::new(first, after, last, before),
        )
        .await
    }
}
