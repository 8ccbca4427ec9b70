//! Recording outcomes: a measured value of an indicator, in its unit, over a period.
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::outcome;

use super::{Outcome, to_micro};
use crate::domain::indicator::Unit;
use crate::graphql::input::{TEXT_MAX, TranslationInput, id, text, url};
use crate::graphql::mutation::{Changes, editable};
use crate::graphql::scalars::{Date, Decimal};
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{Problems, UserError, Write, WriteResult, same_municipality};
use crate::payload;

payload!(
    /// The result of a change to an outcome.
    OutcomePayload { outcome: Outcome }
);

/// A measured value.
#[derive(InputObject)]
pub struct RecordOutcomeInput {
    /// What was measured.
    pub indicator: ID,
    /// The unit of the value: it must be the indicator's, so no value is read in the wrong unit.
    pub unit: Unit,
    /// The value (exact decimal, at most 6 decimals, not negative).
    pub value: Decimal,
    /// The first day of the period measured.
    pub period_start: Date,
    /// The last day of the period measured.
    pub period_end: Date,
    /// The initiative measured.
    pub initiative: Option<ID>,
    /// The programme measured (as a whole, or the initiative's programme).
    pub programme: Option<ID>,
    /// The municipality, when neither the initiative nor the programme tells it.
    pub municipality: Option<ID>,
    /// The area the value was measured in.
    pub area: Option<ID>,
    /// How the value was measured or estimated, in one or more languages.
    pub method: Option<Vec<TranslationInput>>,
    /// Where the value comes from: a report, a register or a URL.
    pub source: Option<String>,
    /// Whether the value was checked against its source.
    pub verified: Option<bool>,
}

/// Corrections to an outcome; fields left out stay as they are.
#[stroom_derive::update(outcome, "outcome")]
pub struct UpdateOutcomeInput {
    /// The unit of a new value (required with `value`): the indicator's.
    pub unit: Option<Unit>,
    /// The corrected value.
    pub value: Option<Decimal>,
    /// The first day of the period.
    #[set]
    pub period_start: Option<Date>,
    /// The last day of the period.
    #[set]
    pub period_end: Option<Date>,
    /// The area (null: none).
    pub area: MaybeUndefined<ID>,
    /// The method: replaces every translation (null: none).
    #[set(text = TEXT_MAX)]
    pub method: MaybeUndefined<Vec<TranslationInput>>,
    /// The source (null: none).
    #[set(check = source)]
    pub source: MaybeUndefined<String>,
    /// Whether the value was checked against its source.
    #[set]
    pub verified: Option<bool>,
}

fn value(field: &str, value: Decimal) -> Result<i64, UserError> {
    if value.0.is_sign_negative() && !value.0.is_zero() {
        return Err(UserError::invalid(
            field,
            "A measured value cannot be negative.",
        ));
    }
    to_micro(value.0).map_err(|m| UserError::invalid(field, m))
}

fn source(field: &str, text: &str) -> Result<String, UserError> {
    let text = text.trim();
    if text.starts_with("http") {
        return url(field, text);
    }
    crate::graphql::input::plain(field, text, 2048)
}

async fn check_unit(write: &Write, indicator: i64, unit: Unit) -> WriteResult<()> {
    let indicator = write
        .live::<entity::indicator::Entity>("indicator", indicator)
        .await?;
    let expected: Unit = indicator.unit.into();
    if expected != unit {
        return Err(UserError::invalid(
            "unit",
            format!(
                "The indicator `{}` is measured in {}, not in {}.",
                indicator.code,
                entity::enums::Unit::from(expected).as_str(),
                entity::enums::Unit::from(unit).as_str()
            ),
        )
        .into());
    }
    Ok(())
}

pub async fn record(write: &Write, input: RecordOutcomeInput) -> WriteResult<outcome::Model> {
    let mut problems = Problems::default();
    let indicator = problems.check(id("indicator", &input.indicator, NodeKind::Indicator));
    let value_micro = problems.check(value("value", input.value));
    let initiative = input
        .initiative
        .as_ref()
        .and_then(|i| problems.check(id("initiative", i, NodeKind::Initiative)));
    let programme = input
        .programme
        .as_ref()
        .and_then(|p| problems.check(id("programme", p, NodeKind::Programme)));
    let municipality = input
        .municipality
        .as_ref()
        .and_then(|m| problems.check(id("municipality", m, NodeKind::Municipality)));
    let area = input
        .area
        .as_ref()
        .and_then(|a| problems.check(id("area", a, NodeKind::Area)));
    let method = problems.check(text(
        "method",
        input.method.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    ));
    let source = input
        .source
        .as_deref()
        .and_then(|s| problems.check(source("source", s)));
    problems.check(crate::graphql::input::date_order(
        "periodEnd",
        Some(input.period_start.0),
        Some(input.period_end.0),
    ));
    if input.initiative.is_none() && input.programme.is_none() {
        problems.push(UserError::invalid(
            "initiative",
            "An outcome is an initiative's or a programme's: give `initiative` or `programme`.",
        ));
    }
    problems.finish()?;
    let (Some(indicator), Some(value_micro), Some(method)) = (indicator, value_micro, method)
    else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    check_unit(write, indicator, input.unit).await?;
    // The municipality: the initiative's, else the programme's, else the one given.
    let mut owner = municipality;
    let mut programme_id = programme;
    if let Some(initiative) = initiative {
        let i = write
            .live::<entity::initiative::Entity>("initiative", initiative)
            .await?;
        if let Some(given) = owner {
            same_municipality("municipality", given, Some(i.municipality_id), "initiative")?;
        }
        owner = Some(i.municipality_id);
        programme_id = programme_id.or(i.programme_id);
    }
    if let Some(programme) = programme {
        let p = write
            .live::<entity::programme::Entity>("programme", programme)
            .await?;
        if let (Some(given), Some(own)) = (owner, p.municipality_id) {
            same_municipality("programme", given, Some(own), "programme")?;
        }
        owner = owner.or(p.municipality_id);
    }
    let Some(owner) = owner else {
        return Err(UserError::invalid(
            "municipality",
            "Name the municipality: the programme is run by a network.",
        )
        .into());
    };
    write.may_write(Some(owner))?;
    if let Some(area) = area {
        let a = write.live::<entity::area::Entity>("area", area).await?;
        same_municipality("area", owner, Some(a.municipality_id), "area")?;
    }
    let model = crate::new_record!(outcome::Model {
        indicator_id: indicator,
        municipality_id: owner,
        initiative_id: initiative,
        programme_id,
        area_id: area,
        period_start: input.period_start.0,
        period_end: input.period_end.0,
        value_micro,
        method,
        source,
        verified: input.verified.unwrap_or(false),
    });
    write
        .insert_audited::<outcome::Entity>(Some(owner), model)
        .await
}

pub async fn update(write: &Write, input: UpdateOutcomeInput) -> WriteResult<outcome::Model> {
    let (_, before, municipality) = editable::<outcome::Entity>(write, &input.id).await?;
    let (mut after, mut problems) = input.changed(&before);
    if let Some(v) = input.value {
        match input.unit {
            Some(unit) => check_unit(write, before.indicator_id, unit).await?,
            None => problems.push(UserError::invalid(
                "unit",
                "A new value needs its `unit`, the indicator's.",
            )),
        }
        if let Some(v) = problems.check(value("value", v)) {
            after.value_micro = v;
        }
    }
    problems.check(crate::graphql::input::date_order(
        "periodEnd",
        Some(after.period_start),
        Some(after.period_end),
    ));
    let area = input
        .area
        .value()
        .and_then(|a| problems.check(crate::graphql::input::id("area", a, NodeKind::Area)));
    problems.finish()?;
    match &input.area {
        MaybeUndefined::Value(_) => {
            if let Some(area) = area {
                let a = write.live::<entity::area::Entity>("area", area).await?;
                same_municipality(
                    "area",
                    before.municipality_id,
                    Some(a.municipality_id),
                    "area",
                )?;
                after.area_id = Some(area);
            }
        }
        MaybeUndefined::Null => after.area_id = None,
        MaybeUndefined::Undefined => {}
    }
    write
        .replace_audited::<outcome::Entity>(input.version, municipality, &before, after)
        .await
}

#[stroom_derive::mutations]
impl OutcomeMutation {
    /// Records a measured value of an indicator.
    change!(record_outcome(input: RecordOutcomeInput = "The value and what it measures.") -> OutcomePayload = record);

    /// Corrects an outcome.
    change!(update_outcome(input: UpdateOutcomeInput = "The corrections.") -> OutcomePayload = update);

    /// Archives an outcome (a mistaken one): it leaves lists and sums, but nothing is lost.
    archive!(archive_outcome(input = "The outcome and the version you last read.") -> OutcomePayload);

    /// Brings an archived outcome back.
    archive!(unarchive_outcome(input = "The outcome and the version you last read.") -> OutcomePayload);
}
