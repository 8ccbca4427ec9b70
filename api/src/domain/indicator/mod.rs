//! Indicators: what outcomes measure, with their unit.
pub mod mutation;

use async_graphql::{Enum, ID};
use entity::indicator;

use crate::domain::outcome::Outcome;
use crate::domain::theme::Theme;
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::kernel::record::col;

crate::record_table! {
    indicator: Indicator {
        references: [theme_id => Theme],
        texts: [name = NAME_MAX, description = TEXT_MAX],
    }
    table {
        const COPIED: bool = true;
        fn default_sort() -> SortKey {
            SortKey::new(
                "CODE",
                col(indicator::Column::Code),
                SortKind::Text,
                Self::id_expr(),
            )
        }
        fn conflict(_columns: &[String]) -> crate::kernel::write::UserError {
            crate::kernel::write::UserError::new(
                "code",
                "The code is taken: codes are unique across cities.",
                crate::kernel::write::UserErrorCode::Conflict,
            )
        }
    }
}

/// The unit a value is measured in.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Unit")]
pub enum Unit {
    /// People.
    People,
    /// Households.
    Households,
    /// Kilograms.
    Kilogram,
    /// Items (devices, tools, garments…).
    Items,
    /// Hours.
    Hours,
    /// Euro.
    Euro,
    /// Kilograms of CO2 equivalent.
    KgCo2e,
    /// Events or sessions.
    Events,
    /// Percent.
    Percent,
    /// Kilowatt-hours.
    KilowattHour,
    /// Litres.
    Litre,
}

/// What an outcome measures: a code, a name, a unit and whether more is better.
#[stroom_derive::record(indicator)]
impl Indicator {
    id!("indicator");

    /// A stable code, such as `repairs_fixed`, shared across cities so outcomes compare.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The name, in the requested locale (with fallback to other translations).
    text!(name: String, "Every translation of the name.");

    /// How the indicator is defined and measured, in the requested locale.
    text!(description: Option<String>, "Every translation of the description.");

    /// The unit of its values.
    async fn unit(&self) -> Unit {
        self.0.unit.into()
    }

    /// The theme it belongs to.
    reference!(theme: Option<Theme> = theme_id);

    /// Whether a higher value is better (false for waste or emissions).
    async fn higher_is_better(&self) -> bool {
        self.0.higher_is_better
    }

    /// Outcomes measured with this indicator, latest period first.
    list!(outcomes: Outcome = indicator_id);

    origin!("indicator");

    history!();
}

/// Criteria for the list of indicators.
#[stroom_derive::filter(indicator)]
pub struct IndicatorFilter {
    /// Only indicators with these codes.
    #[by(any_of(code))]
    pub codes: Option<Vec<String>>,
    /// Only indicators of these themes (or narrower ones).
    #[by(subtree(theme_id, Theme))]
    pub themes: Option<Vec<ID>>,
    /// Only indicators in these units.
    #[by(one_of(unit))]
    pub units: Option<Vec<Unit>>,
}

#[stroom_derive::order(indicator, "indicators")]
pub enum IndicatorOrderField {
    /// The code.
    #[default]
    #[sort(text = code)]
    Code,
    /// The name in the request's locale.
    #[sort(localized = name)]
    Name,
}

#[stroom_derive::query]
impl IndicatorQuery {
    /// Indicators that outcomes are measured with.
    records!(indicators: Indicator, IndicatorFilter, IndicatorOrder = "by code");
}
