//! Areas: districts, neighbourhoods and street clusters inside a municipality, nested.
pub mod mutation;

use async_graphql::{Context, Enum, ID, InputObject, Object};
use entity::area;
use sea_orm::{EntityTrait, QueryTrait};

use crate::domain::initiative::Initiative;
use crate::domain::municipality::Municipality;
use crate::domain::need::Need;
use crate::graphql::common::localized_expr;
use crate::graphql::context::{preferences, request};
use crate::graphql::filter::{Filter, RecordCriteria};
use crate::graphql::input::NAME_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::graphql::scalars::GeoJson;
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Table, col};

crate::record_table! {
    area: Area {
        references: [municipality_id => Municipality, parent_id => Area],
        texts: [name = NAME_MAX],
        search: [name],
        municipality: municipality_id,
    }
}

/// The kind of an area.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::AreaKind")]
pub enum AreaKind {
    /// A district of a city, made of neighbourhoods.
    District,
    /// A neighbourhood, such as Bethaniënpolder-Auwegemvaart.
    Neighbourhood,
    /// A street or a few streets: the scale at which social cohesion was found to live.
    StreetCluster,
    /// A single site, such as a building or a square.
    Site,
}

/// A place inside a municipality: a district, neighbourhood, street cluster or site. Areas nest.
pub struct Area(pub area::Model);

/// A place inside a municipality: a district, neighbourhood, street cluster or site. Areas nest.
#[stroom_derive::record(area)]
#[Object]
impl Area {
    id!("area");

    /// The name, in the requested locale (with fallback to other translations).
    text!(name: String, "Every translation of the name.");

    /// What kind of area it is.
    async fn kind(&self) -> AreaKind {
        self.0.kind.into()
    }

    /// The municipality the area lies in.
    reference!(municipality: Municipality = municipality_id);

    /// The area this one lies in, if any.
    reference!(parent: Option<Area> = parent_id);

    /// Areas inside this one.
    list!(children: Area = parent_id, "areas");

    /// Number of households, where known.
    async fn households(&self) -> Option<i64> {
        self.0.households
    }

    /// Number of residents, where known.
    async fn residents(&self) -> Option<i64> {
        self.0.residents
    }

    /// The outline of the area as a GeoJSON geometry, where known.
    async fn geometry(&self) -> Option<GeoJson> {
        self.0.geometry.clone().map(GeoJson)
    }

    /// Needs mapped in this area.
    list!(needs: Need = area_id);

    /// Initiatives working in this area.
    list!(initiatives: Initiative = via initiative_area(area_id -> initiative_id));

    history!();
}

/// Criteria for the list of areas.
#[derive(InputObject, Default)]
pub struct AreaFilter {
    /// Only areas of these municipalities.
    pub municipalities: Option<Vec<ID>>,
    /// Only areas inside these areas (at any depth).
    pub within: Option<Vec<ID>>,
    /// Only top-level areas (without a parent) when true; only nested ones when false.
    pub top_level: Option<bool>,
    /// Only areas of these kinds.
    pub kinds: Option<Vec<AreaKind>>,
    /// Text contained in the name, in any language; case and accents do not matter.
    pub search: Option<String>,
    /// The criteria of every list of records.
    #[graphql(flatten)]
    pub record: RecordCriteria,
}

/// What areas can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum AreaOrderField {
    /// The name in the request's locale.
    #[default]
    Name,
    /// The number of households (areas without a count come last).
    Households,
    /// Creation time.
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
}

crate::order_input!(
    /// The order of a list of areas.
    #[derive(Default)]
    AreaOrder(AreaOrderField)
);

impl crate::graphql::pagination::ListFilter for AreaFilter {
    fn select(
        self,
        ctx: &Context<'_>,
    ) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
        let filter = self;
        use sea_orm::sea_query::ExprTrait;
        let db = &request(ctx).db;
        let mut f = Filter::new(
            area::Entity::find().into_query(),
            "area",
            db.get_database_backend(),
        );
        f.references(
            "filter.municipalities",
            entity::area::Column::MunicipalityId,
            filter.municipalities.as_ref(),
            NodeKind::Municipality,
        )?;
        if let Some(within) = &filter.within {
            // Strictly inside: the subtree of the given areas, without the areas themselves.
            f.subtree(
                "filter.within",
                entity::area::Column::ParentId,
                Some(within),
                NodeKind::Area,
                "area",
            )?;
        }
        if let Some(top_level) = filter.top_level {
            let parent = col(area::Column::ParentId);
            f.condition(if top_level {
                parent.is_null()
            } else {
                parent.is_not_null()
            });
        }
        f.one_of::<AreaKind, entity::enums::AreaKind>(
            entity::area::Column::Kind,
            filter.kinds.as_ref(),
        )
        .search(filter.search.as_ref())?
        .record(&filter.record);
        Ok(f.finish())
    }
}

impl crate::graphql::pagination::ListOrder for AreaOrder {
    fn key(order_by: Option<Self>, ctx: &Context<'_>) -> SortKey {
        let order = order_by.unwrap_or_default();
        let id = area::Entity::id_expr();
        match order.field {
            AreaOrderField::Name => SortKey::new(
                "NAME",
                localized_expr("area", "name", &preferences(ctx).chain(None)),
                SortKind::Text,
                id,
            )
            .nullable(),
            AreaOrderField::Households => SortKey::new(
                "HOUSEHOLDS",
                col(area::Column::Households),
                SortKind::Int,
                id,
            )
            .nullable(),
            AreaOrderField::CreatedAt => area::Entity::by_created_at(),
            AreaOrderField::UpdatedAt => area::Entity::by_updated_at(),
        }
        .descending(order.direction.is_desc())
    }
}

#[derive(Default)]
pub struct AreaQuery;

#[stroom_derive::record]
#[Object]
impl AreaQuery {
    /// Areas: districts, neighbourhoods, street clusters and sites.
    records!(areas: Area, AreaFilter, AreaOrder = "by name");
}
