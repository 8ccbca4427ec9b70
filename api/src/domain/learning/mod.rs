//! Learnings: lessons drawn from programmes and initiatives, for partner cities to learn from.
pub mod endorsement;
pub mod mutation;
pub mod translation;

pub use endorsement::LearningEndorsement;

use async_graphql::{Context, Enum, ID};
use entity::learning;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{Condition, EntityTrait, QueryTrait};

use crate::domain::initiative::Initiative;
use crate::domain::municipality::Municipality;
use crate::domain::programme::Programme;
use crate::domain::theme::Theme;
use crate::graphql::filter::Filter;
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::Link;
use crate::graphql::pagination::{Connection, PageArgs, SortKey, SortKind, children};
use crate::kernel::access::Viewer;
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Table, col};

crate::record_table! {
    learning: Learning {
        references: [municipality_id => Municipality, programme_id => Programme, initiative_id => Initiative],
        texts: [title = NAME_MAX, body = TEXT_MAX],
        search: [title, body],
        municipality: municipality_id,
    }
    table {
        const COPIED: bool = true;
        /// Learnings for partners only are invisible to anonymous callers, on every path.
        const VISIBILITY_FOLLOWS_VALUES: bool = true;
        fn visible_to(viewer: &Viewer) -> Condition {
            if viewer.sees_partner_content() {
                Condition::all()
            } else {
                Condition::all()
                    .add(col(learning::Column::Audience).eq(entity::enums::Audience::Public.as_str()))
            }
        }
        fn default_sort() -> SortKey {
            SortKey::new(
                "POSITION",
                col(learning::Column::Position),
                SortKind::Int,
                Self::id_expr(),
            )
            .nullable()
        }
    }
}

/// The kind of a lesson.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::LearningKind")]
pub enum LearningKind {
    /// Something that made it work.
    SuccessFactor,
    /// A mistake to avoid.
    Pitfall,
    /// A problem still being worked on.
    Challenge,
    /// Advice to others.
    Recommendation,
}

/// Who may read a learning.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Audience")]
pub enum Audience {
    /// Everyone, including anonymous callers.
    Public,
    /// Partner cities and city staff only (an API key with the partner role or above).
    Partners,
}

/// A lesson drawn from a programme or an initiative: a success factor, pitfall, challenge or
/// recommendation.
#[stroom_derive::record(learning)]
impl Learning {
    id!("learning");

    /// The kind of lesson.
    async fn kind(&self) -> LearningKind {
        self.0.kind.into()
    }

    /// Who may read it.
    async fn audience(&self) -> Audience {
        self.0.audience.into()
    }

    /// Its position among the lessons of its source (the case lists its lessons in order).
    async fn position(&self) -> Option<i64> {
        self.0.position
    }

    /// A short title, in the requested locale (with fallback to other translations).
    text!(title: String, "Every translation of the title.");

    /// The lesson itself, in the requested locale.
    text!(body: String, "Every translation of the body.");

    /// The municipality that drew the lesson.
    reference!(municipality: Municipality = municipality_id);

    /// The programme it was drawn from.
    reference!(programme: Option<Programme> = programme_id);

    /// The initiative it was drawn from.
    reference!(initiative: Option<Initiative> = initiative_id);

    /// Its themes.
    list!(themes: Theme = via learning_theme(learning_id -> theme_id));

    /// Other municipalities that saw this lesson too.
    async fn endorsements(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Returns the first n endorsements.")] first: Option<i32>,
        #[graphql(desc = "Returns the endorsements after this cursor.")] after: Option<String>,
        #[graphql(desc = "Returns the last n endorsements.")] last: Option<i32>,
        #[graphql(desc = "Returns the endorsements before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Connection<endorsement::LearningEndorsement>> {
        children(
            ctx,
            Link::column(entity::learning_endorsement::Column::LearningId),
            self.0.id,
            PageArgs::new(first, after, last, before),
        )
        .await
    }

    origin!("learning");

    history!();
}

/// Criteria for the list of learnings.
#[stroom_derive::filter(learning, base = visible)]
pub struct LearningFilter {
    /// Only learnings of these kinds.
    #[by(one_of(kind))]
    pub kinds: Option<Vec<LearningKind>>,
    /// Only learnings for these audiences (partner-only learnings need a partner key).
    #[by(one_of(audience))]
    pub audiences: Option<Vec<Audience>>,
    /// Only learnings with any of these themes (or narrower ones).
    #[by(linked(learning_theme, Theme, tree))]
    pub themes: Option<Vec<ID>>,
    /// Only learnings of these municipalities.
    #[by(references(municipality_id, Municipality))]
    pub municipalities: Option<Vec<ID>>,
    /// Only learnings drawn from these programmes.
    #[by(references(programme_id, Programme))]
    pub programmes: Option<Vec<ID>>,
    /// Only learnings drawn from these initiatives.
    #[by(references(initiative_id, Initiative))]
    pub initiatives: Option<Vec<ID>>,
    /// Only learnings endorsed by any of these municipalities ("also seen in").
    #[by(with = endorsed_by)]
    pub endorsed_by: Option<Vec<ID>>,
    /// Only learnings endorsed by at least this many other municipalities.
    #[by(with = min_endorsements)]
    pub min_endorsements: Option<i32>,
    /// Text contained in the title or body, in any language; case and accents do not matter.
    #[by(search(Theme, learning_theme))]
    pub search: Option<String>,
}

/// The learnings the viewer may see: partner-only ones need a partner key.
fn visible(request: &crate::graphql::context::RequestContext) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::QueryFilter;
    learning::Entity::find()
        .filter(learning::Entity::visible_to(&request.viewer))
        .into_query()
}

fn endorsed_by(
    f: &mut Filter,
    _request: &crate::graphql::context::RequestContext,
    municipalities: &[ID],
) -> Result<(), crate::kernel::error::ApiError> {
    crate::graphql::common::check_id_list("filter.endorsedBy", municipalities.len())?;
    let ids = crate::kernel::ids::GlobalId::decode_all(
        "filter.endorsedBy",
        municipalities,
        NodeKind::Municipality,
    )?;
    f.condition(
        col(learning::Column::Id).in_subquery(
            sea_orm::sea_query::Query::select()
                .column(("learning_endorsement", "learning_id"))
                .from("learning_endorsement")
                .and_where(col(entity::learning_endorsement::Column::MunicipalityId).is_in(ids))
                .and_where(col(entity::learning_endorsement::Column::ArchivedAt).is_null())
                .take(),
        ),
    );
    Ok(())
}

fn min_endorsements(
    f: &mut Filter,
    _request: &crate::graphql::context::RequestContext,
    minimum: &i32,
) -> Result<(), crate::kernel::error::ApiError> {
    if *minimum < 0 {
        return Err(crate::kernel::error::ApiError::bad_input(
            "filter.minEndorsements",
            "`minEndorsements` cannot be negative.",
        ));
    }
    f.condition(endorsement_count().gte(i64::from(*minimum)));
    Ok(())
}

#[stroom_derive::order(learning, "learnings")]
pub enum LearningOrderField {
    /// The position in their source.
    #[default]
    #[sort(int = position, nullable)]
    Position,
    /// The title in the request's locale.
    #[sort(localized = title)]
    Title,
    /// The number of municipalities that endorse them.
    #[sort(int = endorsement_count())]
    Endorsements,
}

#[stroom_derive::query]
impl LearningQuery {
    /// Lessons learnt. Anonymous callers see public learnings only.
    records!(learnings: Learning, LearningFilter, LearningOrder = "by position in their source");
}

/// How many municipalities endorse the learning of the outer query.
fn endorsement_count() -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, Query};
    Expr::SubQuery(
        None,
        Box::new(
            Query::select()
                .expr(Expr::cust("COUNT(*)"))
                .from("learning_endorsement")
                .and_where(
                    col(entity::learning_endorsement::Column::LearningId)
                        .equals((learning::Entity, learning::Column::Id)),
                )
                .and_where(col(entity::learning_endorsement::Column::ArchivedAt).is_null())
                .take()
                .into(),
        ),
    )
}
