//! The change feed: every change made through the API as an event, in commit order, for
//! systems that follow the data (a CRM, the city website, a partner city's portal, a data
//! warehouse). A consumer keeps the cursor of the last event it handled and asks for what
//! came after; events are numbered without gaps in the order their changes committed
//! (`kernel::feed`), so it misses none and sees none twice.
//!
//! An event names the record, the operation and the changed fields, never their values: the
//! record itself is read through `object` (or `node`), with the reader's own rights. A viewer
//! sees the events of the records it may read.
pub mod hub;

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Subscription};
use entity::change_event;
use futures_util::Stream;
use sea_orm::sea_query::{ExprTrait, SelectStatement};
use sea_orm::{
    Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryTrait,
};

use crate::domain::municipality::Municipality;
use crate::domain::node::{Node, NodeType, load, load_in, readable_by};
use crate::graphql::context::{request, viewer};
use crate::graphql::filter::Filter;
use crate::graphql::pagination::{Connection, PageArgs, SortKey, SortKind, Wraps, list};
use crate::graphql::scalars::DateTime;
use crate::kernel::access::Viewer;
use crate::kernel::error::ApiError;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::record::{Table, col};

impl Table for change_event::Entity {
    const NAME: &'static str = "change_event";
    const ARCHIVABLE: bool = false;
    fn id(model: &change_event::Model) -> i64 {
        model.sequence
    }
    fn id_expr() -> sea_orm::sea_query::Expr {
        col(change_event::Column::Sequence)
    }
    /// The events of the records the viewer may read, and the `withdrawn` events of records
    /// it could read before.
    fn visible_to(viewer: &Viewer) -> Condition {
        event_visible_to(viewer)
    }
    fn default_sort() -> SortKey {
        SortKey::new("SEQUENCE", Self::id_expr(), SortKind::Int, Self::id_expr())
    }
}

/// Which events a viewer sees: an ordinary event while it may read the event's record, a
/// `withdrawn` event when its role is one of those that lost sight of the record. The one rule
/// for the feed, its NDJSON form and live subscriptions.
pub fn event_visible_to(viewer: &Viewer) -> Condition {
    let withdrawn = col(change_event::Column::Operation).eq("withdrawn");
    Condition::any()
        .add(
            Condition::all()
                .add(withdrawn.clone().not())
                .add(readable_by(
                    viewer,
                    col(change_event::Column::SubjectType),
                    col(change_event::Column::SubjectId),
                )),
        )
        .add(Condition::all().add(withdrawn).add(
            col(change_event::Column::WithdrawnFrom).like(format!("%,{},%", viewer.role.as_str())),
        ))
}

/// What a change did to its record.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOperation {
    /// The record was created.
    Created,
    /// Fields of the record changed.
    Updated,
    /// The record was archived.
    Archived,
    /// The record was brought back from the archive.
    Unarchived,
    /// Links were added to the record (needs it answers, themes…), nothing else changed.
    Linked,
    /// Links were removed from the record, nothing else changed.
    Unlinked,
    /// The record is no longer visible to you (a learning shared with partners only from now
    /// on, for anonymous readers): drop your copy. Says nothing of what it became; `object` is
    /// null.
    Withdrawn,
}

impl ChangeOperation {
    fn stored(stored: &str) -> Self {
        match stored {
            "created" => Self::Created,
            "archived" => Self::Archived,
            "unarchived" => Self::Unarchived,
            "linked" => Self::Linked,
            "unlinked" => Self::Unlinked,
            "withdrawn" => Self::Withdrawn,
            _ => Self::Updated,
        }
    }
}

/// One event of the change feed; a live one carries the reads it shares with the other
/// subscribers of the same rights.
pub struct ChangeEvent(pub Arc<change_event::Model>, Option<Arc<hub::SharedReads>>);

impl Wraps for ChangeEvent {
    type Entity = change_event::Entity;
    fn wrap(model: change_event::Model) -> Self {
        Self(Arc::new(model), None)
    }
}

impl ChangeEvent {
    fn kind(&self) -> Option<NodeKind> {
        NodeKind::from_type_name(&self.0.subject_type)
    }
}

/// One change to one record, in the feed's commit order. It names what changed, never the
/// values: read the record through `object` for those.
#[stroom_derive::record]
impl ChangeEvent {
    /// The event's number: events are numbered from 1 in the order their changes committed,
    /// without gaps, so a later event never has a lower number.
    async fn id(&self) -> ID {
        ID(self.0.sequence.to_string())
    }

    /// When the change was made.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }

    /// What the change did to the record.
    async fn operation(&self) -> ChangeOperation {
        ChangeOperation::stored(&self.0.operation)
    }

    /// The type of the changed record, such as `Initiative`.
    async fn object_type(&self) -> &str {
        &self.0.subject_type
    }

    /// The global ID of the changed record.
    async fn object_id(&self) -> ID {
        self.kind()
            .map(|kind| kind.id(self.0.subject_id))
            .unwrap_or_else(|| ID(self.0.subject_id.to_string()))
    }

    /// The changed record as it is now (null if you may no longer see it).
    async fn object(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        let Some(kind) = self.kind() else {
            return Ok(None);
        };
        let id = kind.id(self.0.subject_id);
        match &self.1 {
            // Every subscriber of these rights asks for the same records: they are read once.
            Some(shared) => {
                shared.prime().await?;
                load_in(&shared.loader, "object", &id).await
            }
            None => load(ctx, "object", &id).await,
        }
    }

    /// The fields the change touched, by their API names.
    async fn fields(&self) -> Vec<String> {
        self.0
            .fields
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The record's version after the change (what an update must send back), for records
    /// that have versions.
    async fn version(&self) -> Option<i32> {
        self.0.version
    }

    /// The mutation that made the change, such as `createInitiative`.
    async fn mutation(&self) -> &str {
        &self.0.mutation
    }

    /// The municipality the record belongs to (null for shared records).
    reference!(municipality: Option<Municipality> = municipality_id);
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct ChangeCriteria {
    /// Only events of records of these types.
    pub types: Option<Vec<NodeKind>>,
    /// Only events of this municipality's records.
    pub municipality: Option<i64>,
}

impl ChangeCriteria {
    /// From the arguments of `changes` (and the NDJSON feed's parameters).
    pub fn new(types: Option<&[NodeType]>, municipality: Option<&ID>) -> Result<Self, ApiError> {
        Ok(Self {
            types: types.map(|types| types.iter().map(|t| t.kind()).collect()),
            municipality: municipality
                .map(|id| GlobalId::decode_as("municipality", id, NodeKind::Municipality))
                .transpose()?,
        })
    }

    /// Whether `event` meets the criteria (what `select` asks of the database).
    pub fn selects(&self, event: &change_event::Model) -> bool {
        self.types.as_ref().is_none_or(|types| {
            types
                .iter()
                .any(|kind| kind.type_name() == event.subject_type)
        }) && self
            .municipality
            .is_none_or(|m| event.municipality_id == Some(m))
    }

    /// The events `viewer` may see that meet the criteria.
    pub fn select(&self, viewer: &Viewer) -> SelectStatement {
        let mut select = change_event::Entity::find()
            .filter(change_event::Entity::visible_to(viewer))
            .into_query();
        if let Some(types) = &self.types {
            select.and_where(
                col(change_event::Column::SubjectType).is_in(types.iter().map(|k| k.type_name())),
            );
        }
        if let Some(municipality) = self.municipality {
            select.and_where(col(change_event::Column::MunicipalityId).eq(municipality));
        }
        select
    }
}

/// Events after `after` (an event's number; `0` from the start), up to `until` if given,
/// `chunk` at a time, as a stream: the NDJSON feed, and a subscriber's catching up.
pub fn stream_after<C: ConnectionTrait + Clone + Send + 'static>(
    db: C,
    viewer: Viewer,
    criteria: ChangeCriteria,
    after: i64,
    until: Option<i64>,
    limit: u64,
) -> impl Stream<Item = Result<change_event::Model, DbErr>> {
    const CHUNK: u64 = 500;
    futures_util::stream::try_unfold(
        (after, limit, Vec::<change_event::Model>::new().into_iter()),
        move |(mut cursor, mut left, mut buffered)| {
            let (db, viewer, criteria) = (db.clone(), viewer.clone(), criteria.clone());
            async move {
                if let Some(event) = buffered.next() {
                    return Ok(Some((event, (cursor, left, buffered))));
                }
                if left == 0 {
                    return Ok(None);
                }
                let take = std::cmp::min(left, CHUNK);
                let mut ids = ids_after(&criteria, &viewer, cursor, take);
                if let Some(until) = until {
                    ids.and_where(col(change_event::Column::Sequence).lte(until));
                }
                let select = change_event::Entity::find()
                    .filter(col(change_event::Column::Sequence).in_subquery(ids))
                    .order_by_asc(change_event::Column::Sequence);
                let page = select.all(&db).await?;
                let Some(last) = page.last() else {
                    return Ok(None);
                };
                cursor = last.sequence;
                // A short page was the last: no read that can only come back empty.
                left = match page.len() as u64 {
                    read if read < take => 0,
                    read => left - read,
                };
                let mut page = page.into_iter();
                let first = page.next();
                Ok(first.map(|event| (event, (cursor, left, page))))
            }
        },
    )
}

/// The numbers of the next `take` visible events after `after`.
fn ids_after(criteria: &ChangeCriteria, viewer: &Viewer, after: i64, take: u64) -> SelectStatement {
    let mut select = criteria.select(viewer);
    select
        .clear_selects()
        .expr(col(change_event::Column::Sequence))
        .and_where(col(change_event::Column::Sequence).gt(after))
        .order_by_expr(col(change_event::Column::Sequence), sea_orm::Order::Asc)
        .limit(take);
    select
}

/// The events `viewer` may see after `after` (by default, from the next commit on), then each
/// new one as it commits, for as long as the stream is read. Catching up reads the database
/// with the viewer's rights; after that the server's hub hands events out, re-checking the
/// viewer's key at every wake, and ends the stream with an error when the key no longer
/// admits it.
pub fn follow(
    db: sea_orm::DatabaseConnection,
    hub: Arc<hub::Hub>,
    viewer: Viewer,
    criteria: ChangeCriteria,
    after: Option<i64>,
) -> impl Stream<Item = async_graphql::Result<ChangeEvent>> {
    use futures_util::StreamExt;
    futures_util::stream::once(async move {
        let subscription = match hub.subscribe(viewer.clone(), criteria.clone()).await {
            Ok(subscription) => subscription,
            Err(error) => {
                let error: async_graphql::Error = ApiError::from(error).into();
                return futures_util::stream::once(async move { Err(error) }).boxed();
            }
        };
        let start = subscription.start;
        let catch_up = match after.filter(|after| *after < start) {
            Some(after) => stream_after(db, viewer, criteria, after, Some(start), u64::MAX)
                .map(|event| {
                    event
                        .map(ChangeEvent::wrap)
                        .map_err(|e| ApiError::from(e).into())
                })
                .boxed(),
            None => futures_util::stream::empty().boxed(),
        };
        let after = after.unwrap_or(start);
        let live = futures_util::stream::unfold(
            (subscription, Vec::new().into_iter(), None, false),
            move |(mut subscription, mut pending, mut reads, ended)| async move {
                loop {
                    if let Some(event) = pending.next() {
                        let item = Ok(ChangeEvent(event, reads.clone()));
                        return Some((item, (subscription, pending, reads, ended)));
                    }
                    if ended {
                        return None;
                    }
                    match subscription.arrivals.recv().await {
                        Some(arrival) => {
                            let events: Vec<_> = arrival
                                .events
                                .into_iter()
                                .filter(|e| e.sequence > after)
                                .collect();
                            pending = events.into_iter();
                            reads = Some(arrival.reads);
                        }
                        None => {
                            let error = subscription.ending().map(ending_error)?;
                            return Some((Err(error), (subscription, pending, reads, true)));
                        }
                    }
                }
            },
        );
        catch_up.chain(live).boxed()
    })
    .flatten()
}

/// The error that ends a live stream for `ending`.
fn ending_error(ending: hub::Ending) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    match ending {
        hub::Ending::Refused(refusal) => async_graphql::Error::new(refusal.message()).extend_with(
            |_, e| {
                e.set("code", "UNAUTHENTICATED");
                e.set("reason", refusal.reason());
            },
        ),
        hub::Ending::RightsChanged => async_graphql::Error::new(
            "This API key's rights changed: subscribe again to follow the changes with its new rights.",
        )
        .extend_with(|_, e| {
            e.set("code", "FORBIDDEN");
            e.set("reason", "RIGHTS_CHANGED");
        }),
        hub::Ending::Behind(last) => async_graphql::Error::new(format!(
            "This subscription fell behind and was ended: subscribe again with `after: \"{last}\"` to go on from the last event read."
        ))
        .extend_with(|_, e| {
            e.set("code", "RATE_LIMITED");
            e.set("reason", "BEHIND");
            e.set("after", last.to_string());
        }),
        hub::Ending::Failed => ApiError::internal(anyhow::anyhow!("the change feed could not be read")).into(),
    }
}

/// The feed as one JSON object per event (the NDJSON feed's lines).
pub fn event_json(event: &change_event::Model) -> serde_json::Value {
    let kind = NodeKind::from_type_name(&event.subject_type);
    serde_json::json!({
        "id": event.sequence.to_string(),
        "at": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "operation": event.operation,
        "objectType": event.subject_type,
        "objectId": kind.map(|k| k.id(event.subject_id).0),
        "fields": event.fields,
        "version": event.version,
        "mutation": event.mutation,
        "municipalityId": event.municipality_id.map(|id| NodeKind::Municipality.id(id).0),
    })
}

#[derive(Default)]
pub struct ChangeQuery;

#[Object]
impl ChangeQuery {
    /// The change feed: every change made through the API, oldest first, in commit order.
    /// Keep the `endCursor` of the last page you handled and pass it as `after` to get what
    /// came since; nothing is skipped or repeated, even while changes are being made. You see
    /// the changes of the records you may read.
    #[allow(clippy::too_many_arguments)]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n events (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the events after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n events (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Returns the events before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only events of records of these types.")] types: Option<Vec<NodeType>>,
        #[graphql(desc = "Only events of this municipality's records.")] municipality: Option<ID>,
    ) -> async_graphql::Result<Connection<ChangeEvent>> {
        let criteria = ChangeCriteria::new(types.as_deref(), municipality.as_ref())?;
        let filter = Filter::new(
            criteria.select(viewer(ctx)),
            "change_event",
            request(ctx).db.get_database_backend(),
        );
        list(
            ctx,
            filter.finish(),
            change_event::Entity::default_sort(),
            PageArgs::new(first, after, last, before),
        )
        .await
    }
}

#[derive(Default)]
pub struct ChangeSubscription;

#[Subscription]
impl ChangeSubscription {
    /// Every change as it commits, in commit order, for live screens: the same events as the
    /// `changes` feed, of the records you may read. With `after` (an event's `id`), the
    /// events since that one come first, so a client that reconnects misses nothing.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events of records of these types.")] types: Option<Vec<NodeType>>,
        #[graphql(desc = "Only events of this municipality's records.")] municipality: Option<ID>,
        #[graphql(desc = "Start after this event (its `id`); by default, with the next change.")]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ChangeEvent>>> {
        let criteria = ChangeCriteria::new(types.as_deref(), municipality.as_ref())?;
        let request = request(ctx);
        let after = match after {
            Some(id) => Some(id.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::bad_input(
                    "after",
                    format!(
                        "`{}` is not an event ID: give the `id` of an event, such as \"1841\".",
                        id.0
                    ),
                )
            })?),
            None => None,
        };
        let hub = ctx.data::<Arc<hub::Hub>>().map_err(|_| {
            ApiError::internal(anyhow::anyhow!("no live hub attached to the subscription"))
        })?;
        Ok(follow(
            request.db.clone(),
            hub.clone(),
            request.viewer.clone(),
            criteria,
            after,
        ))
    }
}
