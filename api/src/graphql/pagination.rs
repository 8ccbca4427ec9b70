//! Relay cursor connections over keyset pagination.
//!
//! Every list is ordered by a sort key and then by `id`, so the order is total and stable; a
//! cursor holds the sort value and the ID of a row, and the next page is the rows after it
//! (`WHERE (key, id) > (…)`), which an index on `(key, id)` serves without an OFFSET. NULL sort
//! values always come last. Nested lists page the same way per parent, with a window function,
//! so one statement loads the pages of all parents at once.
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Object, OutputType, SimpleObject, TypeName};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{
    Expr, ExprTrait, Order, OverStatement, SelectStatement, Value, WindowStatement,
};
use sea_orm::{ConnectionTrait, FromQueryResult, QueryResult, Statement};
use serde_json::json;

use crate::graphql::context::{loader, request};
use crate::graphql::loader::{ChildCount, ChildPage, Only, Rel};
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::record::Table;

/// Page size when a list is asked for without `first` or `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page a list returns; larger requests are refused.
pub const MAX_PAGE_SIZE: u64 = 100;

/// How the sort value of a key is typed, to read it back from a row and from a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKind {
    Int,
    Text,
    Date,
    DateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortValue {
    Null,
    Int(i64),
    Text(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl SortValue {
    fn to_sql(&self) -> Value {
        match self {
            Self::Null => Value::String(None),
            Self::Int(v) => (*v).into(),
            Self::Text(v) => v.clone().into(),
            Self::Date(v) => (*v).into(),
            Self::DateTime(v) => (*v).into(),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Int(v) => json!(v),
            Self::Text(v) => json!(v),
            Self::Date(v) => json!(v.to_string()),
            Self::DateTime(v) => json!(v.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        }
    }

    fn from_json(kind: SortKind, value: &serde_json::Value) -> Option<Self> {
        if value.is_null() {
            return Some(Self::Null);
        }
        Some(match kind {
            SortKind::Int => Self::Int(value.as_i64()?),
            // No stored text holds NUL (PostgreSQL refuses it): such a cursor is forged.
            SortKind::Text => Self::Text(value.as_str().filter(|t| !t.contains('\0'))?.to_owned()),
            SortKind::Date => Self::Date(value.as_str()?.parse().ok()?),
            SortKind::DateTime => Self::DateTime(
                DateTime::parse_from_rfc3339(value.as_str()?)
                    .ok()?
                    .with_timezone(&Utc),
            ),
        })
    }

    fn from_row(kind: SortKind, row: &QueryResult) -> Result<Self, sea_orm::DbErr> {
        const COLUMN: &str = "__sort";
        Ok(match kind {
            SortKind::Int => row
                .try_get::<Option<i64>>("", COLUMN)?
                .map_or(Self::Null, Self::Int),
            SortKind::Text => row
                .try_get::<Option<String>>("", COLUMN)?
                .map_or(Self::Null, Self::Text),
            SortKind::Date => row
                .try_get::<Option<NaiveDate>>("", COLUMN)?
                .map_or(Self::Null, Self::Date),
            SortKind::DateTime => row
                .try_get::<Option<DateTime<Utc>>>("", COLUMN)?
                .map_or(Self::Null, Self::DateTime),
        })
    }
}

/// What a list is ordered by: an expression, then the row ID in the same direction.
#[derive(Debug, Clone)]
pub struct SortKey {
    /// Names the ordering inside cursors, so a cursor is not used with another ordering.
    pub name: &'static str,
    pub expr: Expr,
    pub kind: SortKind,
    pub nullable: bool,
    pub descending: bool,
    pub id: Expr,
}

impl SortKey {
    pub fn new(name: &'static str, expr: Expr, kind: SortKind, id: Expr) -> Self {
        Self {
            name,
            expr,
            kind,
            nullable: false,
            descending: false,
            id,
        }
    }

    /// The sort expression can be NULL (such rows come last in either direction).
    pub fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    pub fn descending(mut self, descending: bool) -> Self {
        self.descending = descending;
        self
    }

    fn order_terms(&self, reverse: bool) -> Vec<(Expr, Order)> {
        let order = |descending: bool| {
            if descending != reverse {
                Order::Desc
            } else {
                Order::Asc
            }
        };
        let mut terms = Vec::with_capacity(3);
        if self.nullable {
            terms.push((self.expr.clone().is_null(), order(false)));
        }
        terms.push((self.expr.clone(), order(self.descending)));
        terms.push((self.id.clone(), order(self.descending)));
        terms
    }

    /// Rows strictly after (`after = true`) or before the cursor, in the list's order.
    fn beyond(&self, cursor: &CursorKey, after: bool) -> Expr {
        let greater = after != self.descending;
        let cmp = |a: Expr, b: Expr| if greater { a.gt(b) } else { a.lt(b) };
        let id = Expr::val(cursor.id);
        if !self.nullable {
            return cmp(
                Expr::tuple([self.expr.clone(), self.id.clone()]),
                Expr::tuple([Expr::val(cursor.value.to_sql()), id]),
            );
        }
        match (&cursor.value, after) {
            (SortValue::Null, true) => self.expr.clone().is_null().and(cmp(self.id.clone(), id)),
            (SortValue::Null, false) => self.expr.clone().is_not_null().or(self
                .expr
                .clone()
                .is_null()
                .and(cmp(self.id.clone(), id))),
            (value, _) => {
                let value = Expr::val(value.to_sql());
                let within = cmp(self.expr.clone(), value.clone()).or(self
                    .expr
                    .clone()
                    .eq(value)
                    .and(cmp(self.id.clone(), id)));
                if after {
                    within.or(self.expr.clone().is_null())
                } else {
                    within
                }
            }
        }
    }
}

/// The position of a row in an ordering.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CursorKey {
    pub value: SortValue,
    pub id: i64,
}

impl CursorKey {
    fn encode(&self, key: &SortKey) -> String {
        URL_SAFE_NO_PAD.encode(json!([key.name, self.value.to_json(), self.id]).to_string())
    }

    fn decode(field: &str, cursor: &str, key: &SortKey) -> ApiResult<Self> {
        let invalid = || {
            ApiError::bad_input(
                field,
                format!("`{cursor}` is not a cursor of this list: use a cursor the API returned."),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let parts = parsed
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or_else(invalid)?;
        let name = parts[0].as_str().ok_or_else(invalid)?;
        if name != key.name {
            return Err(ApiError::bad_input(
                field,
                format!(
                    "This cursor comes from a list ordered by {name}, but this list is ordered by {}.",
                    key.name
                ),
            ));
        }
        let value = SortValue::from_json(key.kind, &parts[1]).ok_or_else(invalid)?;
        let id = parts[2].as_i64().ok_or_else(invalid)?;
        Ok(Self { value, id })
    }
}

/// The Relay arguments of a list, as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// A validated window over an ordering.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub limit: u64,
    /// `last` was asked for: read from the end backwards.
    pub backward: bool,
    pub after: Option<CursorKey>,
    pub before: Option<CursorKey>,
}

impl PageRequest {
    pub fn new(args: &PageArgs, key: &SortKey) -> ApiResult<Self> {
        if args.first.is_some() && args.last.is_some() {
            return Err(ApiError::bad_input(
                "last",
                "Pass either `first` or `last`, not both.",
            ));
        }
        let size = |field: &str, value: i32| -> ApiResult<u64> {
            match u64::try_from(value) {
                Ok(v) if v <= MAX_PAGE_SIZE => Ok(v),
                _ => Err(ApiError::bad_input(
                    field,
                    format!(
                        "`{field}` is {value}, but it must be between 0 and {MAX_PAGE_SIZE}: \
                         page through longer lists with cursors."
                    ),
                )),
            }
        };
        let (limit, backward) = match (args.first, args.last) {
            (Some(first), _) => (size("first", first)?, false),
            (None, Some(last)) => (size("last", last)?, true),
            // Only `before` given: the page just before it, as a client paging back expects.
            (None, None) => (
                DEFAULT_PAGE_SIZE,
                args.before.is_some() && args.after.is_none(),
            ),
        };
        Ok(Self {
            limit,
            backward,
            after: args
                .after
                .as_deref()
                .map(|c| CursorKey::decode("after", c, key))
                .transpose()?,
            before: args
                .before
                .as_deref()
                .map(|c| CursorKey::decode("before", c, key))
                .transpose()?,
        })
    }

    fn apply(&self, select: &mut SelectStatement, key: &SortKey) {
        if let Some(after) = &self.after {
            select.and_where(key.beyond(after, true));
        }
        if let Some(before) = &self.before {
            select.and_where(key.beyond(before, false));
        }
        select.expr_as(key.expr.clone(), "__sort");
    }
}

/// One page of rows with their cursors.
#[derive(Debug, Clone)]
pub struct Page<M> {
    pub rows: Vec<(M, String)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<M> Page<M> {
    fn empty(request: &PageRequest) -> Self {
        Self {
            rows: Vec::new(),
            has_next_page: request.before.is_some(),
            has_previous_page: request.after.is_some(),
        }
    }

    /// Turns rows fetched in SQL order (`limit + 1` of them at most) into a page.
    fn from_fetched(mut rows: Vec<(M, String)>, request: &PageRequest) -> Self {
        let more = rows.len() as u64 > request.limit;
        rows.truncate(request.limit as usize);
        if request.backward {
            rows.reverse();
            Self {
                rows,
                has_next_page: request.before.is_some(),
                has_previous_page: more,
            }
        } else {
            Self {
                rows,
                has_next_page: more,
                has_previous_page: request.after.is_some(),
            }
        }
    }
}

fn parse_row<E: Table>(row: &QueryResult, key: &SortKey) -> ApiResult<(E::Model, String)>
where
    E::Model: FromQueryResult,
{
    let model = E::Model::from_query_result(row, "")?;
    let cursor = CursorKey {
        value: SortValue::from_row(key.kind, row)?,
        id: E::id(&model),
    };
    Ok((model, cursor.encode(key)))
}

/// One page of a top-level list. `select` holds the list's filters.
pub async fn fetch_page<E: Table>(
    db: &impl ConnectionTrait,
    mut select: SelectStatement,
    key: &SortKey,
    request: &PageRequest,
) -> ApiResult<Page<E::Model>>
where
    E::Model: FromQueryResult,
{
    if request.limit == 0 {
        return Ok(Page::empty(request));
    }
    crate::kernel::record::lean_columns::<E>(&mut select);
    request.apply(&mut select, key);
    for (expr, order) in key.order_terms(request.backward) {
        select.order_by_expr(expr, order);
    }
    select.limit(request.limit + 1);
    let rows = db.query_all(&select).await?;
    let rows = rows
        .iter()
        .map(|row| parse_row::<E>(row, key))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Page::from_fetched(rows, request))
}

/// The pages of several parents' nested lists in one statement: rows are numbered per parent
/// (`ROW_NUMBER() OVER (PARTITION BY parent ORDER BY …)`) and each parent keeps `limit + 1`.
pub async fn fetch_partitioned<E: Table>(
    db: &impl ConnectionTrait,
    mut select: SelectStatement,
    parent: Expr,
    parents: &[i64],
    key: &SortKey,
    request: &PageRequest,
) -> ApiResult<HashMap<i64, Page<E::Model>>>
where
    E::Model: FromQueryResult,
{
    let mut pages: HashMap<i64, Page<E::Model>> = HashMap::new();
    if request.limit == 0 || parents.is_empty() {
        for id in parents {
            pages.insert(*id, Page::empty(request));
        }
        return Ok(pages);
    }
    crate::kernel::record::lean_columns::<E>(&mut select);
    select.and_where(crate::kernel::record::in_ids(
        db.get_database_backend(),
        parent.clone(),
        parents.iter().copied(),
    ));
    request.apply(&mut select, key);
    let mut window = WindowStatement::new();
    window.add_partition_by(parent.clone());
    for (expr, order) in key.order_terms(request.backward) {
        window.order_by_expr(expr, order);
    }
    select
        .expr_as(parent, "__parent")
        .expr_window_as(Expr::cust("ROW_NUMBER()"), window, "__rn");
    let backend = db.get_database_backend();
    let inner = backend.build(&select);
    let statement = Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT * FROM ({}) AS page WHERE page.__rn <= {} ORDER BY page.__parent, page.__rn",
            inner.sql,
            request.limit + 1
        ),
        inner.values.map(|v| v.0).unwrap_or_default(),
    );
    let mut fetched: HashMap<i64, Vec<(E::Model, String)>> = HashMap::new();
    for row in db.query_all_raw(statement).await? {
        let parent: i64 = row.try_get("", "__parent")?;
        fetched
            .entry(parent)
            .or_default()
            .push(parse_row::<E>(&row, key)?);
    }
    for id in parents {
        let rows = fetched.remove(id).unwrap_or_default();
        pages.insert(*id, Page::from_fetched(rows, request));
    }
    Ok(pages)
}

/// `SELECT COUNT(*)` over a list's filtered query.
pub async fn count(db: &impl ConnectionTrait, select: &SelectStatement) -> ApiResult<i64> {
    let mut select = select.clone();
    select.clear_order_by();
    let backend = db.get_database_backend();
    let inner = backend.build(&select);
    let statement = Statement::from_sql_and_values(
        backend,
        format!("SELECT COUNT(*) AS n FROM ({}) AS counted", inner.sql),
        inner.values.map(|v| v.0).unwrap_or_default(),
    );
    let row = db.query_one_raw(statement).await?;
    Ok(match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    })
}

/// A GraphQL type that wraps one row of a table.
pub trait Wraps: OutputType + Send + Sync + 'static {
    type Entity: Table;
    fn wrap(model: <Self::Entity as sea_orm::EntityTrait>::Model) -> Self;
}

/// How a connection's `totalCount` is found, only when a client asks for it.
pub enum TotalCount {
    /// Count the rows of a top-level list's filtered query.
    Query(Box<SelectStatement>),
    /// Count the visible children of one parent (batched across parents).
    Child {
        rel: Rel,
        parent: i64,
        only: Option<Only>,
    },
}

/// A page of a list, with Relay cursors.
pub struct Connection<T> {
    edges: Vec<Edge<T>>,
    page_info: PageInfo,
    total: TotalCount,
}

impl<T: Wraps> Connection<T> {
    pub fn new(page: Page<<T::Entity as sea_orm::EntityTrait>::Model>, total: TotalCount) -> Self {
        let edges: Vec<Edge<T>> = page
            .rows
            .into_iter()
            .map(|(model, cursor)| Edge {
                cursor,
                node: T::wrap(model),
            })
            .collect();
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        };
        Self {
            edges,
            page_info,
            total,
        }
    }
}

impl<T: Wraps> TypeName for Connection<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", <T as OutputType>::type_name()).into()
    }
}

/// A page of records: the records (`nodes`, or `edges` with their cursors), how to get the
/// pages around it (`pageInfo`) and how many records the whole list holds (`totalCount`).
#[Object(name_type)]
impl<T: Wraps> Connection<T> {
    /// The number of records in the whole list (all pages), after filters.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        match &self.total {
            TotalCount::Query(select) => Ok(count(&request(ctx).db, select).await?),
            TotalCount::Child { rel, parent, only } => Ok(loader(ctx)
                .load_one(ChildCount::<T::Entity>::new(*rel, *parent, only.clone()))
                .await?
                .unwrap_or(0)),
        }
    }

    /// Information to fetch the next or previous page.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// The records of this page, each with its cursor.
    async fn edges(&self) -> &[Edge<T>] {
        &self.edges
    }

    /// The records of this page.
    async fn nodes(&self) -> Vec<&T> {
        self.edges.iter().map(|e| &e.node).collect()
    }
}

/// A record in a page, with the cursor that points at it.
pub struct Edge<T> {
    cursor: String,
    node: T,
}

impl<T: Wraps> TypeName for Edge<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", <T as OutputType>::type_name()).into()
    }
}

/// A record in a page, with its cursor.
#[Object(name_type)]
impl<T: Wraps> Edge<T> {
    /// An opaque cursor: pass it as `after` or `before` to page from this record.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The record.
    async fn node(&self) -> &T {
        &self.node
    }
}

/// Where a page sits in its list (Relay `PageInfo`).
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// Whether more records follow this page (ask with `first` and `after: endCursor`).
    pub has_next_page: bool,
    /// Whether records precede this page (ask with `last` and `before: startCursor`).
    pub has_previous_page: bool,
    /// The cursor of the first record of the page.
    pub start_cursor: Option<String>,
    /// The cursor of the last record of the page.
    pub end_cursor: Option<String>,
}

/// A top-level list: validates the arguments, loads one page and defers the count.
pub async fn list<T: Wraps>(
    ctx: &Context<'_>,
    select: SelectStatement,
    key: SortKey,
    args: PageArgs,
) -> async_graphql::Result<Connection<T>>
where
    <T::Entity as sea_orm::EntityTrait>::Model: FromQueryResult,
{
    let request_page = PageRequest::new(&args, &key)?;
    let page =
        fetch_page::<T::Entity>(&request(ctx).db, select.clone(), &key, &request_page).await?;
    Ok(Connection::new(page, TotalCount::Query(Box::new(select))))
}

/// A nested list of one parent, loaded for all parents of the same field at once.
pub async fn children<T: Wraps>(
    ctx: &Context<'_>,
    rel: Rel,
    parent: i64,
    args: PageArgs,
) -> async_graphql::Result<Connection<T>>
where
    <T::Entity as sea_orm::EntityTrait>::Model: FromQueryResult + Send + Sync + Clone,
{
    children_where(ctx, rel, parent, None, args).await
}

/// A nested list restricted by its own arguments (`partners(roles: …)`).
pub async fn children_where<T: Wraps>(
    ctx: &Context<'_>,
    rel: Rel,
    parent: i64,
    only: Option<Only>,
    args: PageArgs,
) -> async_graphql::Result<Connection<T>>
where
    <T::Entity as sea_orm::EntityTrait>::Model: FromQueryResult + Send + Sync + Clone,
{
    let key = T::Entity::default_sort();
    let page_request = PageRequest::new(&args, &key)?;
    let page = loader(ctx)
        .load_one(ChildPage::<T::Entity>::new(
            rel,
            parent,
            only.clone(),
            page_request.clone(),
        ))
        .await?
        .map(Arc::unwrap_or_clone)
        .unwrap_or_else(|| Page::empty(&page_request));
    Ok(Connection::new(
        page,
        TotalCount::Child { rel, parent, only },
    ))
}

impl<T> Connection<T> {
    /// The first record of the page, if any.
    pub fn first_node(&self) -> Option<&T> {
        self.edges.first().map(|e| &e.node)
    }
}
