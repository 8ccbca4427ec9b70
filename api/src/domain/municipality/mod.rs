//! Municipalities: the cities and regions that run programmes (Mechelen and partner cities).
pub mod mutation;

use async_graphql::{Context, Enum, ID, InputObject, Object};
use entity::municipality;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{EntityTrait, QueryTrait};

use crate::domain::area::Area;
use crate::domain::programme::Programme;
use crate::graphql::common::{OrderDirection, RecordMeta, localized_expr};
use crate::graphql::context::{preferences, request};
use crate::graphql::filter::{Filter, RecordCriteria};
use crate::graphql::input::NAME_MAX;
use crate::graphql::loader::Link;
use crate::graphql::pagination::{Connection, PageArgs, SortKey, SortKind, Wraps, children, list};
use crate::graphql::text::{Translation, required_text, served_locale, translations};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::TextField;
use crate::kernel::record::{Owner, Table, col};
use crate::record_meta;

impl Table for municipality::Entity {
    const NAME: &'static str = "municipality";
    const TEXT_FIELDS: &'static [TextField] = &[TextField::new("name", "name", NAME_MAX)];
    fn id(model: &municipality::Model) -> i64 {
        model.id
    }
    fn default_sort() -> SortKey {
        SortKey::new("ID", Self::id_expr(), SortKind::Int, Self::id_expr())
    }
    fn owner(model: &municipality::Model) -> Owner {
        Owner::Municipality(Some(model.id))
    }
    fn search_text(model: &municipality::Model) -> Option<String> {
        Some(search_text(model))
    }
}

/// The folded text the `search` filter matches: every translation of name.
pub fn search_text(model: &municipality::Model) -> String {
    crate::kernel::i18n::search_text([&model.name])
}

/// A city or region that runs circular programmes, such as Mechelen or a CECI partner region.
pub struct Municipality(pub municipality::Model);

impl Wraps for Municipality {
    type Entity = municipality::Entity;
    fn wrap(model: municipality::Model) -> Self {
        Self(model)
    }
}

/// A city or region that runs circular programmes, such as Mechelen or a CECI partner region.
#[Object]
impl Municipality {
    /// The global ID of the municipality.
    pub async fn id(&self) -> ID {
        NodeKind::Municipality.id(self.0.id)
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
        translations(&self.0.name, NodeKind::Municipality, self.0.id, "name")
    }

    /// ISO 3166-1 alpha-2 country code, such as `BE`.
    async fn country(&self) -> &str {
        &self.0.country
    }

    /// The locale the municipality writes in by default, such as `nl`.
    async fn default_locale(&self) -> &str {
        &self.0.default_locale
    }

    /// Number of households, where known (used to compare cities of different size).
    async fn households(&self) -> Option<i64> {
        self.0.households
    }

    /// Number of inhabitants, where known.
    async fn population(&self) -> Option<i64> {
        self.0.population
    }

    /// Areas (districts, neighbourhoods, street clusters) of the municipality.
    async fn areas(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n areas.")] first: Option<i32>,
        #[graphql(desc = "Returns the areas after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n areas.")] last: Option<i32>,
        #[graphql(desc = "Returns the areas before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Connection<Area>> {
        children(
            ctx,
            Link::Column("municipality_id"),
            self.0.id,
            PageArgs::new(first, after, last, before),
        )
        .await
    }

    /// Programmes the municipality runs.
    async fn programmes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n programmes.")] first: Option<i32>,
        #[graphql(desc = "Returns the programmes after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n programmes.")] last: Option<i32>,
        #[graphql(desc = "Returns the programmes before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Connection<Programme>> {
        children(
            ctx,
            Link::Column("municipality_id"),
            self.0.id,
            PageArgs::new(first, after, last, before),
        )
        .await
    }

    #[graphql(flatten)]
    async fn history_field(&self) -> crate::domain::audit::RecordHistory {
        crate::domain::audit::RecordHistory::of(NodeKind::Municipality, self.0.id)
    }

    #[graphql(flatten)]
    async fn meta(&self) -> RecordMeta {
        record_meta!(self.0)
    }
}

/// Criteria for the list of municipalities.
#[derive(InputObject, Default)]
pub struct MunicipalityFilter {
    /// Only municipalities of these countries (ISO 3166-1 alpha-2 codes).
    pub countries: Option<Vec<String>>,
    /// Text contained in the name, in any language; case and accents do not matter.
    pub search: Option<String>,
    /// The criteria of every list of records.
    #[graphql(flatten)]
    pub record: RecordCriteria,
}

/// What municipalities can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum MunicipalityOrderField {
    /// The name in the request's locale.
    #[default]
    Name,
    /// Creation time.
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
}

/// The order of a list of municipalities.
#[derive(InputObject, Default)]
pub struct MunicipalityOrder {
    /// The field to order by.
    pub field: MunicipalityOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

#[derive(Default)]
pub struct MunicipalityQuery;

#[Object]
impl MunicipalityQuery {
    /// Municipalities: Mechelen and its partner cities and regions.
    #[allow(clippy::too_many_arguments)]
    async fn municipalities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n municipalities (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the municipalities after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n municipalities (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Returns the municipalities before this cursor.")] before: Option<String>,
        #[graphql(desc = "Criteria the municipalities must meet.")] filter: Option<
            MunicipalityFilter,
        >,
        #[graphql(desc = "The order of the list (default: by name).")] order_by: Option<
            MunicipalityOrder,
        >,
    ) -> async_graphql::Result<Connection<Municipality>> {
        let filter = filter.unwrap_or_default();
        let db = &request(ctx).db;
        let mut f = Filter::new(
            municipality::Entity::find().into_query(),
            "municipality",
            db.get_database_backend(),
        );
        if let Some(countries) = &filter.countries {
            let countries: Vec<String> = countries.iter().map(|c| c.to_ascii_uppercase()).collect();
            f.condition(col(municipality::Column::Country).is_in(countries));
        }
        f.search(filter.search.as_ref())?.record(&filter.record);
        let order = order_by.unwrap_or_default();
        let id = municipality::Entity::id_expr();
        let key = match order.field {
            MunicipalityOrderField::Name => SortKey::new(
                "NAME",
                localized_expr("municipality", "name", &preferences(ctx).chain(None)),
                SortKind::Text,
                id,
            )
            .nullable(),
            MunicipalityOrderField::CreatedAt => municipality::Entity::by_created_at(),
            MunicipalityOrderField::UpdatedAt => municipality::Entity::by_updated_at(),
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
