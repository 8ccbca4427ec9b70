//! Relay cursor connections over the kernel's keyset pagination: `Connection`, `Edge`,
//! `PageInfo`, and the top-level and nested lists that load them.
use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::{Context, Object, OutputType, TypeName};
use sea_orm::FromQueryResult;
use sea_orm::sea_query::SelectStatement;

use crate::graphql::context::{RequestContext, loader, request};
use crate::graphql::loader::{ChildCount, ChildPage, Link, Only};
pub use crate::kernel::paging::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageArgs, PageRequest, count, fetch_page,
    fetch_partitioned,
};
use crate::kernel::record::Table;
pub use crate::kernel::sort::{Cursor, CursorKey, SortKey, SortKind, SortValue};

/// A GraphQL type that wraps one row of a table.
pub trait Wraps: OutputType + Send + Sync + 'static {
    type Entity: Table;
    fn wrap(model: <Self::Entity as sea_orm::EntityTrait>::Model) -> Self;
}

/// A list's filter input: the records it selects.
pub trait ListFilter: Default {
    fn select(
        &self,
        request: &RequestContext,
    ) -> Result<SelectStatement, crate::kernel::error::ApiError>;
}

/// A list's order input: the sort key it stands for, given or not.
pub trait ListOrder: Sized {
    fn key(order: Option<Self>, request: &RequestContext) -> SortKey;
}

/// A top-level list: the records its filter selects, in its order, one page of them.
pub async fn filtered<T: Wraps, F: ListFilter, O: ListOrder>(
    ctx: &Context<'_>,
    filter: F,
    order: Option<O>,
    args: PageArgs,
) -> async_graphql::Result<Connection<T>>
where
    <T::Entity as sea_orm::EntityTrait>::Model: FromQueryResult,
{
    let select = filter.select(request(ctx))?;
    list(ctx, select, O::key(order, request(ctx)), args).await
}

/// How a connection's `totalCount` is found, only when a client asks for it.
pub enum TotalCount {
    /// Count the rows of a top-level list's filtered query.
    Query(Box<SelectStatement>),
    /// Count the visible children of one parent (batched across parents).
    Child {
        link: Link,
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
            TotalCount::Child { link, parent, only } => Ok(loader(ctx)
                .load_one(ChildCount::<T::Entity>::new(*link, *parent, only.clone()))
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
    cursor: Cursor,
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
    async fn cursor(&self) -> String {
        self.cursor.encode()
    }

    /// The record.
    async fn node(&self) -> &T {
        &self.node
    }
}

/// Where a page sits in its list (Relay `PageInfo`).
#[derive(Debug, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<Cursor>,
    pub end_cursor: Option<Cursor>,
}

/// Where a page sits in its list (Relay `PageInfo`).
#[Object]
impl PageInfo {
    /// Whether more records follow this page (ask with `first` and `after: endCursor`).
    async fn has_next_page(&self) -> bool {
        self.has_next_page
    }

    /// Whether records precede this page (ask with `last` and `before: startCursor`).
    async fn has_previous_page(&self) -> bool {
        self.has_previous_page
    }

    /// The cursor of the first record of the page.
    async fn start_cursor(&self) -> Option<String> {
        self.start_cursor.as_ref().map(Cursor::encode)
    }

    /// The cursor of the last record of the page.
    async fn end_cursor(&self) -> Option<String> {
        self.end_cursor.as_ref().map(Cursor::encode)
    }
}

/// A top-level list: validates the arguments, loads one page and defers the count.
#[tracing::instrument(level = "debug", skip_all, fields(table = <T::Entity as Table>::NAME))]
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
    link: Link,
    parent: i64,
    args: PageArgs,
) -> async_graphql::Result<Connection<T>>
where
    <T::Entity as sea_orm::EntityTrait>::Model: FromQueryResult + Send + Sync + Clone,
{
    children_where(ctx, link, parent, None, args).await
}

/// A nested list restricted by its own arguments (`partners(roles: …)`).
#[tracing::instrument(level = "debug", skip_all, fields(table = <T::Entity as Table>::NAME, parent = parent))]
pub async fn children_where<T: Wraps>(
    ctx: &Context<'_>,
    link: Link,
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
            link,
            parent,
            only.clone(),
            page_request.clone(),
        ))
        .await?
        .map(Arc::unwrap_or_clone)
        .unwrap_or_else(|| Page::empty(&page_request));
    Ok(Connection::new(
        page,
        TotalCount::Child { link, parent, only },
    ))
}

impl<T> Connection<T> {
    /// The first record of the page, if any.
    pub fn first_node(&self) -> Option<&T> {
        self.edges.first().map(|e| &e.node)
    }
}
