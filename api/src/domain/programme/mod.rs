//! Programmes: a city's circular programme (Stroom) or an interregional project.
pub mod mutation;

use async_graphql::{Context, ID, SimpleObject};
use entity::programme;
use sea_orm::sea_query::ExprTrait;

use crate::domain::initiative::Initiative;
use crate::domain::learning::Learning;
use crate::domain::municipality::Municipality;
use crate::domain::need::Need;
use crate::domain::organisation::{ContactPerson, Organisation, require_personal_data_access};
use crate::domain::outcome::Outcome;
use crate::domain::partnership::{PartnerRole, Partnership};
use crate::domain::theme::Theme;
use crate::graphql::common::DateRange;
use crate::graphql::context::viewer;
use crate::graphql::filter::Filter;
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::loader::{Link, reference};
use crate::graphql::pagination::{PageArgs, children_where};
use crate::graphql::scalars::{Date, Decimal};
use crate::kernel::record::col;

crate::record_table! {
    programme: Programme {
        references: [municipality_id => Municipality, contact_person_id => ContactPerson],
        texts: [name = NAME_MAX, summary = TEXT_MAX, funding_channel as "fundingChannel" = NAME_MAX, staffing = NAME_MAX],
        search: [name, summary],
        municipality_or_shared: municipality_id,
    }
    table {
        const COPIED: bool = true;
    }
}

/// A budget range in euro.
#[derive(SimpleObject, Debug, Clone)]
pub struct BudgetRange {
    /// The lower bound, in euro.
    pub minimum: Option<Decimal>,
    /// The upper bound, in euro.
    pub maximum: Option<Decimal>,
    /// ISO 4217 currency code: always `EUR`.
    pub currency: &'static str,
}

/// A circular programme of a city (such as Mechelen's Stroom), or an interregional project
/// run by a network of partners (such as CECI).
#[stroom_derive::record(programme)]
impl Programme {
    id!("programme");

    /// The name, in the requested locale (with fallback to other translations).
    text!(name: String, "Every translation of the name.");

    /// What the programme is and why it exists, in the requested locale.
    text!(summary: Option<String>, "Every translation of the summary.");

    /// The municipality that runs the programme; null for a project run by a network.
    reference!(municipality: Option<Municipality> = municipality_id);

    /// The first day of the programme.
    async fn start_date(&self) -> Option<Date> {
        self.0.start_date.map(Date)
    }

    /// The last day of the programme, if it has ended or has a set end.
    async fn end_date(&self) -> Option<Date> {
        self.0.end_date.map(Date)
    }

    /// The investment, as a range in euro.
    async fn budget(&self) -> Option<BudgetRange> {
        if self.0.budget_min_eur.is_none() && self.0.budget_max_eur.is_none() {
            return None;
        }
        Some(BudgetRange {
            minimum: self.0.budget_min_eur.map(|v| Decimal(v.into())),
            maximum: self.0.budget_max_eur.map(|v| Decimal(v.into())),
            currency: "EUR",
        })
    }

    /// How the programme is funded (such as "Flemish subsidies"), in the requested locale.
    text!(funding_channel: Option<String>, "Every translation of the funding channel.");

    /// The staff working on the programme (such as "one half-time worker"), in the requested locale.
    text!(staffing: Option<String>, "Every translation of the staffing.");

    /// The staff in full-time equivalents (0.5 for one half-time worker).
    async fn staffing_fte(&self) -> Option<Decimal> {
        self.0
            .staffing_fte_centi
            .map(|c| Decimal(rust_decimal::Decimal::new(c.into(), 2).normalize()))
    }

    /// The programme's website.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }

    /// The programme's contact person. Personal data: only with a partner, editor or admin
    /// API key; anonymous requests get an `UNAUTHENTICATED` error here.
    async fn contact(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ContactPerson>> {
        require_personal_data_access(viewer(ctx))?;
        reference(ctx, self.0.contact_person_id).await
    }

    /// Themes the programme works on.
    list!(themes: Theme = via programme_theme(programme_id -> theme_id));

    /// The department that coordinates the programme.
    async fn coordinating_department(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Organisation>> {
        let page = children_where::<Partnership>(
            ctx,
            Link::column(entity::partnership::Column::ProgrammeId),
            self.0.id,
            PartnerRole::only(Some(vec![PartnerRole::Coordinator])),
            PageArgs {
                first: Some(1),
                ..Default::default()
            },
        )
        .await?;
        match page.first_node() {
            Some(partnership) => reference(ctx, Some(partnership.0.organisation_id)).await,
            None => Ok(None),
        }
    }

    /// Partners of the programme with their roles (funder, coordinator, steering group,
    /// co-designer, dissemination…).
    list!(partners: Partnership = programme_id, where roles: Option<Vec<PartnerRole>> by PartnerRole::only, "Only partners with these roles (such as STEERING_GROUP for the involved departments).");

    /// Needs mapped in the programme.
    list!(needs: Need = programme_id);

    /// Initiatives started or supported by the programme.
    list!(initiatives: Initiative = programme_id);

    /// Lessons drawn from the programme.
    list!(learnings: Learning = programme_id);

    /// Outcomes measured for the programme as a whole, latest period first.
    list!(outcomes: Outcome = programme_id);

    origin!("programme");

    history!();
}

/// Criteria for the list of programmes.
#[stroom_derive::filter(programme)]
pub struct ProgrammeFilter {
    /// Only programmes run by these municipalities.
    #[by(references(municipality_id, Municipality))]
    pub municipalities: Option<Vec<ID>>,
    /// Only programmes with any of these themes (or narrower ones).
    #[by(linked(programme_theme, Theme, tree))]
    pub themes: Option<Vec<ID>>,
    /// Only programmes that started within this range.
    #[by(date_range(start_date))]
    pub started: Option<DateRange>,
    /// Only programmes still running on this day (started, and not ended before it).
    #[by(with = active_on)]
    pub active_on: Option<Date>,
    /// Text contained in the name or summary, in any language; case and accents do not matter.
    #[by(search(Theme, programme_theme))]
    pub search: Option<String>,
}

/// Started on or before the day, and not ended before it.
fn active_on(
    f: &mut Filter,
    _request: &crate::graphql::context::RequestContext,
    day: &Date,
) -> Result<(), crate::kernel::error::ApiError> {
    f.condition(col(programme::Column::StartDate).lte(day.0));
    f.condition(
        col(programme::Column::EndDate)
            .is_null()
            .or(col(programme::Column::EndDate).gte(day.0)),
    );
    Ok(())
}

#[stroom_derive::order(programme, "programmes")]
pub enum ProgrammeOrderField {
    /// The start date (programmes without one come last).
    #[default]
    #[sort(date = start_date, nullable)]
    StartDate,
    /// The name in the request's locale.
    #[sort(localized = name)]
    Name,
}

#[stroom_derive::query]
impl ProgrammeQuery {
    /// Circular programmes and interregional projects.
    records!(programmes: Programme, ProgrammeFilter, ProgrammeOrder = "by start date");
}
