//! Keyset pagination.
//!
//! Every list is ordered by a sort key and then by `id`, so the order is total and stable; a
//! cursor holds the sort value and the ID of a row, and the next page is the rows after it
//! (`WHERE (key, id) > (…)`), which an index on `(key, id)` serves without an OFFSET. NULL sort
//! values always come last. Nested lists page the same way per parent, with a window function,
//! so one statement loads the pages of all parents at once.
use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OverStatement, SelectStatement, WindowStatement};
use sea_orm::{ConnectionTrait, FromQueryResult, QueryResult, Statement};

use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::record::Table;
use crate::kernel::sort::{Cursor, CursorKey, SortKey, SortValue};

/// Page size when a list is asked for without `first` or `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page a list returns; larger requests are refused.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The Relay arguments of a list, as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// The arguments of a Relay list, as its resolver received them.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Self {
        Self {
            first,
            after,
            last,
            before,
        }
    }
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

    /// Restricts `select` to the rows past the cursors and selects the sort value (`__sort`).
    pub fn apply(&self, select: &mut SelectStatement, key: &SortKey) {
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
    pub rows: Vec<(M, Cursor)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<M> Page<M> {
    pub fn empty(request: &PageRequest) -> Self {
        Self {
            rows: Vec::new(),
            has_next_page: request.before.is_some(),
            has_previous_page: request.after.is_some(),
        }
    }

    /// Turns rows fetched in SQL order (`limit + 1` of them at most) into a page.
    fn from_fetched(mut rows: Vec<(M, Cursor)>, request: &PageRequest) -> Self {
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

fn parse_row<E: Table>(row: &QueryResult, key: &SortKey) -> ApiResult<(E::Model, Cursor)>
where
    E::Model: FromQueryResult,
{
    let model = E::Model::from_query_result(row, "")?;
    let cursor = Cursor::Row {
        ordering: key.name,
        key: CursorKey {
            value: SortValue::from_row(key.kind, row)?,
            id: E::id(&model),
        },
    };
    Ok((model, cursor))
}

/// One page of a top-level list. `select` holds the list's filters.
#[tracing::instrument(level = "debug", skip_all, fields(table = E::NAME, limit = request.limit))]
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
#[tracing::instrument(level = "debug", skip_all, fields(table = E::NAME, parents = parents.len()))]
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
    let mut fetched: HashMap<i64, Vec<(E::Model, Cursor)>> = HashMap::new();
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
#[tracing::instrument(level = "debug", skip_all)]
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
