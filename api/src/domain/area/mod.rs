//! Areas: districts, neighbourhoods and street clusters inside a municipality, nested.
pub mod mutation;

use async_graphql::{Enum, ID};
use entity::area;

use crate::domain::initiative::Initiative;
use crate::domain::municipality::Municipality;
use crate::domain::need::Need;
use crate::graphql::input::NAME_MAX;
use crate::graphql::scalars::GeoJson;

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
#[stroom_derive::record(area)]
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
#[stroom_derive::filter(area)]
pub struct AreaFilter {
    /// Only areas of these municipalities.
    #[by(references(municipality_id, Municipality))]
    pub municipalities: Option<Vec<ID>>,
    /// Only areas inside these areas (at any depth).
    #[by(subtree(parent_id, Area))]
    pub within: Option<Vec<ID>>,
    /// Only top-level areas (without a parent) when true; only nested ones when false.
    #[by(is_null(parent_id))]
    pub top_level: Option<bool>,
    /// Only areas of these kinds.
    #[by(one_of(kind))]
    pub kinds: Option<Vec<AreaKind>>,
    /// Text contained in the name, in any language; case and accents do not matter.
    #[by(search)]
    pub search: Option<String>,
}

#[stroom_derive::order(area, "areas")]
pub enum AreaOrderField {
    /// The name in the request's locale.
    #[default]
    #[sort(localized = name)]
    Name,
    /// The number of households (areas without a count come last).
    #[sort(int = households, nullable)]
    Households,
}

#[stroom_derive::query]
impl AreaQuery {
    /// Areas: districts, neighbourhoods, street clusters and sites.
    records!(areas: Area, AreaFilter, AreaOrder = "by name");
}
