//! Changing programmes.
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::{programme, programme_theme, theme};

use super::Programme;
use crate::graphql::input::{
    NAME_MAX, TEXT_MAX, TranslationInput, date_order, euro, id, text, url,
};
use crate::graphql::mutation::{Changes, editable, linked_ids, set_reference};
use crate::graphql::scalars::{Date, Decimal};
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{Links, Problems, UserError, Write, WriteResult};
use crate::payload;

payload!(
    /// The result of a change to a programme.
    ProgrammePayload { programme: Programme }
);

/// A budget range in whole euro.
#[derive(InputObject, Clone, Copy)]
pub struct BudgetRangeInput {
    /// The lower bound.
    pub minimum: Option<Decimal>,
    /// The upper bound (not below the lower one).
    pub maximum: Option<Decimal>,
}

/// A new programme.
#[derive(InputObject)]
pub struct CreateProgrammeInput {
    /// The municipality that runs it; none for a project run by a network (admin only).
    pub municipality: Option<ID>,
    /// Its name, in one or more languages.
    pub name: Vec<TranslationInput>,
    /// What it is and why, in one or more languages.
    pub summary: Option<Vec<TranslationInput>>,
    /// The first day.
    pub start_date: Option<Date>,
    /// The last day.
    pub end_date: Option<Date>,
    /// The investment in euro.
    pub budget: Option<BudgetRangeInput>,
    /// How it is funded, in one or more languages.
    pub funding_channel: Option<Vec<TranslationInput>>,
    /// Its staff, in words, in one or more languages.
    pub staffing: Option<Vec<TranslationInput>>,
    /// Its staff in full-time equivalents (0.5 for one half-time worker).
    pub staffing_fte: Option<Decimal>,
    /// Its website.
    pub website: Option<String>,
    /// Its contact person.
    pub contact: Option<ID>,
    /// Its themes.
    pub themes: Option<Vec<ID>>,
}

/// Changes to a programme; fields left out stay as they are, fields set to null are cleared.
#[stroom_derive::update(programme, "programme")]
pub struct UpdateProgrammeInput {
    /// The name: replaces every translation.
    #[set(text = NAME_MAX)]
    pub name: Option<Vec<TranslationInput>>,
    /// The summary: replaces every translation (null: none).
    #[set(text = TEXT_MAX)]
    pub summary: MaybeUndefined<Vec<TranslationInput>>,
    /// The first day (null: unknown).
    #[set]
    pub start_date: MaybeUndefined<Date>,
    /// The last day (null: open-ended).
    #[set]
    pub end_date: MaybeUndefined<Date>,
    /// The investment (null: unknown).
    pub budget: MaybeUndefined<BudgetRangeInput>,
    /// How it is funded: replaces every translation (null: unknown).
    #[set(text = NAME_MAX)]
    pub funding_channel: MaybeUndefined<Vec<TranslationInput>>,
    /// Its staff in words: replaces every translation (null: unknown).
    #[set(text = NAME_MAX)]
    pub staffing: MaybeUndefined<Vec<TranslationInput>>,
    /// Its staff in full-time equivalents (null: unknown).
    #[set(check = |_, staff| fte(staff), column = staffing_fte_centi)]
    pub staffing_fte: MaybeUndefined<Decimal>,
    /// Its website (null: none).
    #[set(check = url)]
    pub website: MaybeUndefined<String>,
    /// Its contact person (null: none).
    pub contact: MaybeUndefined<ID>,
    /// Its themes: replaces the list.
    pub themes: Option<Vec<ID>>,
}

fn budget(input: &BudgetRangeInput) -> Result<(Option<i64>, Option<i64>), UserError> {
    let minimum = input
        .minimum
        .map(|m| euro("budget.minimum", m.0))
        .transpose()?;
    let maximum = input
        .maximum
        .map(|m| euro("budget.maximum", m.0))
        .transpose()?;
    if let (Some(min), Some(max)) = (minimum, maximum)
        && max < min
    {
        return Err(UserError::invalid(
            "budget.maximum",
            format!("The maximum ({max}) is below the minimum ({min})."),
        ));
    }
    Ok((minimum, maximum))
}

fn fte(value: Decimal) -> Result<i32, UserError> {
    let hundredths = value.0 * rust_decimal::Decimal::from(100);
    if value.0.is_sign_negative()
        || hundredths.fract() != rust_decimal::Decimal::ZERO
        || value.0 > rust_decimal::Decimal::from(10_000)
    {
        return Err(UserError::invalid(
            "staffingFte",
            "Staff in full-time equivalents: 0 or more, with at most 2 decimals.",
        ));
    }
    i32::try_from(hundredths)
        .map_err(|_| UserError::invalid("staffingFte", "Too many full-time equivalents."))
}

async fn check_contact(write: &Write, contact: &ID) -> WriteResult<i64> {
    let contact = id("contact", contact, NodeKind::ContactPerson)?;
    write
        .live::<entity::contact_person::Entity>("contact", contact)
        .await?;
    Ok(contact)
}

/// A programme's themes, in the `programme_theme` table.
const THEMES: Links<programme_theme::Column> = Links::new::<programme::Entity, theme::Entity>(
    programme_theme::Column::ProgrammeId,
    programme_theme::Column::ThemeId,
);

pub async fn create(write: &Write, input: CreateProgrammeInput) -> WriteResult<programme::Model> {
    let mut problems = Problems::default();
    let municipality = input
        .municipality
        .as_ref()
        .and_then(|m| problems.check(id("municipality", m, NodeKind::Municipality)));
    let name = problems.check(text("name", &input.name, true, NAME_MAX));
    let summary = problems.check(text(
        "summary",
        input.summary.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    ));
    let funding = problems.check(text(
        "fundingChannel",
        input.funding_channel.as_deref().unwrap_or_default(),
        false,
        NAME_MAX,
    ));
    let staffing = problems.check(text(
        "staffing",
        input.staffing.as_deref().unwrap_or_default(),
        false,
        NAME_MAX,
    ));
    let fte = input.staffing_fte.and_then(|f| problems.check(fte(f)));
    let (budget_min, budget_max) = input
        .budget
        .as_ref()
        .and_then(|b| problems.check(budget(b)))
        .unwrap_or_default();
    let website = input
        .website
        .as_deref()
        .and_then(|w| problems.check(url("website", w)));
    problems.check(date_order(
        "endDate",
        input.start_date.map(|d| d.0),
        input.end_date.map(|d| d.0),
    ));
    problems.finish()?;
    let (Some(name), Some(summary), Some(funding), Some(staffing)) =
        (name, summary, funding, staffing)
    else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    write.may_write(municipality)?;
    if let Some(m) = municipality {
        write
            .live::<entity::municipality::Entity>("municipality", m)
            .await?;
    }
    let contact = match &input.contact {
        Some(c) => Some(check_contact(write, c).await?),
        None => None,
    };
    let themes = linked_ids::<theme::Entity>(write, "themes", municipality, input.themes.as_deref()).await?;
    let model = crate::new_record!(programme::Model {
        municipality_id: municipality,
        name,
        summary,
        start_date: input.start_date.map(|d| d.0),
        end_date: input.end_date.map(|d| d.0),
        budget_min_eur: budget_min,
        budget_max_eur: budget_max,
        funding_channel: funding,
        staffing,
        staffing_fte_centi: fte,
        website,
        contact_person_id: contact,
        search_text: String::new(),
    });
    let stored = write.insert_new::<programme::Entity>(model).await?;
    let links = write
        .replace_links("themes", &THEMES, stored.id, themes.as_deref())
        .await?;
    write
        .audit_created::<programme::Entity>(municipality, &stored, links)
        .await?;
    Ok(stored)
}

pub async fn update(write: &Write, input: UpdateProgrammeInput) -> WriteResult<programme::Model> {
    let (id, before, municipality) = editable::<programme::Entity>(write, &input.id).await?;
    let (mut after, mut problems) = input.changed(&before);
    problems.check(date_order("endDate", after.start_date, after.end_date));
    match &input.budget {
        MaybeUndefined::Value(b) => {
            if let Some((min, max)) = problems.check(budget(b)) {
                after.budget_min_eur = min;
                after.budget_max_eur = max;
            }
        }
        MaybeUndefined::Null => {
            after.budget_min_eur = None;
            after.budget_max_eur = None;
        }
        MaybeUndefined::Undefined => {}
    }
    problems.finish()?;
    set_reference(&input.contact, &mut after.contact_person_id, |c| check_contact(write, c)).await?;
    let themes = linked_ids::<theme::Entity>(write, "themes", before.municipality_id, input.themes.as_deref()).await?;
    let links = write
        .replace_links("themes", &THEMES, id, themes.as_deref())
        .await?;
    write
        .replace_linked::<programme::Entity>(input.version, municipality, &before, after, links)
        .await
}

#[stroom_derive::mutations]
impl ProgrammeMutation {
    /// Starts a programme.
    change!(create_programme(input: CreateProgrammeInput = "The new programme.") -> ProgrammePayload = create);

    updates!(programme: ProgrammePayload, "a programme");

    archives!(programme: ProgrammePayload, "a programme");
}
