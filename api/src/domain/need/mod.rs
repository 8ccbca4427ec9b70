//! Needs: what residents said they need, mapped in participatory research.
mod loaders;
pub mod mutation;

use async_graphql::{Context, Enum, ID};
use entity::need;
use sea_orm::sea_query::{ExprTrait, Query};

use crate::domain::area::Area;
use crate::domain::initiative::Initiative;
use crate::domain::municipality::Municipality;
use crate::domain::programme::Programme;
use crate::domain::theme::Theme;
use crate::graphql::common::DateRange;
use crate::graphql::context::loader;
use crate::graphql::filter::Filter;
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::graphql::scalars::Date;
use crate::kernel::record::col;

crate::record_table! {
    need: Need {
        references: [municipality_id => Municipality, programme_id => Programme, area_id => Area, theme_id => Theme],
        texts: [title = NAME_MAX, description = TEXT_MAX],
        search: [title, description],
        municipality: municipality_id,
    }
    table {
        fn default_sort() -> SortKey {
            SortKey::new(
                "RECORDED_ON",
                col(need::Column::RecordedOn),
                SortKind::Date,
                Self::id_expr(),
            )
            .descending(true)
        }
    }
}

/// A group of residents a need concerns.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::TargetGroup")]
pub enum TargetGroup {
    /// All residents.
    AllResidents,
    /// Young people.
    YoungPeople,
    /// People in vulnerable situations.
    VulnerableSituations,
    /// Families with children.
    Families,
    /// Elderly people.
    Elderly,
    /// Newcomers to the city or the country.
    Newcomers,
    /// Local entrepreneurs.
    Entrepreneurs,
}

/// How a need was heard.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::NeedSource")]
pub enum NeedSource {
    /// In a workshop or neighbourhood meeting.
    Workshop,
    /// Door to door.
    DoorToDoor,
    /// In a survey.
    Survey,
    /// Through a key figure of the neighbourhood.
    KeyFigure,
    /// Through a social organisation.
    SocialOrganisation,
    /// In another way.
    Other,
}

/// Where a need stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::NeedStatus")]
pub enum NeedStatus {
    /// Nothing answers it yet.
    Open,
    /// Initiatives are working on it.
    BeingAddressed,
    /// It has been answered.
    Addressed,
    /// No longer followed up.
    Archived,
}

/// A need of residents, mapped in participatory research (workshops, door-to-door, surveys…).
#[stroom_derive::record(need)]
impl Need {
    id!("need");

    /// A short title, in the requested locale (with fallback to other translations).
    text!(title: String, "Every translation of the title.");

    /// The need as residents described it, in the requested locale.
    text!(description: Option<String>, "Every translation of the description.");

    /// The municipality where the need was mapped.
    reference!(municipality: Municipality = municipality_id);

    /// The programme that mapped it.
    reference!(programme: Option<Programme> = programme_id);

    /// The area it concerns.
    reference!(area: Option<Area> = area_id);

    /// The theme (needs-mapping domain) it belongs to.
    reference!(theme: Option<Theme> = theme_id);

    /// The groups of residents it concerns.
    async fn target_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TargetGroup>> {
        Ok(loader(ctx)
            .load_one(loaders::TargetGroupsOf(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// How it was heard.
    async fn source(&self) -> NeedSource {
        self.0.source.into()
    }

    /// How many residents voiced it, where counted.
    async fn residents_count(&self) -> Option<i64> {
        self.0.residents_count
    }

    /// Where it stands.
    async fn status(&self) -> NeedStatus {
        self.0.status.into()
    }

    /// The day it was recorded.
    async fn recorded_on(&self) -> Date {
        Date(self.0.recorded_on)
    }

    /// Whether an active initiative (at the PILOT, RUNNING or SELF_SUSTAINING stage, not
    /// archived) answers the need.
    async fn answered(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(loader(ctx)
            .load_one(loaders::AnsweredNeed(self.0.id))
            .await?
            .unwrap_or(false))
    }

    /// Initiatives that answer this need.
    list!(initiatives: Initiative = via initiative_need(need_id -> initiative_id));

    history!();
}

/// Criteria for the list of needs.
#[stroom_derive::filter(need)]
pub struct NeedFilter {
    /// Only needs of these municipalities.
    #[by(references(municipality_id, Municipality))]
    pub municipalities: Option<Vec<ID>>,
    /// Only needs mapped by these programmes.
    #[by(references(programme_id, Programme))]
    pub programmes: Option<Vec<ID>>,
    /// Only needs in these areas (or areas inside them).
    #[by(subtree(area_id, Area))]
    pub areas: Option<Vec<ID>>,
    /// Only needs of these themes (or narrower ones).
    #[by(subtree(theme_id, Theme))]
    pub themes: Option<Vec<ID>>,
    /// Only needs concerning any of these target groups.
    #[by(with = concerning)]
    pub target_groups: Option<Vec<TargetGroup>>,
    /// Only needs heard in these ways.
    #[by(one_of(source))]
    pub sources: Option<Vec<NeedSource>>,
    /// Only needs with these statuses.
    #[by(one_of(status))]
    pub statuses: Option<Vec<NeedStatus>>,
    /// Only needs recorded within this range.
    #[by(date_range(recorded_on))]
    pub recorded: Option<DateRange>,
    /// Only needs that an active initiative answers (true) or that none does (false): the
    /// coverage of the mapped needs.
    #[by(with = answered)]
    pub answered: Option<bool>,
    /// Text contained in the title or description, in any language; case and accents do not matter.
    #[by(search(Theme, theme_id))]
    pub search: Option<String>,
}

/// Needs concerning any of the target groups (a link table of values).
fn concerning(
    f: &mut Filter,
    _request: &crate::graphql::context::RequestContext,
    groups: &[TargetGroup],
) -> Result<(), crate::kernel::error::ApiError> {
    let groups: Vec<&'static str> = groups
        .iter()
        .map(|g| entity::enums::TargetGroup::from(*g).as_str())
        .collect();
    f.condition(
        col(need::Column::Id).in_subquery(
            Query::select()
                .column(("need_target_group", "need_id"))
                .from("need_target_group")
                .and_where(col(entity::need_target_group::Column::TargetGroup).is_in(groups))
                .take(),
        ),
    );
    Ok(())
}

/// Needs an active initiative answers, or (false) none does.
fn answered(
    f: &mut Filter,
    _request: &crate::graphql::context::RequestContext,
    answered: &bool,
) -> Result<(), crate::kernel::error::ApiError> {
    let condition = answered_condition();
    f.condition(if *answered {
        condition
    } else {
        condition.not()
    });
    Ok(())
}

#[stroom_derive::order(need, "needs", unordered)]
pub enum NeedOrderField {
    /// The day the need was recorded.
    #[default]
    #[sort(date = recorded_on)]
    RecordedOn,
    /// How many residents voiced it (needs without a count come last).
    #[sort(int = residents_count, nullable)]
    ResidentsCount,
    /// The title in the request's locale.
    #[sort(localized = title)]
    Title,
}

#[stroom_derive::query]
impl NeedQuery {
    /// Needs of residents mapped in participatory research.
    records!(needs: Need, NeedFilter, NeedOrder = "most recently recorded first");
}

/// Stages in which an initiative counts as answering the needs it is linked to.
pub const ACTIVE_STAGES: &[&str] = &["pilot", "running", "self_sustaining"];

/// `EXISTS` an active, unarchived initiative linked to the need in the outer query.
pub fn answered_condition() -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, Query};
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from("initiative_need")
            .inner_join(
                "initiative",
                col(entity::initiative::Column::Id).equals((
                    entity::initiative_need::Entity,
                    entity::initiative_need::Column::InitiativeId,
                )),
            )
            .and_where(
                col(entity::initiative_need::Column::NeedId)
                    .equals((need::Entity, need::Column::Id)),
            )
            .and_where(col(entity::initiative::Column::ArchivedAt).is_null())
            .and_where(col(entity::initiative::Column::Stage).is_in(ACTIVE_STAGES.iter().copied()))
            .take(),
    )
}
