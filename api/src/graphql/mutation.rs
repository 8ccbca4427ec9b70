//! The frame of a GraphQL mutation: begin the kernel's write for the request's viewer, make
//! the change, commit it or roll it back, and hand back the record and the user errors that
//! every payload carries.
use async_graphql::Context;
use futures_util::future::BoxFuture;

use crate::graphql::context::request;
use crate::graphql::input::{ArchiveInput, id, ids};
use crate::graphql::pagination::Wraps;
use crate::kernel::error::ApiError;
use crate::kernel::record::{Owner, Record};
use crate::kernel::write::{UserError, Write, WriteResult, same_municipality};

/// Starts a mutation for the request's viewer.
pub async fn begin(ctx: &Context<'_>, mutation: &'static str) -> Result<Write, ApiError> {
    let request = request(ctx);
    Write::start(&request.db, request.viewer.clone(), mutation).await
}

/// Runs one change in its own transaction: committed when it succeeds, rolled back when it is
/// refused (the user errors come back as data) or fails.
#[tracing::instrument(level = "debug", skip_all, fields(mutation = mutation))]
pub async fn run<T, F>(
    ctx: &Context<'_>,
    mutation: &'static str,
    change: F,
) -> Result<(Option<T>, Vec<UserError>), ApiError>
where
    F: for<'w> FnOnce(&'w Write) -> BoxFuture<'w, WriteResult<T>>,
{
    let write = begin(ctx, mutation).await?;
    let result = change(&write).await;
    write.finish(result).await
}

/// Archives a record (`archived`), or brings it back: the whole of every `archive…` and
/// `unarchive…` mutation.
#[tracing::instrument(level = "debug", skip_all, fields(mutation = mutation, archived = archived))]
pub async fn archive<E: Record>(
    ctx: &Context<'_>,
    mutation: &'static str,
    input: &ArchiveInput,
    archived: bool,
) -> Result<(Option<E::Model>, Vec<UserError>), ApiError> {
    let (record, version) = (input.id.clone(), input.version);
    run(ctx, mutation, move |write| {
        Box::pin(async move {
            let id = id("id", &record, E::KIND)?;
            write.set_archived::<E>(id, version, archived).await
        })
    })
    .await
}

/// What a mutation hands back: the record as the change left it, and the user errors.
pub trait Payload: Sized {
    type Record: Wraps;
    fn new(record: Option<Self::Record>, user_errors: Vec<UserError>) -> Self;
}

type Model<P> = <<<P as Payload>::Record as Wraps>::Entity as sea_orm::EntityTrait>::Model;

/// Runs a change (`run`) and hands back its payload: the whole of most mutations.
pub async fn respond<P, F>(
    ctx: &Context<'_>,
    mutation: &'static str,
    change: F,
) -> async_graphql::Result<P>
where
    P: Payload,
    F: for<'w> FnOnce(&'w Write) -> BoxFuture<'w, WriteResult<Model<P>>>,
{
    let (record, user_errors) = run(ctx, mutation, change).await?;
    Ok(P::new(record.map(P::Record::wrap), user_errors))
}

/// Archives the payload's record, or brings it back (`archive`), and hands back the payload.
pub async fn archive_payload<P>(
    ctx: &Context<'_>,
    mutation: &'static str,
    input: &ArchiveInput,
    archived: bool,
) -> async_graphql::Result<P>
where
    P: Payload,
    <P::Record as Wraps>::Entity: Record,
{
    type Entity<P> = <<P as Payload>::Record as Wraps>::Entity;
    let (record, user_errors) = archive::<Entity<P>>(ctx, mutation, input, archived).await?;
    Ok(P::new(record.map(P::Record::wrap), user_errors))
}

/// The record an update changes, by the ID in its input: its row ID, the record as it is, and
/// the municipality it belongs to once the viewer may change it.
pub async fn editable<E: Record>(
    write: &Write,
    record: &async_graphql::ID,
) -> WriteResult<(i64, E::Model, Option<i64>)> {
    let id = id("id", record, E::KIND)?;
    let before = write.existing::<E>(id).await?;
    let municipality = write.authorize::<E>(&before).await?;
    Ok((id, before, municipality))
}

/// An update's start when its plain changes are all it checks before the database: the
/// record's row ID, the record as it is, the record after those changes (refused, with every
/// problem, when one is wrong) and the municipality it belongs to.
pub async fn edited<E: Record, I: Changes<E>>(
    write: &Write,
    input: &I,
) -> WriteResult<(i64, E::Model, E::Model, Option<i64>)> {
    let (id, before, municipality) = editable::<E>(write, input.id()).await?;
    let (after, problems) = input.changed(&before);
    problems.finish()?;
    Ok((id, before, after, municipality))
}

/// An update input whose plain changes are declared (`#[stroom_derive::update]`).
pub trait Changes<E: Record> {
    fn id(&self) -> &async_graphql::ID;
    fn changed(&self, before: &E::Model) -> (E::Model, crate::kernel::write::Problems);
}

/// Sets a reference column from an update's `MaybeUndefined` ID once `check` (which reads
/// the database) accepts it; null clears it, and a field left out leaves it.
pub async fn set_reference<'a, T, F, Checked>(
    value: &'a async_graphql::MaybeUndefined<T>,
    column: &mut Option<i64>,
    check: F,
) -> WriteResult<()>
where
    F: FnOnce(&'a T) -> Checked,
    Checked: std::future::Future<Output = WriteResult<i64>>,
{
    match value {
        async_graphql::MaybeUndefined::Value(value) => *column = Some(check(value).await?),
        async_graphql::MaybeUndefined::Null => *column = None,
        async_graphql::MaybeUndefined::Undefined => {}
    }
    Ok(())
}

/// A payload type: the changed record and the user errors.
#[macro_export]
macro_rules! payload {
    ($(#[$doc:meta])* $name:ident { $field:ident: $ty:ty }) => {
        $(#[$doc])*
        #[derive(async_graphql::SimpleObject)]
        pub struct $name {
            /// The record as it is after the change; null when the change was refused.
            pub $field: Option<$ty>,
            /// What was wrong with the input; empty on success. Nothing is changed when it is not.
            pub user_errors: Vec<$crate::kernel::write::UserError>,
        }

        impl $crate::graphql::mutation::Payload for $name {
            type Record = $ty;
            fn new(
                record: Option<$ty>,
                user_errors: Vec<$crate::kernel::write::UserError>,
            ) -> Self {
                Self {
                    $field: record,
                    user_errors,
                }
            }
        }
    };
}

/// Checks the records a record of `municipality` links to (`themes.0`, `themes.1`…): each
/// exists, is not archived, and is shared or that municipality's own (`None`: any will do).
pub async fn linkable<E: Record>(
    write: &Write,
    field: &str,
    municipality: Option<i64>,
    ids: &[i64],
) -> WriteResult<()> {
    let what = E::KIND.type_name().to_lowercase();
    for (i, model) in write.live_all::<E>(field, ids).await?.iter().enumerate() {
        if let (Some(own), Owner::Municipality(theirs)) = (municipality, E::owner(model)) {
            same_municipality(&format!("{field}.{i}"), own, theirs, &what)?;
        }
    }
    Ok(())
}

/// The row IDs of a list of global IDs given to link (left out: `None`), checked as
/// [`linkable`] does.
pub async fn linked_ids<E: Record>(
    write: &Write,
    field: &str,
    municipality: Option<i64>,
    given: Option<&[async_graphql::ID]>,
) -> WriteResult<Option<Vec<i64>>> {
    let Some(given) = given else {
        return Ok(None);
    };
    let ids = ids(field, given, E::KIND)?;
    linkable::<E>(write, field, municipality, &ids).await?;
    Ok(Some(ids))
}
