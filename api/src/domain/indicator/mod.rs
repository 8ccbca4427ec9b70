//! Indicators: what outcomes measure, with their unit.
pub mod mutation;

use async_graphql::{Context, Enum, ID, InputObject, Object};
use entity::indicator;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{EntityTrait, QueryTrait};

use crate::domain::outcome::Outcome;
use crate::domain::theme::Theme;
use crate::graphql::common::localized_expr;
use crate::graphql::context::{preferences, request};
use crate::graphql::filter::{Filter, RecordCriteria};
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Table, col};

crate::record_table! {
    indicator: Indicator {
        references: [theme_id => Theme],
        texts: [name = NAME_MAX, description = TEXT_MAX],
    }
    table {
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
pub struct Indicator(pub indicator::Model);

/// What an outcome measures: a code, a name, a unit and whether more is better.
#[stroom_derive::record(indicator)]
#[Object]
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

    history!();
}

/// Criteria for the list of indicators.
#[derive(InputObject, Default)]
pub struct IndicatorFilter {
    /// Only indicators with these codes.
    pub codes: Option<Vec<String>>,
    /// Only indicators of these themes (or narrower ones).
    pub themes: Option<Vec<ID>>,
    /// Only indicators in these units.
    pub units: Option<Vec<Unit>>,
    /// The criteria of every list of records.
    #[graphql(flatten)]
    pub record: RecordCriteria,
}

/// What indicators can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndicatorOrderField {
    /// The code.
    #[default]
    Code,
    /// The name in the request's locale.
    Name,
    /// Creation time.
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
}

crate::order_input!(
    /// The order of a list of indicators.
    #[derive(Default)]
    IndicatorOrder(IndicatorOrderField)
);

impl crate::graphql::pagination::ListFilter for IndicatorFilter {
    fn select(
        self,
        ctx: &Context<'_>,
    ) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
        let filter = self;
        let db = &request(ctx).db;
        let mut f = Filter::new(
            indicator::Entity::find().into_query(),
            "indicator",
            db.get_database_backend(),
        );
        if let Some(codes) = &filter.codes {
            f.condition(col(indicator::Column::Code).is_in(codes.iter().cloned()));
        }
        f.subtree(
            "filter.themes",
            entity::indicator::Column::ThemeId,
            filter.themes.as_ref(),
            NodeKind::Theme,
            "theme",
        )?
        .one_of::<Unit, entity::enums::Unit>(entity::indicator::Column::Unit, filter.units.as_ref())
        .record(&filter.record);
        Ok(f.finish())
    }
}

impl crate::graphql::pagination::ListOrder for IndicatorOrder {
    fn key(order_by: Option<Self>, ctx: &Context<'_>) -> SortKey {
        let order = order_by.unwrap_or_default();
        let id = indicator::Entity::id_expr();
        match order.field {
            IndicatorOrderField::Code => {
                SortKey::new("CODE", col(indicator::Column::Code), SortKind::Text, id)
            }
            IndicatorOrderField::Name => SortKey::new(
                "NAME",
                localized_expr("indicator", "name", &preferences(ctx).chain(None)),
                SortKind::Text,
                id,
            )
            .nullable(),
            IndicatorOrderField::CreatedAt => indicator::Entity::by_created_at(),
            IndicatorOrderField::UpdatedAt => indicator::Entity::by_updated_at(),
        }
        .descending(order.direction.is_desc())
    }
}

#[derive(Default)]
pub struct IndicatorQuery;

#[stroom_derive::record]
#[Object]
impl IndicatorQuery {
    /// Indicators that outcomes are measured with.
    records!(indicators: Indicator, IndicatorFilter, IndicatorOrder = "by code");
}
