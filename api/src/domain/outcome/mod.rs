//! Outcomes: measured values of an indicator over a period, for an initiative or a programme.
pub mod mutation;

use async_graphql::{Context, Enum, ID, InputObject, Object};
use entity::outcome;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{EntityTrait, QueryTrait};

use crate::domain::area::Area;
use crate::domain::indicator::Indicator;
use crate::domain::initiative::Initiative;
use crate::domain::municipality::Municipality;
use crate::domain::programme::Programme;
use crate::graphql::common::DateRange;
use crate::graphql::context::request;
use crate::graphql::filter::{Filter, RecordCriteria};
use crate::graphql::input::TEXT_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::graphql::scalars::{Date, Decimal};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Table, col};

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
pub struct Outcome(pub outcome::Model);

/// One measured value of an indicator for an initiative (or a whole programme) over a period.
#[stroom_derive::record(outcome)]
#[Object]
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

    history!();
}

/// Criteria for the list of outcomes.
#[derive(InputObject, Default)]
pub struct OutcomeFilter {
    /// Only outcomes of these indicators.
    pub indicators: Option<Vec<ID>>,
    /// Only outcomes of these initiatives.
    pub initiatives: Option<Vec<ID>>,
    /// Only outcomes of these programmes.
    pub programmes: Option<Vec<ID>>,
    /// Only outcomes of these municipalities.
    pub municipalities: Option<Vec<ID>>,
    /// Only outcomes measured in these areas (or areas inside them).
    pub areas: Option<Vec<ID>>,
    /// Only outcomes whose period overlaps this range.
    pub period: Option<DateRange>,
    /// Only verified (true) or unverified (false) outcomes.
    pub verified: Option<bool>,
    /// The criteria of every list of records.
    #[graphql(flatten)]
    pub record: RecordCriteria,
}

/// What outcomes can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutcomeOrderField {
    /// The start of the period measured.
    #[default]
    PeriodStart,
    /// The value.
    Value,
    /// Creation time.
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
}

crate::order_input!(
    /// The order of a list of outcomes.
    OutcomeOrder(OutcomeOrderField)
);

impl crate::graphql::pagination::ListFilter for OutcomeFilter {
    fn select(
        self,
        ctx: &Context<'_>,
    ) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
        select(ctx, &self)
    }
}

impl crate::graphql::pagination::ListOrder for OutcomeOrder {
    fn key(order_by: Option<Self>, _ctx: &Context<'_>) -> SortKey {
        let id = outcome::Entity::id_expr();
        match order_by {
            None => outcome::Entity::default_sort(),
            Some(order) => match order.field {
                OutcomeOrderField::PeriodStart => SortKey::new(
                    "PERIOD_START",
                    col(outcome::Column::PeriodStart),
                    SortKind::Date,
                    id,
                ),
                OutcomeOrderField::Value => {
                    SortKey::new("VALUE", col(outcome::Column::ValueMicro), SortKind::Int, id)
                }
                OutcomeOrderField::CreatedAt => outcome::Entity::by_created_at(),
                OutcomeOrderField::UpdatedAt => outcome::Entity::by_updated_at(),
            }
            .descending(order.direction.is_desc()),
        }
    }
}

#[derive(Default)]
pub struct OutcomeQuery;

#[stroom_derive::record]
#[Object]
impl OutcomeQuery {
    /// Measured outcomes.
    records!(outcomes: Outcome, OutcomeFilter, OutcomeOrder = "latest period first");
}

/// The outcomes a filter selects (`SELECT … FROM outcome WHERE …`), for lists and statistics.
pub fn select(
    ctx: &Context<'_>,
    filter: &OutcomeFilter,
) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
    let db = &request(ctx).db;
    let mut f = Filter::new(
        outcome::Entity::find().into_query(),
        "outcome",
        db.get_database_backend(),
    );
    f.references(
        "filter.indicators",
        entity::outcome::Column::IndicatorId,
        filter.indicators.as_ref(),
        NodeKind::Indicator,
    )?
    .references(
        "filter.initiatives",
        entity::outcome::Column::InitiativeId,
        filter.initiatives.as_ref(),
        NodeKind::Initiative,
    )?
    .references(
        "filter.programmes",
        entity::outcome::Column::ProgrammeId,
        filter.programmes.as_ref(),
        NodeKind::Programme,
    )?
    .references(
        "filter.municipalities",
        entity::outcome::Column::MunicipalityId,
        filter.municipalities.as_ref(),
        NodeKind::Municipality,
    )?
    .subtree(
        "filter.areas",
        entity::outcome::Column::AreaId,
        filter.areas.as_ref(),
        NodeKind::Area,
        "area",
    )?;
    if let Some(period) = &filter.period {
        period.check("filter.period")?;
        // Overlap: the outcome's period ends on or after `from` and starts on or before `to`.
        if let Some(from) = period.from {
            f.condition(col(outcome::Column::PeriodEnd).gte(from.0));
        }
        if let Some(to) = period.to {
            f.condition(col(outcome::Column::PeriodStart).lte(to.0));
        }
    }
    if let Some(verified) = filter.verified {
        f.condition(col(outcome::Column::Verified).eq(verified));
    }
    f.record(&filter.record);
    Ok(f.finish())
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
