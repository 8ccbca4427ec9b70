//! The Relay `Node` interface: any record by its global ID.
use async_graphql::{Context, Enum, ID, Interface, Object};
use futures_util::future::{BoxFuture, try_join_all};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter, QueryTrait};

use crate::graphql::pagination::Wraps;
use crate::kernel::access::Viewer;
use crate::kernel::error::ApiError;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::record::Table;
use crate::kernel::write::WriteResult;

pub use crate::kernel::ids::MAX_NODES;

/// The node registry, one line per kind (the kind, its GraphQL type and the Rust type that
/// wraps its model share one name). It makes the `Node` interface, fetching any record by
/// global ID, and `act_on`, which runs an action on the table of a record known only by its ID.
macro_rules! nodes {
    ($($kind:ident => $($type:ident)::+),+ $(,)?) => {
        /// A record with a global ID, which `node(id:)` fetches whatever its type.
        #[derive(Interface)]
        #[graphql(field(
            name = "id",
            ty = "ID",
            desc = "The global ID of the record: opaque, stable, unique across types."
        ))]
        pub enum Node {
            $($kind($($type)::+)),+
        }

        /// Any record by global ID, if the viewer may see it.
        pub async fn load(
            ctx: &Context<'_>,
            field: &str,
            id: &ID,
        ) -> async_graphql::Result<Option<Node>> {
            load_in(crate::graphql::context::loader(ctx), field, id).await
        }

        /// Loads these records of `kind` into `loader`, in one statement, so that later loads
        /// of them are answered from its cache.
        pub async fn prime<C: async_graphql::dataloader::CacheFactory>(
            loader: &async_graphql::dataloader::DataLoader<crate::graphql::loader::DbLoader, C>,
            kind: NodeKind,
            ids: impl IntoIterator<Item = i64>,
        ) -> async_graphql::Result<()> {
            match kind {
                $(NodeKind::$kind => {
                    loader
                        .load_many(ids.into_iter().map(crate::graphql::loader::ById::<<$($type)::+ as Wraps>::Entity>::new))
                        .await?;
                }),+
                // Every kind is listed above; a name no registry line declares has no table.
                _ => {}
            }
            Ok(())
        }

        /// Any record by global ID through `loader` (a loader shared beyond one request).
        pub async fn load_in<C: async_graphql::dataloader::CacheFactory>(
            loader: &async_graphql::dataloader::DataLoader<crate::graphql::loader::DbLoader, C>,
            field: &str,
            id: &ID,
        ) -> async_graphql::Result<Option<Node>> {
            let GlobalId { kind, id } = GlobalId::decode(field, id)?;
            let id = Some(id);
            Ok(match kind {
                $(NodeKind::$kind => crate::graphql::loader::reference_in::<$($type)::+, C>(loader, id).await?.map(Node::$kind),)+
                _ => None,
            })
        }

        /// Every kind's record type, as the read planner compiles selections of it.
        pub fn type_plans() -> Vec<crate::graphql::plan::TypePlan> {
            vec![$(crate::graphql::plan::TypePlan::of::<$($type)::+>()),+]
        }

        /// The types of record with a global ID, for filters (`changes(types:)`).
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
        pub enum NodeType {
            $(
                #[doc = concat!("`", stringify!($kind), "` records.")]
                $kind
            ),+
        }

        impl NodeType {
            pub fn kind(self) -> NodeKind {
                match self {
                    $(Self::$kind => NodeKind::$kind),+
                }
            }
        }

        /// Rows about records (`type_column` naming the kind, `id_column` the record) that
        /// `viewer` may see: those whose record it may read, by each table's own rule.
        pub fn readable_by(viewer: &Viewer, type_column: Expr, id_column: Expr) -> Condition {
            let mut any = Condition::any();
            $({
                type E = <$($type)::+ as Wraps>::Entity;
                let visible = <E as Table>::visible_to(viewer);
                let mut this = Condition::all()
                    .add(type_column.clone().eq(NodeKind::$kind.type_name()));
                if !visible.is_empty() {
                    let mut ids = E::find().filter(visible).into_query();
                    ids.clear_selects();
                    ids.expr(<E as Table>::id_expr());
                    this = this.add(id_column.clone().in_subquery(ids));
                }
                any = any.add(this);
            })+
            any
        }

        /// Runs `action` on the table of records of `kind`; the changed record comes back as
        /// a `Node`.
        pub async fn act_on<'a>(kind: NodeKind, action: impl RecordAction<'a>) -> WriteResult<Node> {
            Ok(match kind {
                $(NodeKind::$kind => Node::$kind(<$($type)::+ as Wraps>::wrap(
                    action.on::<<$($type)::+ as Wraps>::Entity>().await?,
                )),)+
                _ => return Err(ApiError::internal(anyhow::anyhow!("no table for {kind:?}")).into()),
            })
        }
    };
}

crate::domain::kinds!(nodes);

/// A change to one record of whichever table its ID points to (`addTranslation`).
pub trait RecordAction<'a> {
    fn on<E: crate::kernel::record::Record>(self) -> BoxFuture<'a, WriteResult<E::Model>>;
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any record by its global ID; null when no record you may see has that ID.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global ID of the record.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        load(ctx, "id", &id).await
    }

    /// Fetches several records by their global IDs (at most 100), in the order asked; null for
    /// each ID that matches no record you may see.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global IDs of the records (at most 100).")] ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(ApiError::bad_input(
                "ids",
                format!(
                    "`ids` holds {} IDs; `nodes` takes at most {MAX_NODES}.",
                    ids.len()
                ),
            )
            .into());
        }
        try_join_all(ids.iter().map(|id| load(ctx, "ids", id))).await
    }
}
