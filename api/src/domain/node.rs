//! The Relay `Node` interface: any record by its global ID.
use async_graphql::{Context, ID, Interface, Object};
use futures_util::future::try_join_all;

use crate::domain::api_key::ApiKey;
use crate::domain::area::Area;
use crate::domain::indicator::Indicator;
use crate::domain::initiative::{Initiative, SupportRequest};
use crate::domain::learning::Learning;
use crate::domain::learning::endorsement::LearningEndorsement;
use crate::domain::municipality::Municipality;
use crate::domain::need::Need;
use crate::domain::organisation::{ContactPerson, Organisation};
use crate::domain::outcome::Outcome;
use crate::domain::partnership::Partnership;
use crate::domain::programme::Programme;
use crate::domain::theme::Theme;
use crate::graphql::loader::reference;
use crate::kernel::error::ApiError;
use crate::kernel::ids::{GlobalId, NodeKind};

/// The most IDs one `nodes` call takes.
pub const MAX_NODES: usize = 100;

/// A record with a global ID, which `node(id:)` fetches whatever its type.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The global ID of the record: opaque, stable, unique across types."
))]
pub enum Node {
    Municipality(Municipality),
    Area(Area),
    Theme(Theme),
    Organisation(Organisation),
    ContactPerson(ContactPerson),
    Programme(Programme),
    Partnership(Partnership),
    Need(Need),
    Initiative(Initiative),
    SupportRequest(SupportRequest),
    Indicator(Indicator),
    Outcome(Outcome),
    Learning(Learning),
    LearningEndorsement(LearningEndorsement),
    ApiKey(ApiKey),
}

/// Any record by global ID, if the viewer may see it.
pub async fn load(ctx: &Context<'_>, field: &str, id: &ID) -> async_graphql::Result<Option<Node>> {
    let GlobalId { kind, id } = GlobalId::decode(field, id)?;
    let id = Some(id);
    Ok(match kind {
        NodeKind::Municipality => reference::<Municipality>(ctx, id)
            .await?
            .map(Node::Municipality),
        NodeKind::Area => reference::<Area>(ctx, id).await?.map(Node::Area),
        NodeKind::Theme => reference::<Theme>(ctx, id).await?.map(Node::Theme),
        NodeKind::Organisation => reference::<Organisation>(ctx, id)
            .await?
            .map(Node::Organisation),
        NodeKind::ContactPerson => reference::<ContactPerson>(ctx, id)
            .await?
            .map(Node::ContactPerson),
        NodeKind::Programme => reference::<Programme>(ctx, id).await?.map(Node::Programme),
        NodeKind::Partnership => reference::<Partnership>(ctx, id)
            .await?
            .map(Node::Partnership),
        NodeKind::Need => reference::<Need>(ctx, id).await?.map(Node::Need),
        NodeKind::Initiative => reference::<Initiative>(ctx, id)
            .await?
            .map(Node::Initiative),
        NodeKind::SupportRequest => reference::<SupportRequest>(ctx, id)
            .await?
            .map(Node::SupportRequest),
        NodeKind::Indicator => reference::<Indicator>(ctx, id).await?.map(Node::Indicator),
        NodeKind::Outcome => reference::<Outcome>(ctx, id).await?.map(Node::Outcome),
        NodeKind::Learning => reference::<Learning>(ctx, id).await?.map(Node::Learning),
        NodeKind::LearningEndorsement => reference::<LearningEndorsement>(ctx, id)
            .await?
            .map(Node::LearningEndorsement),
        NodeKind::ApiKey => reference::<ApiKey>(ctx, id).await?.map(Node::ApiKey),
    })
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
