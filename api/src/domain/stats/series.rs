//! Outcome series: an indicator's values summed (and averaged, min, max, counted) per month,
//! quarter or year, optionally per theme, area, initiative, programme or municipality, in the
//! database. An outcome counts in the period that contains the first day of the period it
//! measures: a value measured over a whole year falls in the bucket of its first day, whole.
use std::collections::{BTreeMap, HashMap};

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal as RustDecimal;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query, TableRef};
use sea_orm::{ConnectionTrait, DbBackend};

use super::{GroupKey, GroupValue};
use crate::domain::indicator::Unit;
use crate::domain::outcome::{OutcomeFilter, VALUE_SCALE};
use crate::graphql::context::request;
use crate::graphql::scalars::{Date, Decimal};
use crate::kernel::error::ApiError;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::record::col;

/// The length of a period of a series.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Calendar months.
    Month,
    /// Calendar quarters (January–March, …).
    Quarter,
    /// Calendar years.
    Year,
}

impl Interval {
    fn months(self) -> u32 {
        match self {
            Self::Month => 1,
            Self::Quarter => 3,
            Self::Year => 12,
        }
    }

    /// The first day of the period containing `day`.
    fn start_of(self, day: NaiveDate) -> NaiveDate {
        let month0 = day.month0() - day.month0() % self.months();
        NaiveDate::from_ymd_opt(day.year(), month0 + 1, 1).unwrap_or(day)
    }

    /// The SQL of the first day of the period of `outcome.period_start`, as `YYYY-MM-DD` text.
    fn bucket(self, backend: DbBackend) -> Expr {
        let column = "\"outcome\".\"period_start\"";
        Expr::cust(match (backend, self) {
            (DbBackend::Postgres, Self::Month) => {
                format!("to_char(date_trunc('month', {column}), 'YYYY-MM-DD')")
            }
            (DbBackend::Postgres, Self::Quarter) => {
                format!("to_char(date_trunc('quarter', {column}), 'YYYY-MM-DD')")
            }
            (DbBackend::Postgres, Self::Year) => {
                format!("to_char(date_trunc('year', {column}), 'YYYY-MM-DD')")
            }
            (_, Self::Month) => format!("strftime('%Y-%m-01', {column})"),
            (_, Self::Quarter) => format!(
                "printf('%04d-%02d-01', CAST(strftime('%Y', {column}) AS INTEGER), \
                 ((CAST(strftime('%m', {column}) AS INTEGER) - 1) / 3) * 3 + 1)"
            ),
            (_, Self::Year) => format!("strftime('%Y-01-01', {column})"),
        })
    }
}

/// What outcome series can be split by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeDimension {
    /// The themes of the measured initiative (an initiative with two themes counts in both;
    /// outcomes of whole programmes have none).
    Theme,
    /// The area the value was measured in, else the areas of the measured initiative.
    Area,
    /// The measured initiative.
    Initiative,
    /// The programme.
    Programme,
    /// The municipality.
    Municipality,
}

/// The most periods one series may have.
const MAX_PERIODS: usize = 600;

/// One period of a series.
#[derive(SimpleObject, Clone, Debug)]
pub struct OutcomePoint {
    /// The first day of the period.
    pub period_start: Date,
    /// The last day of the period.
    pub period_end: Date,
    /// How many outcomes fall in it.
    pub count: i64,
    /// Their sum (0 without outcomes).
    pub sum: Decimal,
    /// Their average (null without outcomes).
    pub average: Option<Decimal>,
    /// The smallest of them.
    pub minimum: Option<Decimal>,
    /// The largest of them.
    pub maximum: Option<Decimal>,
    /// The sum per 1,000 households of the group's area or municipality, so places of different
    /// size compare (with `perThousandHouseholds`, where the household count is known).
    pub sum_per_thousand_households: Option<Decimal>,
}

/// The values of one group (or of everything), in one unit, period by period.
#[derive(Debug, Clone)]
pub struct OutcomeSeries {
    key: Option<GroupKey>,
    unit: Unit,
    households: Option<i64>,
    points: Vec<OutcomePoint>,
}

/// The values of one group (or of everything), in one unit, period by period.
#[Object]
impl OutcomeSeries {
    /// The group; null when the series is not split.
    async fn key(&self) -> Option<&GroupKey> {
        self.key.as_ref()
    }

    /// The unit of every value of the series: series of different units are never mixed.
    async fn unit(&self) -> Unit {
        self.unit
    }

    /// The households the values are normalised by, for area and municipality groups.
    async fn households(&self) -> Option<i64> {
        self.households
    }

    /// Every period from `from` to `to`, empty ones included.
    async fn points(&self) -> &[OutcomePoint] {
        &self.points
    }

    /// The sum over all periods.
    async fn total(&self) -> Decimal {
        Decimal(
            self.points
                .iter()
                .map(|p| p.sum.0)
                .sum::<RustDecimal>()
                .normalize(),
        )
    }
}

/// Outcome series and how they were made.
#[derive(Clone, Debug)]
pub struct OutcomeSeriesResult {
    interval: Interval,
    series: Vec<OutcomeSeries>,
}

/// Outcome series and how they were made.
#[Object]
impl OutcomeSeriesResult {
    /// The length of each period.
    async fn interval(&self) -> Interval {
        self.interval
    }

    /// One series per group and unit, largest total first.
    async fn series(&self) -> &[OutcomeSeries] {
        &self.series
    }
}

fn decimal(micro: i64) -> Decimal {
    Decimal(RustDecimal::new(micro, VALUE_SCALE).normalize())
}

#[derive(Default)]
pub struct SeriesQuery;

#[Object]
impl SeriesQuery {
    /// Sums, averages, minimums, maximums and counts of indicators per month, quarter or year,
    /// optionally split by theme, area, initiative, programme or municipality. An outcome counts
    /// in the period that contains the first day it measures. Units are never mixed: each series
    /// has one.
    #[allow(clippy::too_many_arguments)]
    async fn outcome_series(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The indicators (one or more; series of different units stay apart).")]
        indicators: Vec<ID>,
        #[graphql(desc = "The first day of the range (its period is included whole).")] from: Date,
        #[graphql(desc = "The last day of the range.")] to: Date,
        #[graphql(desc = "The length of each period.")] interval: Interval,
        #[graphql(desc = "Split into one series per value of this dimension.")] group_by: Option<
            OutcomeDimension,
        >,
        #[graphql(desc = "Which outcomes to count (as for the `outcomes` list).")] filter: Option<
            OutcomeFilter,
        >,
        #[graphql(
            desc = "Also give sums per 1,000 households (with `groupBy: AREA` or `MUNICIPALITY`); default false."
        )]
        per_thousand_households: Option<bool>,
    ) -> async_graphql::Result<OutcomeSeriesResult> {
        crate::graphql::result_cache::cached(ctx, async move {
            let per_thousand_households = per_thousand_households.unwrap_or(false);
            if indicators.is_empty() || indicators.len() > 20 {
                return Err(
                    ApiError::bad_input("indicators", "Give between 1 and 20 indicators.").into(),
                );
            }
            let indicator_ids =
                GlobalId::decode_all("indicators", &indicators, NodeKind::Indicator)?;
            if to.0 < from.0 {
                return Err(ApiError::bad_input(
                    "to",
                    format!("`to` ({}) lies before `from` ({}).", to.0, from.0),
                )
                .into());
            }
            let first = interval.start_of(from.0);
            let mut periods: Vec<(NaiveDate, NaiveDate)> = Vec::new();
            let mut start = first;
            while start <= to.0 {
                let next = start
                    .checked_add_months(Months::new(interval.months()))
                    .ok_or_else(|| ApiError::bad_input("to", "The range is too long."))?;
                periods.push((start, next.pred_opt().unwrap_or(next)));
                if periods.len() > MAX_PERIODS {
                    return Err(ApiError::bad_input(
                    "interval",
                    format!(
                        "The range holds more than {MAX_PERIODS} periods: use a longer interval."
                    ),
                )
                .into());
                }
                start = next;
            }
            if per_thousand_households
                && !matches!(
                    group_by,
                    Some(OutcomeDimension::Area | OutcomeDimension::Municipality)
                )
            {
                return Err(ApiError::bad_input(
                    "perThousandHouseholds",
                    "Normalising per household needs `groupBy: AREA` or `MUNICIPALITY`.",
                )
                .into());
            }

            let db = &request(ctx).db;
            let backend = db.get_database_backend();
            let mut select =
                crate::graphql::pagination::ListFilter::select(&filter.unwrap_or_default(), crate::graphql::context::request(ctx))?;
            select.clear_selects();
            select
                .inner_join(
                    "indicator",
                    col(entity::indicator::Column::Id).equals((
                        entity::outcome::Entity,
                        entity::outcome::Column::IndicatorId,
                    )),
                )
                .and_where(col(entity::outcome::Column::IndicatorId).is_in(indicator_ids))
                .and_where(col(entity::outcome::Column::PeriodStart).gte(first))
                .and_where(col(entity::outcome::Column::PeriodStart).lte(to.0));
            let bucket = interval.bucket(backend);
            let group = match group_by {
                None => None,
                Some(OutcomeDimension::Initiative) => Some((
                    col(entity::outcome::Column::InitiativeId),
                    NodeKind::Initiative,
                )),
                Some(OutcomeDimension::Programme) => Some((
                    col(entity::outcome::Column::ProgrammeId),
                    NodeKind::Programme,
                )),
                Some(OutcomeDimension::Municipality) => Some((
                    col(entity::outcome::Column::MunicipalityId),
                    NodeKind::Municipality,
                )),
                Some(OutcomeDimension::Theme) => {
                    select.join(
                        JoinType::LeftJoin,
                        TableRef::Table(
                            "initiative_theme".into(),
                            Some(Alias::new("g_theme").into()),
                        ),
                        Expr::col(("g_theme", "initiative_id")).equals((
                            entity::outcome::Entity,
                            entity::outcome::Column::InitiativeId,
                        )),
                    );
                    Some((Expr::col(("g_theme", "theme_id")), NodeKind::Theme))
                }
                Some(OutcomeDimension::Area) => {
                    select.join(
                        JoinType::LeftJoin,
                        TableRef::Table(
                            "initiative_area".into(),
                            Some(Alias::new("g_area").into()),
                        ),
                        Expr::col(("g_area", "initiative_id"))
                            .equals((
                                entity::outcome::Entity,
                                entity::outcome::Column::InitiativeId,
                            ))
                            .and(col(entity::outcome::Column::AreaId).is_null()),
                    );
                    Some((
                        Expr::cust("COALESCE(\"outcome\".\"area_id\", \"g_area\".\"area_id\")"),
                        NodeKind::Area,
                    ))
                }
            };
            select
                .expr_as(bucket.clone(), "bucket")
                .expr_as(col(entity::indicator::Column::Unit), "unit");
            select.add_group_by([bucket, col(entity::indicator::Column::Unit)]);
            if let Some((expr, _)) = &group {
                select.expr_as(expr.clone(), "g");
                select.add_group_by([expr.clone()]);
            }
            select
                .expr_as(Expr::cust("COUNT(*)"), "n")
                .expr_as(
                    Expr::cust("CAST(SUM(\"outcome\".\"value_micro\") AS BIGINT)"),
                    "total",
                )
                .expr_as(Expr::cust("MIN(\"outcome\".\"value_micro\")"), "lowest")
                .expr_as(Expr::cust("MAX(\"outcome\".\"value_micro\")"), "highest");
            let rows = db.query_all(&select).await.map_err(ApiError::from)?;

            let mut cells: BTreeMap<(Option<i64>, String), HashMap<String, Cell>> = BTreeMap::new();
            for row in &rows {
                let bucket: String = row.try_get("", "bucket").map_err(ApiError::from)?;
                let unit: String = row.try_get("", "unit").map_err(ApiError::from)?;
                let g: Option<i64> = if group.is_some() {
                    row.try_get("", "g").map_err(ApiError::from)?
                } else {
                    None
                };
                let n: i64 = row.try_get("", "n").map_err(ApiError::from)?;
                let total: i64 = row.try_get("", "total").map_err(ApiError::from)?;
                let lowest: i64 = row.try_get("", "lowest").map_err(ApiError::from)?;
                let highest: i64 = row.try_get("", "highest").map_err(ApiError::from)?;
                cells.entry((g, unit)).or_default().insert(
                    bucket,
                    Cell {
                        n,
                        total,
                        lowest,
                        highest,
                    },
                );
            }
            let households = if per_thousand_households {
                households(
                    ctx,
                    group.as_ref().map(|(_, k)| *k),
                    cells.keys().filter_map(|(g, _)| *g).collect(),
                )
                .await?
            } else {
                HashMap::new()
            };
            let mut series: Vec<OutcomeSeries> = Vec::with_capacity(cells.len());
            for ((g, unit), buckets) in cells {
                let households = g
                    .and_then(|g| households.get(&g).copied())
                    .filter(|h| *h > 0);
                let points = periods
                    .iter()
                    .map(|(start, end)| {
                        let cell = buckets.get(&start.format("%Y-%m-%d").to_string()).copied();
                        let count = cell.map_or(0, |c| c.n);
                        let sum_decimal = decimal(cell.map_or(0, |c| c.total));
                        OutcomePoint {
                            period_start: Date(*start),
                            period_end: Date(*end),
                            count,
                            sum: sum_decimal,
                            average: (count > 0).then(|| {
                                Decimal(
                                    (sum_decimal.0 / RustDecimal::from(count))
                                        .round_dp(VALUE_SCALE)
                                        .normalize(),
                                )
                            }),
                            minimum: cell.map(|c| decimal(c.lowest)),
                            maximum: cell.map(|c| decimal(c.highest)),
                            sum_per_thousand_households: households.map(|h| {
                                Decimal(
                                    (sum_decimal.0 * RustDecimal::from(1000)
                                        / RustDecimal::from(h))
                                    .round_dp(VALUE_SCALE)
                                    .normalize(),
                                )
                            }),
                        }
                    })
                    .collect();
                let unit = entity::enums::Unit::ALL
                    .iter()
                    .find(|u| u.as_str() == unit)
                    .copied()
                    .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown unit {unit}")))?;
                series.push(OutcomeSeries {
                    key: group.as_ref().map(|(_, kind)| GroupKey {
                        dimension: match group_by {
                            Some(OutcomeDimension::Theme) => "THEME",
                            Some(OutcomeDimension::Area) => "AREA",
                            Some(OutcomeDimension::Initiative) => "INITIATIVE",
                            Some(OutcomeDimension::Programme) => "PROGRAMME",
                            _ => "MUNICIPALITY",
                        },
                        value: g
                            .map(|id| GroupValue::Record(*kind, id))
                            .unwrap_or(GroupValue::None),
                    }),
                    unit: unit.into(),
                    households: households.filter(|_| per_thousand_households),
                    points,
                });
            }
            series.sort_by(|a, b| {
                let total =
                    |s: &OutcomeSeries| s.points.iter().map(|p| p.sum.0).sum::<RustDecimal>();
                total(b).cmp(&total(a))
            });
            Ok(OutcomeSeriesResult { interval, series })
        })
        .await
    }
}

/// The household counts of areas or municipalities.
async fn households(
    ctx: &Context<'_>,
    kind: Option<NodeKind>,
    ids: Vec<i64>,
) -> Result<HashMap<i64, i64>, ApiError> {
    let table = match kind {
        Some(NodeKind::Area) => "area",
        Some(NodeKind::Municipality) => "municipality",
        _ => return Ok(HashMap::new()),
    };
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let select = Query::select()
        .column("id")
        .column("households")
        .from(table)
        .and_where(Expr::col("id").is_in(ids))
        .take();
    let mut out = HashMap::new();
    for row in request(ctx).db.query_all(&select).await? {
        let id: i64 = row.try_get("", "id")?;
        if let Some(households) = row.try_get::<Option<i64>>("", "households")? {
            out.insert(id, households);
        }
    }
    Ok(out)
}

/// One (series, bucket) aggregate as the database returns it, values in millionths.
#[derive(Clone, Copy)]
struct Cell {
    n: i64,
    total: i64,
    lowest: i64,
    highest: i64,
}
