//! Numbers for dashboards, computed in the database (`GROUP BY`, never by loading rows): counts
//! of initiatives and needs by one or two dimensions, the coverage of needs by active
//! initiatives, and outcome series over time. Each takes the same `filter` as the lists.
mod series;

use async_graphql::{Context, Enum, Object};
use sea_orm::sea_query::{Expr, ExprTrait, SelectStatement};
use sea_orm::{ConnectionTrait, QueryResult};

pub use series::{Interval, OutcomeDimension, SeriesQuery};

use crate::domain::initiative::InitiativeFilter;
use crate::domain::need::NeedFilter;
use crate::domain::node::{Node, load};
use crate::graphql::context::request;
use crate::graphql::loader::reference;
use crate::graphql::text::required_text;
use crate::kernel::error::ApiError;
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{col, column_of};

/// The value of one dimension for one group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupValue {
    /// An enumeration value, as the schema names it (`RUNNING`).
    Enum(String),
    /// A record.
    Record(NodeKind, i64),
    /// Records without a value for the dimension (an initiative without a theme).
    None,
}

/// One dimension's value for a group.
#[derive(Clone, Debug)]
pub struct GroupKey {
    pub dimension: &'static str,
    pub value: GroupValue,
}

/// One dimension's value for a group: an enumeration value or a record, or nothing for the
/// records that have no value.
#[Object]
impl GroupKey {
    /// The dimension, such as `STAGE` or `THEME`.
    async fn dimension(&self) -> &str {
        self.dimension
    }

    /// The value: the enumeration value (`RUNNING`) or the record's global ID; null for the
    /// records without a value.
    async fn value(&self) -> Option<String> {
        match &self.value {
            GroupValue::Enum(value) => Some(value.clone()),
            GroupValue::Record(kind, id) => Some(kind.id(*id).0),
            GroupValue::None => None,
        }
    }

    /// A label to show: the record's name in the requested locale, or the enumeration value.
    async fn label(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Locale of the label, such as `nl` or `en`; by default the request's `Accept-Language`."
        )]
        locale: Option<String>,
    ) -> async_graphql::Result<Option<String>> {
        use crate::{
            domain::area::Area, domain::initiative::Initiative, domain::municipality::Municipality,
            domain::programme::Programme, domain::theme::Theme,
        };
        let GroupValue::Record(kind, id) = &self.value else {
            return Ok(match &self.value {
                GroupValue::Enum(value) => Some(value.clone()),
                _ => None,
            });
        };
        let id = Some(*id);
        Ok(match *kind {
            NodeKind::Theme => match reference::<Theme>(ctx, id).await? {
                Some(t) => Some(required_text(ctx, &t.0.label, locale)?),
                None => None,
            },
            NodeKind::Area => match reference::<Area>(ctx, id).await? {
                Some(a) => Some(required_text(ctx, &a.0.name, locale)?),
                None => None,
            },
            NodeKind::Municipality => match reference::<Municipality>(ctx, id).await? {
                Some(m) => Some(required_text(ctx, &m.0.name, locale)?),
                None => None,
            },
            NodeKind::Programme => match reference::<Programme>(ctx, id).await? {
                Some(p) => Some(required_text(ctx, &p.0.name, locale)?),
                None => None,
            },
            NodeKind::Initiative => match reference::<Initiative>(ctx, id).await? {
                Some(i) => Some(required_text(ctx, &i.0.name, locale)?),
                None => None,
            },
            _ => None,
        })
    }

    /// The record, for dimensions whose values are records.
    async fn node(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        match &self.value {
            GroupValue::Record(kind, id) => load(ctx, "node", &kind.id(*id)).await,
            _ => Ok(None),
        }
    }
}

/// How a dimension is read from a row: an enumeration column, or a reference to records.
#[derive(Debug, Clone, Copy)]
enum ValueKind {
    Enum,
    Record(NodeKind),
}

/// A dimension as SQL: the expression grouped by, and the joins it needs.
struct Grouping {
    name: &'static str,
    expr: Expr,
    kind: ValueKind,
    joins: Vec<(&'static str, &'static str, Expr)>,
    /// Every value of an enumeration dimension, in the schema's order (for zero-filled groups
    /// and for ordering ties).
    values: &'static [&'static str],
    /// For a dimension over a tree of reference records (areas, themes): its table, whose
    /// every record is a group when empty groups are asked for.
    every: Option<&'static str>,
}

impl Grouping {
    fn column(
        name: &'static str,
        table: &'static str,
        column: &'static str,
        kind: ValueKind,
    ) -> Self {
        Self {
            name,
            expr: column_of(table, column),
            kind,
            joins: Vec::new(),
            values: &[],
            every: None,
        }
    }

    /// A many-valued dimension through a link table, aliased so two can join at once.
    fn linked(
        name: &'static str,
        link: &'static str,
        alias: &'static str,
        own: Expr,
        link_own: &'static str,
        value: &'static str,
        kind: ValueKind,
    ) -> Self {
        Self {
            name,
            expr: column_of(alias, value),
            kind,
            joins: vec![(link, alias, column_of(alias, link_own).equals_expr(own))],
            values: &[],
            every: None,
        }
    }

    /// An enumeration dimension, with all its values.
    fn enumeration<E: async_graphql::EnumType>(mut self) -> Self {
        self.values = enum_names::<E>();
        self
    }

    /// A nested dimension rolled up: a record counts in its area (theme) and in every one
    /// above it, through the tree's lineage view (aliased `alias`), joined on the expression
    /// that holds its value. Filters read the same view (`in_subtree`), so a group counts what
    /// the list filtered by its value holds.
    fn rolled_up(mut self, tree: Tree, alias: &'static str) -> Self {
        let member = self.expr.clone();
        let (view, member_column) = tree.lineage();
        self.joins.push((
            view,
            alias,
            column_of(alias, member_column).equals_expr(member),
        ));
        self.expr = column_of(alias, "ancestor_id");
        self.every = Some(tree.table());
        self
    }
}

/// A self-nested table a dimension's values come from.
#[derive(Debug, Clone, Copy)]
enum Tree {
    Area,
    Theme,
}

impl Tree {
    fn table(self) -> &'static str {
        match self {
            Self::Area => "area",
            Self::Theme => "theme",
        }
    }

    /// Its lineage view and the view's column of the member record.
    fn lineage(self) -> (&'static str, &'static str) {
        match self {
            Self::Area => ("area_lineage", "area_id"),
            Self::Theme => ("theme_lineage", "theme_id"),
        }
    }
}

/// The names of an enumeration's values, in the schema's order (computed once per type).
fn enum_names<E: async_graphql::EnumType>() -> &'static [&'static str] {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<TypeId, &'static [&'static str]>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
    names.entry(TypeId::of::<E>()).or_insert_with(|| {
        let list: Vec<&'static str> = E::items().iter().map(|item| item.name).collect();
        Box::leak(list.into_boxed_slice())
    })
}

trait EqualsExpr {
    fn equals_expr(self, other: Expr) -> Expr;
}

impl EqualsExpr for Expr {
    fn equals_expr(self, other: Expr) -> Expr {
        self.eq(other)
    }
}

fn read_value(row: &QueryResult, column: &str, kind: ValueKind) -> Result<GroupValue, ApiError> {
    Ok(match kind {
        ValueKind::Enum => row
            .try_get::<Option<String>>("", column)?
            .map(|v| GroupValue::Enum(v.to_ascii_uppercase()))
            .unwrap_or(GroupValue::None),
        ValueKind::Record(node) => row
            .try_get::<Option<i64>>("", column)?
            .map(|id| GroupValue::Record(node, id))
            .unwrap_or(GroupValue::None),
    })
}

/// Turns a filtered `SELECT … FROM table` into a `GROUP BY` over the dimensions; the caller adds
/// the aggregate columns.
fn grouped(mut select: SelectStatement, groupings: &[Grouping]) -> SelectStatement {
    use sea_orm::sea_query::{Alias, JoinType, TableRef};
    select.clear_selects();
    for (i, grouping) in groupings.iter().enumerate() {
        for (table, alias, on) in &grouping.joins {
            select.join(
                JoinType::LeftJoin,
                TableRef::Table((*table).into(), Some(Alias::new(*alias).into())),
                on.clone(),
            );
        }
        select.expr_as(grouping.expr.clone(), format!("g{i}"));
        select.add_group_by([grouping.expr.clone()]);
    }
    select
}

fn check_dimensions<T: PartialEq>(dimensions: &[T]) -> Result<(), ApiError> {
    if dimensions.len() > 2 {
        return Err(ApiError::bad_input(
            "groupBy",
            "Group by at most two dimensions at once.",
        ));
    }
    if dimensions.len() == 2 && dimensions[0] == dimensions[1] {
        return Err(ApiError::bad_input(
            "groupBy",
            "Group by two different dimensions.",
        ));
    }
    Ok(())
}

/// What initiatives can be counted by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitiativeDimension {
    /// How far they have come.
    Stage,
    /// Their themes (an initiative with two themes counts in both; sub-themes roll up into
    /// the themes above them, as the `themes` filter selects them).
    Theme,
    /// The areas they work in (an initiative in two areas counts in both; sub-areas roll up
    /// unless `areaGrouping: OWN_AREA`).
    Area,
    /// How they pay their way.
    BusinessModel,
    /// What they cost residents.
    Affordability,
    /// Who started them.
    InitiatorKind,
    /// Their municipality.
    Municipality,
    /// Their programme.
    Programme,
}

impl InitiativeDimension {
    fn grouping(self, position: usize, areas: AreaGrouping) -> Grouping {
        use crate::domain::initiative::{
            Affordability, BusinessModel, InitiativeStage, InitiatorKind,
        };
        let own = col(entity::initiative::Column::Id);
        let alias = |base: &'static str| -> &'static str {
            match (base, position) {
                ("theme", 0) => "g0_theme",
                ("theme", _) => "g1_theme",
                ("lineage", 0) => "g0_lineage",
                ("lineage", _) => "g1_lineage",
                (_, 0) => "g0_area",
                _ => "g1_area",
            }
        };
        match self {
            Self::Stage => Grouping::column("STAGE", "initiative", "stage", ValueKind::Enum)
                .enumeration::<InitiativeStage>(),
            Self::BusinessModel => Grouping::column(
                "BUSINESS_MODEL",
                "initiative",
                "business_model",
                ValueKind::Enum,
            )
            .enumeration::<BusinessModel>(),
            Self::Affordability => Grouping::column(
                "AFFORDABILITY",
                "initiative",
                "affordability",
                ValueKind::Enum,
            )
            .enumeration::<Affordability>(),
            Self::InitiatorKind => Grouping::column(
                "INITIATOR_KIND",
                "initiative",
                "initiator_kind",
                ValueKind::Enum,
            )
            .enumeration::<InitiatorKind>(),
            Self::Municipality => Grouping::column(
                "MUNICIPALITY",
                "initiative",
                "municipality_id",
                ValueKind::Record(NodeKind::Municipality),
            ),
            Self::Programme => Grouping::column(
                "PROGRAMME",
                "initiative",
                "programme_id",
                ValueKind::Record(NodeKind::Programme),
            ),
            Self::Theme => Grouping::linked(
                "THEME",
                "initiative_theme",
                alias("theme"),
                own,
                "initiative_id",
                "theme_id",
                ValueKind::Record(NodeKind::Theme),
            )
            .rolled_up(Tree::Theme, alias("lineage")),
            Self::Area => {
                let grouping = Grouping::linked(
                    "AREA",
                    "initiative_area",
                    alias("area"),
                    own,
                    "initiative_id",
                    "area_id",
                    ValueKind::Record(NodeKind::Area),
                );
                match areas {
                    AreaGrouping::WithSubAreas => grouping.rolled_up(Tree::Area, alias("lineage")),
                    AreaGrouping::OwnArea => grouping,
                }
            }
        }
    }
}

/// How records are counted by area.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AreaGrouping {
    /// A group counts the records of its area and of every area nested below it (street
    /// clusters in a neighbourhood), as filtering by that area selects them: a record counts in
    /// its own area and in each area above it, so the groups of nested areas overlap.
    #[default]
    WithSubAreas,
    /// A group counts only the records recorded on exactly that area.
    OwnArea,
}

/// Initiatives counted by up to two dimensions.
#[derive(Clone, Debug)]
pub struct InitiativeStats {
    total: i64,
    groups: Vec<InitiativeGroup>,
}

/// Initiatives counted by up to two dimensions.
#[Object]
impl InitiativeStats {
    /// How many initiatives the filter selects.
    async fn total(&self) -> i64 {
        self.total
    }

    /// One group per combination of dimension values, largest first (ties, and empty groups
    /// when asked for, in the enumeration's order).
    async fn groups(&self) -> &[InitiativeGroup] {
        &self.groups
    }
}

/// The initiatives sharing the same values of the dimensions.
#[derive(Debug, Clone)]
pub struct InitiativeGroup {
    keys: Vec<GroupKey>,
    count: i64,
}

/// The initiatives sharing the same values of the dimensions.
#[Object]
impl InitiativeGroup {
    /// The values, one per dimension asked for, in the order asked.
    async fn keys(&self) -> &[GroupKey] {
        &self.keys
    }

    /// How many initiatives have them.
    async fn count(&self) -> i64 {
        self.count
    }
}

/// What needs can be counted by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeedDimension {
    /// Their theme (needs-mapping domain; sub-themes roll up into the themes above them, as the
    /// `themes` filter selects them).
    Theme,
    /// Their area (with sub-areas rolled up, unless `areaGrouping: OWN_AREA`).
    Area,
    /// Their target groups (a need for two groups counts in both).
    TargetGroup,
    /// Where they stand.
    Status,
    /// How they were heard.
    Source,
    /// The programme that mapped them.
    Programme,
    /// Their municipality.
    Municipality,
}

impl NeedDimension {
    fn grouping(self, position: usize, areas: AreaGrouping) -> Grouping {
        use crate::domain::need::{NeedSource, NeedStatus, TargetGroup};
        let lineage = if position == 0 {
            "g0_lineage"
        } else {
            "g1_lineage"
        };
        match self {
            Self::Theme => Grouping::column(
                "THEME",
                "need",
                "theme_id",
                ValueKind::Record(NodeKind::Theme),
            )
            .rolled_up(Tree::Theme, lineage),
            Self::Area => {
                let grouping =
                    Grouping::column("AREA", "need", "area_id", ValueKind::Record(NodeKind::Area));
                match areas {
                    AreaGrouping::WithSubAreas => grouping.rolled_up(Tree::Area, lineage),
                    AreaGrouping::OwnArea => grouping,
                }
            }
            Self::Status => Grouping::column("STATUS", "need", "status", ValueKind::Enum)
                .enumeration::<NeedStatus>(),
            Self::Source => Grouping::column("SOURCE", "need", "source", ValueKind::Enum)
                .enumeration::<NeedSource>(),
            Self::Programme => Grouping::column(
                "PROGRAMME",
                "need",
                "programme_id",
                ValueKind::Record(NodeKind::Programme),
            ),
            Self::Municipality => Grouping::column(
                "MUNICIPALITY",
                "need",
                "municipality_id",
                ValueKind::Record(NodeKind::Municipality),
            ),
            Self::TargetGroup => Grouping::linked(
                "TARGET_GROUP",
                "need_target_group",
                if position == 0 {
                    "g0_group"
                } else {
                    "g1_group"
                },
                col(entity::need::Column::Id),
                "need_id",
                "target_group",
                ValueKind::Enum,
            )
            .enumeration::<TargetGroup>(),
        }
    }
}

/// Needs counted by up to two dimensions, with how many of them active initiatives answer.
#[derive(Clone, Debug)]
pub struct NeedStats {
    total: i64,
    answered: i64,
    groups: Vec<NeedGroup>,
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Needs counted by up to two dimensions, with how many of them active initiatives answer.
#[Object]
impl NeedStats {
    /// How many needs the filter selects.
    async fn total(&self) -> i64 {
        self.total
    }

    /// How many of them an active initiative (PILOT, RUNNING or SELF_SUSTAINING) answers.
    async fn answered(&self) -> i64 {
        self.answered
    }

    /// The share of needs answered, from 0 to 1 (null without needs).
    async fn answered_share(&self) -> Option<f64> {
        share(self.answered, self.total)
    }

    /// One group per combination of dimension values, largest first (ties, and empty groups
    /// when asked for, in the enumeration's order).
    async fn groups(&self) -> &[NeedGroup] {
        &self.groups
    }
}

/// The needs sharing the same values of the dimensions.
#[derive(Debug, Clone)]
pub struct NeedGroup {
    keys: Vec<GroupKey>,
    count: i64,
    answered: i64,
}

/// The needs sharing the same values of the dimensions.
#[Object]
impl NeedGroup {
    /// The values, one per dimension asked for, in the order asked.
    async fn keys(&self) -> &[GroupKey] {
        &self.keys
    }

    /// How many needs have them.
    async fn count(&self) -> i64 {
        self.count
    }

    /// How many of those an active initiative answers.
    async fn answered(&self) -> i64 {
        self.answered
    }

    /// How many no active initiative answers: the gaps.
    async fn unanswered(&self) -> i64 {
        self.count - self.answered
    }

    /// The share answered, from 0 to 1.
    async fn answered_share(&self) -> Option<f64> {
        share(self.answered, self.count)
    }
}

/// Runs a grouped count and reads the groups, largest first (ties in the enumeration's order,
/// then by record). With `empty`, the combinations of enumeration values that no record has
/// are there too, with zero counts, so a chart's columns stay put.
#[tracing::instrument(level = "debug", skip_all, fields(groupings = groupings.len(), empty = empty))]
async fn run_groups(
    ctx: &Context<'_>,
    select: &SelectStatement,
    groupings: &[Grouping],
    count: Expr,
    answered: Option<Expr>,
    empty: bool,
) -> Result<Vec<(Vec<GroupKey>, i64, i64)>, ApiError> {
    let mut select = grouped(select.clone(), groupings);
    select.expr_as(count, "n");
    if let Some(answered) = answered {
        select.expr_as(answered, "answered");
    }
    let rows = request(ctx).db.query_all(&select).await?;
    let mut groups = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut keys = Vec::with_capacity(groupings.len());
        for (i, grouping) in groupings.iter().enumerate() {
            keys.push(GroupKey {
                dimension: grouping.name,
                value: read_value(row, &format!("g{i}"), grouping.kind)?,
            });
        }
        let n: i64 = row.try_get("", "n")?;
        let answered: i64 = row
            .try_get::<Option<i64>>("", "answered")
            .ok()
            .flatten()
            .unwrap_or(0);
        groups.push((keys, n, answered));
    }
    if empty {
        let mut every = Vec::with_capacity(groupings.len());
        for grouping in groupings {
            every.push(match (grouping.every, grouping.kind) {
                (Some(table), ValueKind::Record(kind)) => every_record(ctx, table, kind).await?,
                _ => Vec::new(),
            });
        }
        zero_fill(&mut groups, groupings, &every);
    }
    let rank = |keys: &[GroupKey]| -> Vec<(usize, GroupValue)> {
        keys.iter()
            .zip(groupings)
            .map(|(key, grouping)| {
                let position = match &key.value {
                    GroupValue::Enum(v) => grouping
                        .values
                        .iter()
                        .position(|known| known == v)
                        .unwrap_or(usize::MAX),
                    _ => 0,
                };
                (position, key.value.clone())
            })
            .collect()
    };
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| rank(&a.0).cmp(&rank(&b.0))));
    Ok(groups)
}

/// The current (not archived) records of a reference table, in their order of creation: the
/// groups an area or theme dimension has even where nothing is counted yet.
async fn every_record(
    ctx: &Context<'_>,
    table: &'static str,
    kind: NodeKind,
) -> Result<Vec<GroupValue>, ApiError> {
    let select = sea_orm::sea_query::Query::select()
        .expr_as(column_of(table, "id"), "id")
        .from(table)
        .and_where(column_of(table, "archived_at").is_null())
        .order_by((table, "id"), sea_orm::sea_query::Order::Asc)
        .take();
    let rows = request(ctx).db.query_all(&select).await?;
    rows.iter()
        .map(|row| Ok(GroupValue::Record(kind, row.try_get("", "id")?)))
        .collect()
}

/// Adds a zero-count group for every combination of values no record has: every value of an
/// enumeration dimension, every current record of an area or theme dimension (`every`), and
/// the values found for any other record dimension.
fn zero_fill(
    groups: &mut Vec<(Vec<GroupKey>, i64, i64)>,
    groupings: &[Grouping],
    every: &[Vec<GroupValue>],
) {
    let mut axes: Vec<Vec<GroupValue>> = Vec::with_capacity(groupings.len());
    for (i, grouping) in groupings.iter().enumerate() {
        let mut values: Vec<GroupValue> = grouping
            .values
            .iter()
            .map(|v| GroupValue::Enum((*v).to_owned()))
            .chain(every.get(i).into_iter().flatten().cloned())
            .collect();
        for (keys, _, _) in groups.iter() {
            if !values.contains(&keys[i].value) {
                values.push(keys[i].value.clone());
            }
        }
        axes.push(values);
    }
    let mut combinations: Vec<Vec<GroupValue>> = vec![Vec::new()];
    for axis in &axes {
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                axis.iter().map(move |value| {
                    let mut next = prefix.clone();
                    next.push(value.clone());
                    next
                })
            })
            .collect();
    }
    let present: std::collections::HashSet<Vec<GroupValue>> = groups
        .iter()
        .map(|(keys, _, _)| keys.iter().map(|k| k.value.clone()).collect())
        .collect();
    for combination in combinations {
        if present.contains(&combination) {
            continue;
        }
        let keys = combination
            .into_iter()
            .zip(groupings)
            .map(|(value, grouping)| GroupKey {
                dimension: grouping.name,
                value,
            })
            .collect();
        groups.push((keys, 0, 0));
    }
}

/// A count as one row.
#[tracing::instrument(level = "debug", skip_all)]
async fn scalar(
    ctx: &Context<'_>,
    select: &SelectStatement,
    exprs: Vec<(Expr, &'static str)>,
) -> Result<Vec<i64>, ApiError> {
    let mut select = select.clone();
    select.clear_selects();
    for (expr, alias) in &exprs {
        select.expr_as(expr.clone(), *alias);
    }
    let row = request(ctx).db.query_one(&select).await?;
    let mut out = Vec::with_capacity(exprs.len());
    for (_, alias) in exprs {
        out.push(match &row {
            Some(row) => row.try_get::<Option<i64>>("", alias)?.unwrap_or(0),
            None => 0,
        });
    }
    Ok(out)
}

fn count_distinct(table: &'static str) -> Expr {
    Expr::cust(format!("COUNT(DISTINCT \"{table}\".\"id\")"))
}

fn answered_count() -> Expr {
    use sea_orm::sea_query::CaseStatement;
    let case = CaseStatement::new()
        .case(
            crate::domain::need::answered_condition(),
            col(entity::need::Column::Id),
        )
        .finally(Expr::val(Option::<i64>::None));
    let case: Expr = case.into();
    case.count_distinct()
}

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// Initiatives counted by one or two dimensions, such as business model × stage: how many
    /// subsidy-dependent initiatives stopped, how many became self-sustaining.
    async fn initiative_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which initiatives to count (as for the `initiatives` list).")]
        filter: Option<InitiativeFilter>,
        #[graphql(desc = "One or two dimensions to count by; none for the total only.")]
        group_by: Option<Vec<InitiativeDimension>>,
        #[graphql(
            desc = "How the AREA dimension counts: with sub-areas rolled up (as the `areas` filter selects) or only the area recorded.",
            default
        )]
        area_grouping: AreaGrouping,
        #[graphql(
            desc = "Also list the combinations of values that no initiative has, with a count of 0, so a chart's columns stay put: every value of an enumeration (stage, business model…) and every current area and theme.",
            default = false
        )]
        include_empty_groups: bool,
    ) -> async_graphql::Result<InitiativeStats> {
        crate::graphql::result_cache::cached(ctx, async move {
            let dimensions = group_by.unwrap_or_default();
            check_dimensions(&dimensions)?;
            let select =
                crate::graphql::pagination::ListFilter::select(&filter.unwrap_or_default(), crate::graphql::context::request(ctx))?;
            let total = scalar(ctx, &select, vec![(count_distinct("initiative"), "n")]).await?[0];
            let groupings: Vec<Grouping> = dimensions
                .iter()
                .enumerate()
                .map(|(i, d)| d.grouping(i, area_grouping))
                .collect();
            let groups = if groupings.is_empty() {
                Vec::new()
            } else {
                run_groups(
                    ctx,
                    &select,
                    &groupings,
                    count_distinct("initiative"),
                    None,
                    include_empty_groups,
                )
                .await?
                .into_iter()
                .map(|(keys, count, _)| InitiativeGroup { keys, count })
                .collect()
            };
            Ok(InitiativeStats { total, groups })
        })
        .await
    }

    /// Needs counted by one or two dimensions, with how many of them active initiatives answer:
    /// the coverage of the mapped needs (`unanswered` shows the gaps per theme or area).
    async fn need_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which needs to count (as for the `needs` list).")] filter: Option<
            NeedFilter,
        >,
        #[graphql(desc = "One or two dimensions to count by; none for the totals only.")] group_by: Option<Vec<NeedDimension>>,
        #[graphql(
            desc = "How the AREA dimension counts: with sub-areas rolled up (as the `areas` filter selects) or only the area recorded.",
            default
        )]
        area_grouping: AreaGrouping,
        #[graphql(
            desc = "Also list the combinations of values that no need has, with zero counts, so a chart's columns stay put: every value of an enumeration (status, source, target group) and every current area and theme.",
            default = false
        )]
        include_empty_groups: bool,
    ) -> async_graphql::Result<NeedStats> {
        crate::graphql::result_cache::cached(ctx, async move {
            let dimensions = group_by.unwrap_or_default();
            check_dimensions(&dimensions)?;
            let select =
                crate::graphql::pagination::ListFilter::select(&filter.unwrap_or_default(), crate::graphql::context::request(ctx))?;
            let totals = scalar(
                ctx,
                &select,
                vec![
                    (count_distinct("need"), "n"),
                    (answered_count(), "answered"),
                ],
            )
            .await?;
            let groupings: Vec<Grouping> = dimensions
                .iter()
                .enumerate()
                .map(|(i, d)| d.grouping(i, area_grouping))
                .collect();
            let groups = if groupings.is_empty() {
                Vec::new()
            } else {
                run_groups(
                    ctx,
                    &select,
                    &groupings,
                    count_distinct("need"),
                    Some(answered_count()),
                    include_empty_groups,
                )
                .await?
                .into_iter()
                .map(|(keys, count, answered)| NeedGroup {
                    keys,
                    count,
                    answered,
                })
                .collect()
            };
            Ok(NeedStats {
                total: totals[0],
                answered: totals[1],
                groups,
            })
        })
        .await
    }
}
