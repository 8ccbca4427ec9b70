//! Batched loading (DataLoader): every reference and every nested list of a request is loaded
//! in one statement per field, whatever the number of parents, so the number of SQL statements
//! depends on the shape of a query and never on the number of rows.
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityName, EntityTrait, FromQueryResult,
    QueryFilter, QueryTrait,
};

use crate::kernel::access::Viewer;
use crate::kernel::error::ApiError;
use crate::kernel::paging::{Page, PageRequest, fetch_partitioned};
use crate::kernel::record::{Table, column_of, in_ids};

/// The loader of one request: it sees the database as the request's viewer does.
pub struct DbLoader {
    pub db: DatabaseConnection,
    pub viewer: Viewer,
}

/// How a nested list reaches its rows from the parent's ID: each domain type declares the
/// links of its lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// The child table has a column holding the parent's ID.
    Column(&'static str),
    /// A link table pairs parent and child IDs.
    Through {
        table: &'static str,
        parent: &'static str,
        child: &'static str,
    },
}

impl Link {
    /// The column of the child's table that holds the parent's ID.
    pub fn column<C: ColumnTrait>(column: C) -> Self {
        Self::Column(column.as_str())
    }

    /// A link table, by its column holding the parent's ID and its column holding the child's.
    pub fn via<C: ColumnTrait>(parent: C, child: C) -> Self {
        Self::Through {
            table: C::EntityName::default().table_name(),
            parent: parent.as_str(),
            child: child.as_str(),
        }
    }

    /// The visible, unarchived children of this link, and the expression of their parent ID.
    fn select<E: Table>(
        self,
        viewer: &Viewer,
        only: Option<&Only>,
    ) -> (sea_orm::sea_query::SelectStatement, Expr) {
        let mut select = E::find().filter(E::listed_to(viewer)).into_query();
        if let Some(only) = only {
            only.apply(E::NAME, &mut select);
        }
        let parent = match self {
            Link::Column(column) => column_of(E::NAME, column),
            Link::Through {
                table,
                parent,
                child,
            } => {
                select.inner_join(table, column_of(table, child).equals((E::NAME, "id")));
                column_of(table, parent)
            }
        };
        (select, parent)
    }
}

macro_rules! typed_key {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty),* }) => {
        $(#[$meta])*
        pub struct $name<E> {
            $(pub $field: $ty,)*
            _entity: PhantomData<fn() -> E>,
        }

        impl<E> $name<E> {
            pub fn new($($field: $ty),*) -> Self {
                Self { $($field,)* _entity: PhantomData }
            }
        }

        // Written by hand: derives would require `E` itself to be `Clone`, `Eq` and `Hash`.
        impl<E> Clone for $name<E> {
            fn clone(&self) -> Self {
                Self { $($field: self.$field.clone(),)* _entity: PhantomData }
            }
        }
        impl<E> PartialEq for $name<E> {
            fn eq(&self, other: &Self) -> bool {
                true $(&& self.$field == other.$field)*
            }
        }
        impl<E> Eq for $name<E> {}
        impl<E> Hash for $name<E> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                $(self.$field.hash(state);)*
            }
        }
    };
}

typed_key!(
    /// A row of table `E` by ID, if the viewer may see it (archived rows included).
    ById { id: i64 }
);
typed_key!(
    /// One parent's page of a nested list of `E` rows.
    ChildPage { link: Link, parent: i64, only: Option<Only>, page: PageRequest }
);
typed_key!(
    /// How many visible `E` rows one parent's nested list holds.
    ChildCount { link: Link, parent: i64, only: Option<Only> }
);

/// A restriction a nested list's arguments put on its rows (`partners(roles: …)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Only {
    /// A text column holds one of the values.
    TextIn(&'static str, Vec<&'static str>),
    /// An ID column holds one of the values.
    IdIn(&'static str, Vec<i64>),
}

impl Only {
    pub(crate) fn apply(
        &self,
        table: &'static str,
        select: &mut sea_orm::sea_query::SelectStatement,
    ) {
        match self {
            Self::TextIn(column, values) => {
                select.and_where(column_of(table, column).is_in(values.iter().copied()));
            }
            Self::IdIn(column, values) => {
                select.and_where(column_of(table, column).is_in(values.iter().copied()));
            }
        }
    }
}

impl<E> Loader<ById<E>> for DbLoader
where
    E: Table,
    E::Model: FromQueryResult + Send + Sync + Clone + 'static,
{
    // Shared, not copied: the loader keeps every value in its cache and hands out clones.
    type Value = Arc<E::Model>;
    type Error = ApiError;

    #[tracing::instrument(level = "debug", name = "load_by_id", skip_all, fields(table = E::NAME, keys = keys.len()))]
    async fn load(&self, keys: &[ById<E>]) -> Result<HashMap<ById<E>, Arc<E::Model>>, ApiError> {
        let mut select = E::find()
            .filter(E::visible_to(&self.viewer))
            .filter(in_ids(
                self.db.get_database_backend(),
                E::id_expr(),
                keys.iter().map(|k| k.id),
            ))
            .into_query();
        crate::kernel::record::lean_columns::<E>(&mut select);
        let mut models = HashMap::with_capacity(keys.len());
        for row in self.db.query_all(&select).await? {
            let model = E::Model::from_query_result(&row, "")?;
            models.insert(ById::new(E::id(&model)), Arc::new(model));
        }
        Ok(models)
    }
}

/// The pages the child-page loader answers with, by key.
type ChildPages<E> = HashMap<ChildPage<E>, Arc<Page<<E as sea_orm::EntityTrait>::Model>>>;

impl<E> Loader<ChildPage<E>> for DbLoader
where
    E: Table,
    E::Model: FromQueryResult + Send + Sync + Clone + 'static,
{
    // Shared, not copied: the loader keeps every value in its cache and hands out clones.
    type Value = Arc<Page<E::Model>>;
    type Error = ApiError;

    #[tracing::instrument(level = "debug", name = "load_child_pages", skip_all, fields(table = E::NAME, keys = keys.len()))]
    async fn load(&self, keys: &[ChildPage<E>]) -> Result<ChildPages<E>, ApiError> {
        // Parents asking for the same window of the same relation share one statement.
        let mut groups: HashMap<(Link, &Option<Only>, &PageRequest), Vec<i64>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.link, &key.only, &key.page))
                .or_default()
                .push(key.parent);
        }
        let sort = E::default_sort();
        let mut result = HashMap::with_capacity(keys.len());
        for ((link, only, page), parents) in groups {
            let (select, parent) = link.select::<E>(&self.viewer, only.as_ref());
            let pages =
                fetch_partitioned::<E>(&self.db, select, parent, &parents, &sort, page).await?;
            for (parent, rows) in pages {
                result.insert(
                    ChildPage::new(link, parent, only.clone(), page.clone()),
                    Arc::new(rows),
                );
            }
        }
        Ok(result)
    }
}

impl<E> Loader<ChildCount<E>> for DbLoader
where
    E: Table,
    E::Model: Send + Sync,
{
    type Value = i64;
    type Error = ApiError;

    #[tracing::instrument(level = "debug", name = "load_child_counts", skip_all, fields(table = E::NAME, keys = keys.len()))]
    async fn load(&self, keys: &[ChildCount<E>]) -> Result<HashMap<ChildCount<E>, i64>, ApiError> {
        let mut groups: HashMap<(Link, &Option<Only>), Vec<i64>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.link, &key.only))
                .or_default()
                .push(key.parent);
        }
        let mut result = HashMap::with_capacity(keys.len());
        for ((link, only), parents) in groups {
            let (mut select, parent) = link.select::<E>(&self.viewer, only.as_ref());
            select
                .clear_selects()
                .expr_as(parent.clone(), "parent")
                .expr_as(Expr::col((E::NAME, "id")).count(), "n")
                .and_where(in_ids(
                    self.db.get_database_backend(),
                    parent.clone(),
                    parents.iter().copied(),
                ))
                .group_by_col(parent_column(link, E::NAME));
            let rows = self.db.query_all(&select).await?;
            for parent in &parents {
                result.insert(ChildCount::new(link, *parent, only.clone()), 0);
            }
            for row in rows {
                let parent: i64 = row.try_get("", "parent")?;
                let n: i64 = row.try_get("", "n")?;
                result.insert(ChildCount::new(link, parent, only.clone()), n);
            }
        }
        Ok(result)
    }
}

fn parent_column(link: Link, child_table: &'static str) -> (&'static str, &'static str) {
    match link {
        Link::Column(column) => (child_table, column),
        Link::Through { table, parent, .. } => (table, parent),
    }
}

/// A reference to another record (`initiative.programme`…), batched across the request.
pub async fn reference<T: crate::graphql::pagination::Wraps>(
    ctx: &async_graphql::Context<'_>,
    id: Option<i64>,
) -> async_graphql::Result<Option<T>>
where
    <T::Entity as EntityTrait>::Model: FromQueryResult + Send + Sync + Clone,
{
    let Some(id) = id else { return Ok(None) };
    Ok(crate::graphql::context::loader(ctx)
        .load_one(ById::<T::Entity>::new(id))
        .await?
        .map(|model| T::wrap(Arc::unwrap_or_clone(model))))
}

/// A reference through a loader of its own (one shared beyond a single request).
pub async fn reference_in<T: crate::graphql::pagination::Wraps, C>(
    loader: &async_graphql::dataloader::DataLoader<DbLoader, C>,
    id: Option<i64>,
) -> async_graphql::Result<Option<T>>
where
    <T::Entity as EntityTrait>::Model: FromQueryResult + Send + Sync + Clone,
    C: async_graphql::dataloader::CacheFactory,
{
    let Some(id) = id else { return Ok(None) };
    Ok(loader
        .load_one(ById::<T::Entity>::new(id))
        .await?
        .map(|model| T::wrap(Arc::unwrap_or_clone(model))))
}

/// A reference that the schema declares non-null: a missing row is an internal error.
pub async fn required_reference<T: crate::graphql::pagination::Wraps>(
    ctx: &async_graphql::Context<'_>,
    id: i64,
) -> async_graphql::Result<T>
where
    <T::Entity as EntityTrait>::Model: FromQueryResult + Send + Sync + Clone,
{
    reference::<T>(ctx, Some(id)).await?.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "{} {id} referenced but not found",
            <T::Entity as Table>::NAME
        ))
        .into()
    })
}
