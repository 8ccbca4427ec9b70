//! Municipalities: the cities and regions that run programmes (Mechelen and partner cities).
pub mod mutation;

use async_graphql::{Context, Enum, InputObject, Object};
use entity::municipality;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{EntityTrait, QueryTrait};

use crate::domain::area::Area;
use crate::domain::programme::Programme;
use crate::graphql::common::localized_expr;
use crate::graphql::context::{preferences, request};
use crate::graphql::filter::{Filter, RecordCriteria};
use crate::graphql::input::NAME_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::kernel::record::{Table, col};

crate::record_table! {
    municipality: Municipality {
        texts: [name = NAME_MAX],
        search: [name],
        municipality: id,
    }
}

/// A city or region that runs circular programmes, such as Mechelen or a CECI partner region.
pub struct Municipality(pub municipality::Model);

/// A city or region that runs circular programmes, such as Mechelen or a CECI partner region.
#[stroom_derive::record(municipality)]
#[Object]
impl Municipality {
    id!("municipality");

    /// The name, in the requested locale (with fallback to other translations).
    text!(name: String, "Every translation of the name.");

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
    list!(areas: Area = municipality_id);

    /// Programmes the municipality runs.
    list!(programmes: Programme = municipality_id);

    history!();
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

crate::order_input!(
    /// The order of a list of municipalities.
    #[derive(Default)]
    MunicipalityOrder(MunicipalityOrderField)
);

impl crate::graphql::pagination::ListFilter for MunicipalityFilter {
    fn select(
        self,
        ctx: &Context<'_>,
    ) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
        let filter = self;
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
        Ok(f.finish())
    }
}

impl crate::graphql::pagination::ListOrder for MunicipalityOrder {
    fn key(order_by: Option<Self>, ctx: &Context<'_>) -> SortKey {
        let order = order_by.unwrap_or_default();
        let id = municipality::Entity::id_expr();
        match order.field {
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
        .descending(order.direction.is_desc())
    }
}

#[derive(Default)]
pub struct MunicipalityQuery;

#[stroom_derive::record]
#[Object]
impl MunicipalityQuery {
    /// Municipalities: Mechelen and its partner cities and regions.
    records!(municipalities: Municipality, MunicipalityFilter, MunicipalityOrder = "by name");
}
