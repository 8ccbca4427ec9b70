//! Needs: what residents said they need, mapped in participatory research.
mod loaders;
pub mod mutation;

use async_graphql::{Context, Enum, ID, InputObject, Object};
use entity::need;
use sea_orm::sea_query::{ExprTrait, Query};
use sea_orm::{EntityTrait, QueryTrait};

use crate::domain::area::Area;
use crate::domain::initiative::Initiative;
use crate::domain::municipality::Municipality;
use crate::domain::programme::Programme;
use crate::domain::theme::Theme;
use crate::graphql::common::{DateRange, localized_expr};
use crate::graphql::context::{loader, preferences, request};
use crate::graphql::filter::{Filter, RecordCriteria};
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::Link;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::graphql::scalars::Date;
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{Table, col};

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
pub struct Need(pub need::Model);

/// A need of residents, mapped in participatory research (workshops, door-to-door, surveys…).
#[stroom_derive::record(need)]
#[Object]
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
#[derive(InputObject, Default)]
pub struct NeedFilter {
    /// Only needs of these municipalities.
    pub municipalities: Option<Vec<ID>>,
    /// Only needs mapped by these programmes.
    pub programmes: Option<Vec<ID>>,
    /// Only needs in these areas (or areas inside them).
    pub areas: Option<Vec<ID>>,
    /// Only needs of these themes (or narrower ones).
    pub themes: Option<Vec<ID>>,
    /// Only needs concerning any of these target groups.
    pub target_groups: Option<Vec<TargetGroup>>,
    /// Only needs heard in these ways.
    pub sources: Option<Vec<NeedSource>>,
    /// Only needs with these statuses.
    pub statuses: Option<Vec<NeedStatus>>,
    /// Only needs recorded within this range.
    pub recorded: Option<DateRange>,
    /// Only needs that an active initiative answers (true) or that none does (false): the
    /// coverage of the mapped needs.
    pub answered: Option<bool>,
    /// Text contained in the title or description, in any language; case and accents do not matter.
    pub search: Option<String>,
    /// The criteria of every list of records.
    #[graphql(flatten)]
    pub record: RecordCriteria,
}

/// What needs can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum NeedOrderField {
    /// The day the need was recorded.
    #[default]
    RecordedOn,
    /// How many residents voiced it (needs without a count come last).
    ResidentsCount,
    /// The title in the request's locale.
    Title,
    /// Creation time.
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
}

crate::order_input!(
    /// The order of a list of needs.
    NeedOrder(NeedOrderField)
);

impl crate::graphql::pagination::ListFilter for NeedFilter {
    fn select(
        self,
        ctx: &Context<'_>,
    ) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
        select(ctx, &self)
    }
}

impl crate::graphql::pagination::ListOrder for NeedOrder {
    fn key(order_by: Option<Self>, ctx: &Context<'_>) -> SortKey {
        let id = need::Entity::id_expr();
        match order_by {
            None => need::Entity::default_sort(),
            Some(order) => match order.field {
                NeedOrderField::RecordedOn => SortKey::new(
                    "RECORDED_ON",
                    col(need::Column::RecordedOn),
                    SortKind::Date,
                    id,
                ),
                NeedOrderField::ResidentsCount => SortKey::new(
                    "RESIDENTS_COUNT",
                    col(need::Column::ResidentsCount),
                    SortKind::Int,
                    id,
                )
                .nullable(),
                NeedOrderField::Title => SortKey::new(
                    "TITLE",
                    localized_expr("need", "title", &preferences(ctx).chain(None)),
                    SortKind::Text,
                    id,
                )
                .nullable(),
                NeedOrderField::CreatedAt => need::Entity::by_created_at(),
                NeedOrderField::UpdatedAt => need::Entity::by_updated_at(),
            }
            .descending(order.direction.is_desc()),
        }
    }
}

#[derive(Default)]
pub struct NeedQuery;

#[stroom_derive::record]
#[Object]
impl NeedQuery {
    /// Needs of residents mapped in participatory research.
    records!(needs: Need, NeedFilter, NeedOrder = "most recently recorded first");
}

/// The needs a filter selects (`SELECT … FROM need WHERE …`), for lists and statistics.
pub fn select(
    ctx: &Context<'_>,
    filter: &NeedFilter,
) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
    let db = &request(ctx).db;
    let mut f = Filter::new(
        need::Entity::find().into_query(),
        "need",
        db.get_database_backend(),
    );
    f.references(
        "filter.municipalities",
        entity::need::Column::MunicipalityId,
        filter.municipalities.as_ref(),
        NodeKind::Municipality,
    )?
    .references(
        "filter.programmes",
        entity::need::Column::ProgrammeId,
        filter.programmes.as_ref(),
        NodeKind::Programme,
    )?
    .subtree(
        "filter.areas",
        entity::need::Column::AreaId,
        filter.areas.as_ref(),
        NodeKind::Area,
        "area",
    )?
    .subtree(
        "filter.themes",
        entity::need::Column::ThemeId,
        filter.themes.as_ref(),
        NodeKind::Theme,
        "theme",
    )?;
    if let Some(groups) = &filter.target_groups {
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
    }
    f.one_of::<NeedSource, entity::enums::NeedSource>(
        entity::need::Column::Source,
        filter.sources.as_ref(),
    )
    .one_of::<NeedStatus, entity::enums::NeedStatus>(
        entity::need::Column::Status,
        filter.statuses.as_ref(),
    )
    .date_range(
        "filter.recorded",
        entity::need::Column::RecordedOn,
        filter.recorded.as_ref(),
    )?
    .search_through(
        filter.search.as_ref(),
        "theme",
        Link::column(need::Column::ThemeId),
    )?
    .record(&filter.record);
    if let Some(answered) = filter.answered {
        let answered_expr = answered_condition();
        f.condition(if answered {
            answered_expr
        } else {
            answered_expr.not()
        });
    }
    Ok(f.finish())
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
