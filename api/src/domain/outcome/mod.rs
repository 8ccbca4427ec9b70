//! Outcomes: measured values of an indicator over a period, for an initiative or a programme.
pub mod mutation;

use async_graphql::ID;
use entity::outcome;
use sea_orm::sea_query::ExprTrait;

use crate::domain::area::Area;
use crate::domain::indicator::Indicator;
use crate::domain::initiative::Initiative;
use crate::domain::municipality::Municipality;
use crate::domain::programme::Programme;
use crate::graphql::common::DateRange;
use crate::graphql::filter::Filter;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::graphql::scalars::{Date, Decimal};
use crate::kernel::record::col;

/// Measured values are stored as integers in millionths of their unit.
pub const VALUE_SCALE: u32 = 6;

/// The largest magnitude a measured value may have.
pub const MAX_VALUE: i64 = 1_000_000_000_000;

/// Converts a value to millionths of its unit, refusing more than six decimals and values
/// beyond ±10¹² (so that sums of millions of values stay exact in 64 bits).
pub fn to_micro(value: rust_decimal::Decimal) -> Result<i64, String> {
    let value = value.normalize();
    if value.scale() > VALUE_SCALE {
        return Err(format!("{value} has more than {VALUE_SCALE} decimals."));
    }
    if value.abs() > rust_decimal::Decimal::from(MAX_VALUE) {
        return Err(format!("{value} is larger than {MAX_VALUE}."));
    }
    let micro = value * rust_decimal::Decimal::from(1_000_000);
    i64::try_from(micro).map_err(|_| format!("{value} is out of range."))
}

crate::record_table! {
    outcome: Outcome {
        references: [indicator_id => Indicator, municipality_id => Municipality, initiative_id => Initiative, programme_id => Programme, area_id => Area],
        texts: [method = TEXT_MAX],
        municipality: municipality_id,
    }
    table {
        const COPIED: bool = true;
        fn default_sort() -> SortKey {
            SortKey::new(
                "PERIOD_START",
                col(outcome::Column::PeriodStart),
                SortKind::Date,
                Self::id_expr(),
            )
            .descending(true)
        }
        /// `valueMicro` reads better as the decimal value it stands for.
        fn audited(key: String, value: serde_json::Value) -> (String, serde_json::Value) {
            if key != "valueMicro" {
                return (key, value);
            }
            let value = value
                .as_i64()
                .map(|v| {
                    serde_json::json!(
                        rust_decimal::Decimal::new(v, VALUE_SCALE)
                            .normalize()
                            .to_string()
                    )
                })
                .unwrap_or(serde_json::Value::Null);
            ("value".to_owned(), value)
        }
    }
}

/// One measured value of an indicator for an initiative (or a whole programme) over a period.
#[stroom_derive::record(outcome)]
impl Outcome {
    id!("outcome");

    /// What was measured.
    reference!(indicator: Indicator = indicator_id);

    /// The measured value, in the indicator's unit.
    async fn value(&self) -> Decimal {
        Decimal(rust_decimal::Decimal::new(self.0.value_micro, VALUE_SCALE).normalize())
    }

    /// The first day of the period measured.
    async fn period_start(&self) -> Date {
        Date(self.0.period_start)
    }

    /// The last day of the period measured.
    async fn period_end(&self) -> Date {
        Date(self.0.period_end)
    }

    /// The initiative measured, if the outcome is an initiative's.
    reference!(initiative: Option<Initiative> = initiative_id);

    /// The programme, if the outcome is a whole programme's (or the initiative's programme).
    reference!(programme: Option<Programme> = programme_id);

    /// The area the value was measured in, if it was measured for one area.
    reference!(area: Option<Area> = area_id);

    /// The municipality the value belongs to.
    reference!(municipality: Municipality = municipality_id);

    /// How the value was measured or estimated, in the requested locale.
    text!(method: Option<String>, "Every translation of the method.");

    /// Where the value comes from (a report, a register, a URL).
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }

    /// Whether someone checked the value against its source.
    async fn verified(&self) -> bool {
        self.0.verified
    }

    origin!("outcome");

    history!();
}

/// Criteria for the list of outcomes.
#[stroom_derive::filter(outcome)]
pub struct OutcomeFilter {
    /// Only outcomes of these indicators.
    #[by(references(indicator_id, Indicator))]
    pub indicators: Option<Vec<ID>>,
    /// Only outcomes of these initiatives.
    #[by(references(initiative_id, Initiative))]
    pub initiatives: Option<Vec<ID>>,
    /// Only outcomes of these programmes.
    #[by(references(programme_id, Programme))]
    pub programmes: Option<Vec<ID>>,
    /// Only outcomes of these municipalities.
    #[by(references(municipality_id, Municipality))]
    pub municipalities: Option<Vec<ID>>,
    /// Only outcomes measured in these areas (or areas inside them).
    #[by(subtree(area_id, Area))]
    pub areas: Option<Vec<ID>>,
    /// Only outcomes whose period overlaps this range.
    #[by(with = overlapping)]
    pub period: Option<DateRange>,
    /// Only verified (true) or unverified (false) outcomes.
    #[by(equals(verified))]
    pub verified: Option<bool>,
}

/// Overlap: the outcome's period ends on or after `from` and starts on or before `to`.
fn overlapping(
    f: &mut Filter,
    _request: &crate::graphql::context::RequestContext,
    period: &DateRange,
) -> Result<(), crate::kernel::error::ApiError> {
    period.check("filter.period")?;
    if let Some(from) = period.from {
        f.condition(col(outcome::Column::PeriodEnd).gte(from.0));
    }
    if let Some(to) = period.to {
        f.condition(col(outcome::Column::PeriodStart).lte(to.0));
    }
    Ok(())
}

#[stroom_derive::order(outcome, "outcomes", unordered)]
pub enum OutcomeOrderField {
    /// The start of the period measured.
    #[default]
    #[sort(date = period_start)]
    PeriodStart,
    /// The value.
    #[sort(int = value_micro)]
    Value,
}

#[stroom_derive::query]
impl OutcomeQuery {
    /// Measured outcomes.
    records!(outcomes: Outcome, OutcomeFilter, OutcomeOrder = "latest period first");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn converts_exactly() {
        assert_eq!(to_micro("12.5".parse::<Decimal>().unwrap()), Ok(12_500_000));
        assert_eq!(to_micro("0.000001".parse::<Decimal>().unwrap()), Ok(1));
        assert!(to_micro("0.0000001".parse::<Decimal>().unwrap()).is_err());
        assert!(to_micro("1000000000001".parse::<Decimal>().unwrap()).is_err());
    }
}
