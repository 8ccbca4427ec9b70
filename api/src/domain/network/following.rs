//! The instances this one follows: registering one (its announcement read and checked first),
//! pausing it, unfollowing it, and how following each goes.
use async_graphql::{Context, Enum, ID, InputObject, Object};
use entity::followed_instance;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryTrait};

use crate::domain::api_key::require_admin;
use crate::graphql::context::viewer;
use crate::graphql::mutation::{edited, respond, run};
use crate::graphql::pagination::{Connection, PageArgs, list};
use crate::graphql::scalars::DateTime;
use crate::kernel::access::{Role, Viewer};
use crate::kernel::record::Table;
use crate::kernel::write::{UserError, Write, WriteResult};
use crate::payload;

use super::source::{Announced, Source};

crate::record_table! {
    followed_instance: FollowedInstance {
        references: [api_key_id => ApiKey],
    }
    table {
        fn visible_to(viewer: &Viewer) -> Condition {
            if viewer.role == Role::Admin {
                Condition::all()
            } else {
                Condition::all().add(sea_orm::sea_query::Expr::cust("1 = 0"))
            }
        }
        fn audited(key: String, value: serde_json::Value) -> (String, serde_json::Value) {
            if key == "apiKey" && !value.is_null() {
                (key, serde_json::Value::String("(secret)".into()))
            } else {
                (key, value)
            }
        }
    }
}

/// What an instance follows of another.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowedType {
    /// Its public learnings (and partner-only ones with a partner key), with their themes
    /// (matched by code), translations, and the programmes and initiatives they come from.
    Learnings,
    /// Its outcomes, with their indicators matched by code (so that they compare with this
    /// instance's), and the programmes and initiatives they measure.
    Outcomes,
}

impl FollowedType {
    pub const ALL: [FollowedType; 2] = [FollowedType::Learnings, FollowedType::Outcomes];

    pub fn stored(self) -> &'static str {
        match self {
            FollowedType::Learnings => "learnings",
            FollowedType::Outcomes => "outcomes",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.stored() == stored)
    }

    /// The type of record its events name in the feed.
    pub fn type_name(self) -> &'static str {
        match self {
            FollowedType::Learnings => "Learning",
            FollowedType::Outcomes => "Outcome",
        }
    }

    /// The list the first read pages through.
    pub fn list_field(self) -> &'static str {
        match self {
            FollowedType::Learnings => "learnings",
            FollowedType::Outcomes => "outcomes",
        }
    }
}

/// Another Stroom instance this one follows (a partner city's): what it announced of itself,
/// what is followed, and how far its change feed has been applied. Admin keys only.
#[stroom_derive::record(followed_instance)]
impl FollowedInstance {
    id!("followed instance");

    /// Its address.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// Its name, as it announced it.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The municipality running it, in the requested language, as it announced it.
    async fn municipality(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        match &self.0.municipality_name {
            Some(name) => crate::graphql::text::resolve(ctx, name, None),
            None => Ok(None),
        }
    }

    /// Its country (ISO 3166-1 alpha-2), as it announced it.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    /// The languages it writes in, as it announced them.
    async fn languages(&self) -> Vec<String> {
        strings(&self.0.languages)
    }

    /// The version of its schema when it was last read (a digest; it changes with the schema).
    async fn schema_version(&self) -> Option<&str> {
        self.0.schema_version.as_deref()
    }

    /// What is followed.
    async fn types(&self) -> Vec<FollowedType> {
        strings(&self.0.types)
            .iter()
            .filter_map(|t| FollowedType::parse(t))
            .collect()
    }

    /// Whether following is paused (nothing is read from it until it is resumed).
    async fn paused(&self) -> bool {
        self.0.paused
    }

    /// The number of the last event of its change feed applied here (0: none yet).
    async fn last_event(&self) -> String {
        self.0.last_event.to_string()
    }

    /// How many events of its feed are not applied yet, as far as it was last read.
    async fn lag(&self) -> i64 {
        self.0
            .source_head
            .map_or(0, |head| (head - self.0.last_event).max(0))
    }

    /// Events of its feed applied here so far.
    async fn events_applied(&self) -> i64 {
        self.0.events_applied
    }

    /// When events were last applied.
    async fn last_applied_at(&self) -> Option<DateTime> {
        self.0.last_applied_at.map(DateTime)
    }

    /// What went wrong the last time it was read; null once reading works again.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// Since when reading it fails, while it does.
    async fn failing_since(&self) -> Option<DateTime> {
        self.0.failing_since.map(DateTime)
    }

    history!();
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default)]
pub struct FollowQuery;

#[Object]
impl FollowQuery {
    /// The instances this one follows, unfollowed ones left out. Admin keys only; others get
    /// null, with an error.
    async fn followed_instances(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n instances (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the instances after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n instances (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Returns the instances before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Option<Connection<FollowedInstance>>> {
        require_admin(viewer(ctx))?;
        let mut select = followed_instance::Entity::find().into_query();
        select.and_where(followed_instance::Column::ArchivedAt.is_null());
        list(
            ctx,
            select,
            followed_instance::Entity::default_sort(),
            PageArgs::new(first, after, last, before),
        )
        .await
        .map(Some)
    }
}

payload!(
    /// The result of a change to a followed instance.
    FollowedInstancePayload { followed_instance: FollowedInstance }
);

/// An instance to follow.
#[derive(InputObject)]
pub struct FollowInstanceInput {
    /// Its address (`https://stroom.lahti.fi`); its announcement is read from
    /// `/.well-known/stroom` there.
    pub url: String,
    /// An API key of that instance to read with (a partner key also brings partner-only
    /// learnings); none: what it shows anonymous callers.
    pub key: Option<String>,
    /// What to follow (default: learnings).
    pub types: Option<Vec<FollowedType>>,
}

/// Pausing or resuming a followed instance.
#[derive(InputObject)]
pub struct PauseFollowInput {
    /// The followed instance.
    pub id: ID,
    /// The version you last read.
    pub version: i32,
    /// True to pause, false to resume.
    pub paused: bool,
}

/// Registers an instance to follow, from its announcement; following it again after
/// unfollowing takes up where it stopped.
pub async fn follow(
    write: &Write,
    url: String,
    key: Option<String>,
    types: &[FollowedType],
    announced: Announced,
) -> WriteResult<followed_instance::Model> {
    write.admin_only("follow another instance")?;
    let mut kinds: Vec<&str> = Vec::new();
    for kind in types {
        if !kinds.contains(&kind.stored()) {
            kinds.push(kind.stored());
        }
    }
    if kinds.is_empty() {
        kinds.push(FollowedType::Learnings.stored());
    }
    let existing = followed_instance::Entity::find()
        .filter(followed_instance::Column::Url.eq(url.as_str()))
        .one(&write.txn)
        .await?;
    let mut model = crate::new_record!(followed_instance::Model {
        url,
        api_key: key,
        name: Some(announced.name),
        municipality_name: announced.municipality,
        country: announced.country,
        languages: serde_json::json!(announced.languages),
        schema_version: Some(announced.schema_version),
        graphql_url: announced.graphql,
        feed_url: announced.feed,
        types: serde_json::json!(kinds),
        paused: false,
        last_event: 0,
        source_head: None,
        events_applied: 0,
        last_applied_at: None,
        last_error: None,
        failing_since: None,
        api_key_id: write.viewer.api_key(),
    });
    match existing {
        Some(before) if before.archived_at.is_some() => {
            model.id = before.id;
            model.last_event = before.last_event;
            model.events_applied = before.events_applied;
            model.created_at = before.created_at;
            model.version = before.version;
            write
                .replace_audited::<followed_instance::Entity>(before.version, None, &before, model)
                .await
        }
        Some(_) => Err(UserError::new(
            "url",
            "This instance is followed already.",
            crate::kernel::write::UserErrorCode::Conflict,
        )
        .into()),
        None => {
            write
                .insert_audited::<followed_instance::Entity>(None, model)
                .await
        }
    }
}

/// Pauses or resumes following an instance.
pub async fn pause(write: &Write, input: PauseFollowInput) -> WriteResult<followed_instance::Model> {
    let (id, before, _, _) = edited::<followed_instance::Entity, _>(write, &input).await?;
    // Only `paused` is written: the follower moves the cursor meanwhile, and keeps it.
    let mut active = followed_instance::ActiveModel {
        paused: sea_orm::ActiveValue::Set(input.paused),
        ..Default::default()
    };
    // Resumed, it acts for the key that resumed it.
    if !input.paused {
        active.api_key_id = sea_orm::ActiveValue::Set(write.viewer.api_key());
    }
    let after = write
        .update_versioned::<followed_instance::Entity, _>(id, input.version, active)
        .await?;
    write
        .audit_change::<followed_instance::Entity>(id, None, Some(&before), Some(&after))
        .await?;
    Ok(after)
}

impl crate::graphql::mutation::Changes<followed_instance::Entity> for PauseFollowInput {
    fn id(&self) -> &ID {
        &self.id
    }
    fn changed(
        &self,
        before: &followed_instance::Model,
    ) -> (followed_instance::Model, crate::kernel::write::Problems) {
        (before.clone(), Default::default())
    }
}

#[stroom_derive::mutations]
impl FollowMutation {
    /// Follows another Stroom instance (a partner city's): its announcement is read and
    /// checked, then its change feed is followed from the start, and copies of what is
    /// followed appear here within seconds, each saying where it comes from (`origin`).
    /// Admin only.
    async fn follow_instance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Where the instance is, the key to read with and what to follow.")]
        input: FollowInstanceInput,
    ) -> async_graphql::Result<FollowedInstancePayload> {
        require_admin(viewer(ctx))?;
        // Read before the write begins: no transaction waits on another instance.
        let url = input.url.trim().trim_end_matches('/').to_owned();
        let announced = match Source::new(&url, input.key.clone()) {
            Ok(source) => source.announcement().await,
            Err(problem) => Err(problem),
        };
        let announced = match announced {
            Ok(announced) => announced,
            Err(problem) => {
                return Ok(FollowedInstancePayload {
                    followed_instance: None,
                    user_errors: vec![UserError::invalid("url", problem.to_string())],
                });
            }
        };
        let types = input.types.unwrap_or_default();
        let (followed, user_errors) = run(ctx, "followInstance", move |write| {
            Box::pin(async move { follow(write, url, input.key, &types, announced).await })
        })
        .await?;
        Ok(FollowedInstancePayload {
            followed_instance: followed.map(FollowedInstance),
            user_errors,
        })
    }

    /// Stops following an instance: nothing more is read from it, and its copies leave every
    /// list (following it again brings them back). Admin only.
    archive!(unfollow_instance(input = "The followed instance and the version you last read.") -> FollowedInstancePayload);

    /// Pauses following an instance, or resumes it. Admin only.
    async fn pause_follow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The followed instance, the version you last read, and whether to pause.")]
        input: PauseFollowInput,
    ) -> async_graphql::Result<FollowedInstancePayload> {
        respond(ctx, "pauseFollow", move |write| Box::pin(pause(write, input))).await
    }
}
