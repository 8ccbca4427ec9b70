//! Initiatives: circular initiatives by citizens, entrepreneurs, social organisations or the
//! city, with the needs they answer, their partners and the support they asked for.
pub mod mutation;
mod support_request;

use async_graphql::{Enum, ID};
use entity::initiative;

pub use support_request::{SupportKind, SupportRequest, SupportStatus};

use crate::domain::area::Area;
use crate::domain::learning::Learning;
use crate::domain::municipality::Municipality;
use crate::domain::need::Need;
use crate::domain::outcome::Outcome;
use crate::domain::partnership::{PartnerRole, Partnership};
use crate::domain::programme::Programme;
use crate::domain::theme::Theme;
use crate::graphql::common::DateRange;
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::scalars::Date;

crate::record_table! {
    initiative: Initiative {
        references: [municipality_id => Municipality, programme_id => Programme],
        texts: [name = NAME_MAX, description = TEXT_MAX],
        search: [name, description],
        municipality: municipality_id,
    }
    table {
        const COPIED: bool = true;
    }
}

/// Who started an initiative.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::InitiatorKind")]
pub enum InitiatorKind {
    /// Citizens or residents.
    Citizens,
    /// An entrepreneur or company.
    Entrepreneur,
    /// A social organisation.
    SocialOrganisation,
    /// The city.
    City,
    /// A school, college or research institute.
    KnowledgeInstitution,
    /// Several of the above together.
    Partnership,
}

/// How far an initiative has come.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::InitiativeStage")]
pub enum InitiativeStage {
    /// An idea, not yet tried.
    Idea,
    /// Being tried out.
    Pilot,
    /// Running, with support.
    Running,
    /// Running on its own business model, without (project) subsidy.
    SelfSustaining,
    /// On hold.
    Paused,
    /// Ended.
    Stopped,
}

/// How an initiative pays its way. The case's lesson: initiatives that live on subsidy alone
/// stop when the subsidy stops.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::BusinessModel")]
pub enum BusinessModel {
    /// Subsidies.
    Subsidy,
    /// Membership fees.
    Membership,
    /// Fees per use or per service.
    Fee,
    /// Volunteer work, without income.
    Volunteer,
    /// Commercial sales.
    Commercial,
    /// A mix of the above.
    Mixed,
}

/// What using an initiative costs residents.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Affordability")]
pub enum Affordability {
    /// Free of charge.
    Free,
    /// Low cost, accessible to people on low incomes.
    LowCost,
    /// Market price.
    MarketPrice,
}

/// A circular initiative (repair café, tool library, second-hand shop, food sharing…).
#[stroom_derive::record(initiative)]
impl Initiative {
    id!("initiative");

    /// The name, in the requested locale (with fallback to other translations).
    text!(name: String, "Every translation of the name.");

    /// What the initiative does, in the requested locale.
    text!(description: Option<String>, "Every translation of the description.");

    /// The municipality the initiative works in.
    reference!(municipality: Municipality = municipality_id);

    /// The programme that started or supports it, if any.
    reference!(programme: Option<Programme> = programme_id);

    /// Who started it.
    async fn initiator_kind(&self) -> InitiatorKind {
        self.0.initiator_kind.into()
    }

    /// How far it has come.
    async fn stage(&self) -> InitiativeStage {
        self.0.stage.into()
    }

    /// How it pays its way.
    async fn business_model(&self) -> BusinessModel {
        self.0.business_model.into()
    }

    /// What using it costs residents.
    async fn affordability(&self) -> Affordability {
        self.0.affordability.into()
    }

    /// The day it started.
    async fn start_date(&self) -> Option<Date> {
        self.0.start_date.map(Date)
    }

    /// The day it ended, if it has.
    async fn end_date(&self) -> Option<Date> {
        self.0.end_date.map(Date)
    }

    /// Its website.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }

    /// Areas it works in.
    list!(areas: Area = via initiative_area(initiative_id -> area_id));

    /// Its themes.
    list!(themes: Theme = via initiative_theme(initiative_id -> theme_id));

    /// Needs of residents it answers.
    list!(needs: Need = via initiative_need(initiative_id -> need_id));

    /// Its partners with their roles.
    list!(partners: Partnership = initiative_id, where roles: Option<Vec<PartnerRole>> by PartnerRole::only, "Only partners with these roles.");

    /// Support it asked the city for, most recent first.
    list!(support_requests: SupportRequest = initiative_id);

    /// Outcomes measured for it, latest period first.
    list!(outcomes: Outcome = initiative_id);

    /// Lessons drawn from it.
    list!(learnings: Learning = initiative_id);

    origin!("initiative");

    history!();
}

/// Criteria for the list of initiatives.
#[stroom_derive::filter(initiative)]
pub struct InitiativeFilter {
    /// Only initiatives in these municipalities.
    #[by(references(municipality_id, Municipality))]
    pub municipalities: Option<Vec<ID>>,
    /// Only initiatives of these programmes.
    #[by(references(programme_id, Programme))]
    pub programmes: Option<Vec<ID>>,
    /// Only initiatives with any of these themes (or narrower ones).
    #[by(linked(initiative_theme, Theme, tree))]
    pub themes: Option<Vec<ID>>,
    /// Only initiatives working in any of these areas (or areas inside them).
    #[by(linked(initiative_area, Area, tree))]
    pub areas: Option<Vec<ID>>,
    /// Only initiatives answering any of these needs.
    #[by(linked(initiative_need, Need))]
    pub needs: Option<Vec<ID>>,
    /// Only initiatives at these stages.
    #[by(one_of(stage))]
    pub stages: Option<Vec<InitiativeStage>>,
    /// Only initiatives with these business models.
    #[by(one_of(business_model))]
    pub business_models: Option<Vec<BusinessModel>>,
    /// Only initiatives of these affordabilities.
    #[by(one_of(affordability))]
    pub affordabilities: Option<Vec<Affordability>>,
    /// Only initiatives started by these kinds of initiator.
    #[by(one_of(initiator_kind))]
    pub initiator_kinds: Option<Vec<InitiatorKind>>,
    /// Only initiatives that started within this range.
    #[by(date_range(start_date))]
    pub started: Option<DateRange>,
    /// Text contained in the name or description, in any language; case and accents do not matter.
    #[by(search(Theme, initiative_theme))]
    pub search: Option<String>,
}

#[stroom_derive::order(initiative, "initiatives")]
pub enum InitiativeOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    /// The name in the request's locale.
    #[sort(localized = name)]
    Name,
    /// The start date (initiatives without one come last).
    #[sort(date = start_date, nullable)]
    StartDate,
}

#[stroom_derive::query]
impl InitiativeQuery {
    /// Circular initiatives.
    records!(initiatives: Initiative, InitiativeFilter, InitiativeOrder = "oldest record first");
}
