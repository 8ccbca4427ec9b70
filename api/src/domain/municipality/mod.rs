//! Municipalities: the cities and regions that run programmes (Mechelen and partner cities).
pub mod mutation;

use entity::municipality;

use crate::domain::area::Area;
use crate::domain::programme::Programme;
use crate::graphql::input::NAME_MAX;

crate::record_table! {
    municipality: Municipality {
        texts: [name = NAME_MAX],
        search: [name],
        municipality: id,
    }
    table {
        const COPIED: bool = true;
    }
}

/// A city or region that runs circular programmes, such as Mechelen or a CECI partner region.
#[stroom_derive::record(municipality)]
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

    origin!("municipality");

    history!();
}

/// Criteria for the list of municipalities.
#[stroom_derive::filter(municipality)]
pub struct MunicipalityFilter {
    /// Only municipalities of these countries (ISO 3166-1 alpha-2 codes).
    #[by(any_of(country, upper))]
    pub countries: Option<Vec<String>>,
    /// Text contained in the name, in any language; case and accents do not matter.
    #[by(search)]
    pub search: Option<String>,
}

#[stroom_derive::order(municipality, "municipalities")]
pub enum MunicipalityOrderField {
    /// The name in the request's locale.
    #[default]
    #[sort(localized = name)]
    Name,
}

#[stroom_derive::query]
impl MunicipalityQuery {
    /// Municipalities: Mechelen and its partner cities and regions.
    records!(municipalities: Municipality, MunicipalityFilter, MunicipalityOrder = "by name");
}
