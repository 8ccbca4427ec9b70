//! Copies of a followed instance's records: what the source shows of a learning (and of the
//! municipality, programme and initiative it comes from) becomes a local row written through
//! the write frame like any change, with a `remote_copy` row saying where it comes from.
//! Nothing here trusts the source: every value is checked as an input would be, and a record
//! that does not pass refuses the whole batch.
use async_graphql::InputType;
use chrono::NaiveDate;
use entity::{
    LocalizedText, followed_instance, indicator, initiative, learning, learning_endorsement,
    municipality, outcome,
    programme, remote_copy, theme,
};
use sea_orm::{ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::Value;

use super::source::Problem;
use crate::graphql::input::{NAME_MAX, TEXT_MAX, locale};
use crate::kernel::time::now;
use crate::kernel::record::Record;
use crate::kernel::write::{Write, WriteResult, version_of};

/// What is read of each learning at the source.
pub const LEARNING_SELECTION: &str = "... on Learning { id version kind audience position archivedAt \
    titleTranslations { locale text } bodyTranslations { locale text } \
    themes(first: 100) { nodes { code } } \
    endorsements(first: 100) { nodes { id municipality { ...Place } noteTranslations { locale text } } } \
    municipality { ...Place } programme { ...CopiedProgramme } initiative { ...CopiedInitiative } } \
    ... on LearningEndorsement { id learning { id } }";

/// What is read of each outcome at the source: its indicator by code, so outcomes compare.
pub const OUTCOME_SELECTION: &str = "... on Outcome { id version archivedAt value periodStart periodEnd \
    source verified methodTranslations { locale text } \
    indicator { id code unit higherIsBetter nameTranslations { locale text } descriptionTranslations { locale text } } \
    municipality { ...Place } programme { ...CopiedProgramme } initiative { ...CopiedInitiative } }";

/// The fragments both selections use.
pub const FRAGMENTS: &str = "fragment Place on Municipality { id country defaultLocale nameTranslations { locale text } } \
    fragment CopiedProgramme on Programme { id nameTranslations { locale text } summaryTranslations { locale text } \
      startDate endDate municipality { id } } \
    fragment CopiedInitiative on Initiative { id nameTranslations { locale text } descriptionTranslations { locale text } \
      initiatorKind stage businessModel affordability startDate endDate municipality { ...Place } }";

/// A learning as the source shows it, checked.
#[derive(Debug)]
pub struct RemoteLearning {
    pub version: i32,
    pub kind: entity::enums::LearningKind,
    pub audience: entity::enums::Audience,
    pub position: Option<i64>,
    pub title: LocalizedText,
    pub body: LocalizedText,
    pub theme_codes: Vec<String>,
    pub municipality: RemoteMunicipality,
    pub programme: Option<RemoteProgramme>,
    pub initiative: Option<RemoteInitiative>,
    /// Other municipalities that saw it too, as the source shows them.
    pub endorsements: Vec<RemoteEndorsement>,
}

#[derive(Debug)]
pub struct RemoteEndorsement {
    pub id: String,
    pub municipality: RemoteMunicipality,
    pub note: LocalizedText,
}

#[derive(Debug, Clone)]
pub struct RemoteMunicipality {
    pub id: String,
    pub country: String,
    pub default_locale: String,
    pub name: LocalizedText,
}

#[derive(Debug)]
pub struct RemoteProgramme {
    pub id: String,
    pub name: LocalizedText,
    pub summary: LocalizedText,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// Whether it is run by the learning's municipality (else by a network).
    pub same_municipality: bool,
}

#[derive(Debug)]
pub struct RemoteInitiative {
    pub id: String,
    pub name: LocalizedText,
    pub description: LocalizedText,
    pub initiator_kind: entity::enums::InitiatorKind,
    pub stage: entity::enums::InitiativeStage,
    pub business_model: entity::enums::BusinessModel,
    pub affordability: entity::enums::Affordability,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub municipality: RemoteMunicipality,
}

/// Checks one learning of the source's answer: `None` when the source shows it no more (null,
/// or archived).
pub fn learning(asked: &str, node: &Value) -> Result<Option<RemoteLearning>, Problem> {
    if node.is_null() || !node["archivedAt"].is_null() {
        return Ok(None);
    }
    let at = |field: &str| format!("learning {asked}: {field}");
    let id = text(node, "id", 255).ok_or_else(|| bad(at("id")))?;
    if id != asked {
        return Err(bad(format!("learning {asked}: the source answered {id} instead")));
    }
    let position = match &node["position"] {
        Value::Null => None,
        value => Some(
            value
                .as_i64()
                .filter(|p| (1..=100_000).contains(p))
                .ok_or_else(|| bad(at("position")))?,
        ),
    };
    let mut theme_codes = Vec::new();
    for theme in node["themes"]["nodes"].as_array().ok_or_else(|| bad(at("themes")))? {
        theme_codes.push(text(theme, "code", 64).ok_or_else(|| bad(at("themes.code")))?);
    }
    let municipality = place(&node["municipality"]).ok_or_else(|| bad(at("municipality")))?;
    let programme = programme(&node["programme"], &municipality, &at)?;
    let initiative = initiative(&node["initiative"], &at)?;
    let mut endorsements = Vec::new();
    for e in node["endorsements"]["nodes"]
        .as_array()
        .ok_or_else(|| bad(at("endorsements")))?
    {
        endorsements.push(RemoteEndorsement {
            id: text(e, "id", 255).ok_or_else(|| bad(at("endorsements.id")))?,
            municipality: place(&e["municipality"])
                .ok_or_else(|| bad(at("endorsements.municipality")))?,
            note: translations(&e["noteTranslations"], TEXT_MAX, false)
                .ok_or_else(|| bad(at("endorsements.note")))?,
        });
    }
    Ok(Some(RemoteLearning {
        endorsements,
        version: node["version"]
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| bad(at("version")))?,
        kind: value::<crate::domain::learning::LearningKind>(&node["kind"])
            .ok_or_else(|| bad(at("kind")))?
            .into(),
        audience: value::<crate::domain::learning::Audience>(&node["audience"])
            .ok_or_else(|| bad(at("audience")))?
            .into(),
        position,
        title: translations(&node["titleTranslations"], NAME_MAX, true)
            .ok_or_else(|| bad(at("title")))?,
        body: translations(&node["bodyTranslations"], TEXT_MAX, true)
            .ok_or_else(|| bad(at("body")))?,
        theme_codes,
        municipality,
        programme,
        initiative,
    }))
}

/// The programme a record comes from, checked (`at` names the field in a problem).
fn programme(
    p: &Value,
    municipality: &RemoteMunicipality,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<RemoteProgramme>, Problem> {
    if p.is_null() {
        return Ok(None);
    }
    Ok(Some(RemoteProgramme {
        id: text(p, "id", 255).ok_or_else(|| bad(at("programme.id")))?,
        name: translations(&p["nameTranslations"], NAME_MAX, true)
            .ok_or_else(|| bad(at("programme.name")))?,
        summary: translations(&p["summaryTranslations"], TEXT_MAX, false)
            .ok_or_else(|| bad(at("programme.summary")))?,
        start_date: date(&p["startDate"]).ok_or_else(|| bad(at("programme.startDate")))?,
        end_date: date(&p["endDate"]).ok_or_else(|| bad(at("programme.endDate")))?,
        same_municipality: p["municipality"]["id"].as_str() == Some(municipality.id.as_str()),
    }))
}

/// The initiative a record comes from, checked.
fn initiative(i: &Value, at: &dyn Fn(&str) -> String) -> Result<Option<RemoteInitiative>, Problem> {
    if i.is_null() {
        return Ok(None);
    }
    Ok(Some(RemoteInitiative {
        id: text(i, "id", 255).ok_or_else(|| bad(at("initiative.id")))?,
        name: translations(&i["nameTranslations"], NAME_MAX, true)
            .ok_or_else(|| bad(at("initiative.name")))?,
        description: translations(&i["descriptionTranslations"], TEXT_MAX, false)
            .ok_or_else(|| bad(at("initiative.description")))?,
        initiator_kind: value::<crate::domain::initiative::InitiatorKind>(&i["initiatorKind"])
            .ok_or_else(|| bad(at("initiative.initiatorKind")))?
            .into(),
        stage: value::<crate::domain::initiative::InitiativeStage>(&i["stage"])
            .ok_or_else(|| bad(at("initiative.stage")))?
            .into(),
        business_model: value::<crate::domain::initiative::BusinessModel>(&i["businessModel"])
            .ok_or_else(|| bad(at("initiative.businessModel")))?
            .into(),
        affordability: value::<crate::domain::initiative::Affordability>(&i["affordability"])
            .ok_or_else(|| bad(at("initiative.affordability")))?
            .into(),
        start_date: date(&i["startDate"]).ok_or_else(|| bad(at("initiative.startDate")))?,
        end_date: date(&i["endDate"]).ok_or_else(|| bad(at("initiative.endDate")))?,
        municipality: place(&i["municipality"]).ok_or_else(|| bad(at("initiative.municipality")))?,
    }))
}

/// An outcome as the source shows it, checked.
#[derive(Debug)]
pub struct RemoteOutcome {
    pub version: i32,
    pub indicator: RemoteIndicator,
    pub municipality: RemoteMunicipality,
    pub programme: Option<RemoteProgramme>,
    pub initiative: Option<RemoteInitiative>,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub value_micro: i64,
    pub method: LocalizedText,
    pub source: Option<String>,
    pub verified: bool,
}

#[derive(Debug)]
pub struct RemoteIndicator {
    pub id: String,
    pub code: String,
    pub unit: entity::enums::Unit,
    pub higher_is_better: bool,
    pub name: LocalizedText,
    pub description: LocalizedText,
}

/// Checks one outcome of the source's answer: `None` when the source shows it no more.
pub fn outcome(asked: &str, node: &Value) -> Result<Option<RemoteOutcome>, Problem> {
    if node.is_null() || !node["archivedAt"].is_null() {
        return Ok(None);
    }
    let at = |field: &str| format!("outcome {asked}: {field}");
    if text(node, "id", 255).as_deref() != Some(asked) {
        return Err(bad(at("id")));
    }
    let i = &node["indicator"];
    let indicator = RemoteIndicator {
        id: text(i, "id", 255).ok_or_else(|| bad(at("indicator.id")))?,
        code: text(i, "code", 64)
            .filter(|c| c.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .ok_or_else(|| bad(at("indicator.code")))?,
        unit: value::<crate::domain::indicator::Unit>(&i["unit"])
            .ok_or_else(|| bad(at("indicator.unit")))?
            .into(),
        higher_is_better: i["higherIsBetter"]
            .as_bool()
            .ok_or_else(|| bad(at("indicator.higherIsBetter")))?,
        name: translations(&i["nameTranslations"], NAME_MAX, true)
            .ok_or_else(|| bad(at("indicator.name")))?,
        description: translations(&i["descriptionTranslations"], TEXT_MAX, false)
            .ok_or_else(|| bad(at("indicator.description")))?,
    };
    let municipality = place(&node["municipality"]).ok_or_else(|| bad(at("municipality")))?;
    let period_start = date(&node["periodStart"])
        .flatten()
        .ok_or_else(|| bad(at("periodStart")))?;
    let period_end = date(&node["periodEnd"])
        .flatten()
        .filter(|end| *end >= period_start)
        .ok_or_else(|| bad(at("periodEnd")))?;
    let value_micro = node["value"]
        .as_str()
        .and_then(|v| v.parse::<rust_decimal::Decimal>().ok())
        .and_then(|v| v.checked_mul(rust_decimal::Decimal::from(1_000_000)))
        .filter(|v| v.fract().is_zero() && !v.is_sign_negative())
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| bad(at("value")))?;
    let source = match &node["source"] {
        Value::Null => None,
        _ => Some(text(node, "source", 2000).ok_or_else(|| bad(at("source")))?),
    };
    Ok(Some(RemoteOutcome {
        version: node["version"]
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| bad(at("version")))?,
        programme: programme(&node["programme"], &municipality, &at)?,
        initiative: initiative(&node["initiative"], &at)?,
        indicator,
        municipality,
        period_start,
        period_end,
        value_micro,
        method: translations(&node["methodTranslations"], TEXT_MAX, false)
            .ok_or_else(|| bad(at("method")))?,
        source,
        verified: node["verified"].as_bool().ok_or_else(|| bad(at("verified")))?,
    }))
}

/// The learning an endorsement of the source's endorses (`None`: it shows neither).
pub fn endorsed(asked: &str, node: &Value) -> Result<Option<String>, Problem> {
    if node.is_null() || node["learning"].is_null() {
        return Ok(None);
    }
    text(&node["learning"], "id", 255)
        .map(Some)
        .ok_or_else(|| bad(format!("endorsement {asked}: learning")))
}

fn bad(what: String) -> Problem {
    Problem(format!("The source sent an invalid {what}."))
}

fn text(value: &Value, field: &str, max: usize) -> Option<String> {
    value[field]
        .as_str()
        .filter(|t| !t.trim().is_empty() && t.chars().count() <= max)
        .map(str::to_owned)
}

/// An enumeration value as the API spells it (`SUCCESS_FACTOR`).
fn value<T: InputType>(value: &Value) -> Option<T> {
    let value = async_graphql::Value::from_json(value.clone()).ok()?;
    T::parse(Some(value)).ok()
}

/// A date, or none; `None` when it is not one.
fn date(value: &Value) -> Option<Option<NaiveDate>> {
    match value {
        Value::Null => Some(None),
        Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(Some),
        _ => None,
    }
}

/// Every translation of a text, each checked as an input's (a known locale, a length within
/// the limit, no locale twice).
fn translations(value: &Value, max: usize, required: bool) -> Option<LocalizedText> {
    let items = value.as_array()?;
    if items.len() > 64 || (required && items.is_empty()) {
        return None;
    }
    let mut text = LocalizedText::new();
    for item in items {
        let code = locale("locale", item["locale"].as_str()?).ok()?;
        let content = item["text"].as_str()?;
        if content.trim().is_empty() || content.chars().count() > max || text.0.contains_key(&code) {
            return None;
        }
        text = text.with(&code, content);
    }
    Some(text)
}

fn place(value: &Value) -> Option<RemoteMunicipality> {
    Some(RemoteMunicipality {
        id: text(value, "id", 255)?,
        country: text(value, "country", 2).filter(|c| c.chars().all(|c| c.is_ascii_uppercase()))?,
        default_locale: locale("defaultLocale", value["defaultLocale"].as_str()?).ok()?,
        name: translations(&value["nameTranslations"], NAME_MAX, true)?,
    })
}

/// The local row a record of the source was copied to.
async fn copy_of(
    write: &Write,
    instance: i64,
    table: &str,
    remote_id: &str,
) -> WriteResult<Option<remote_copy::Model>> {
    Ok(remote_copy::Entity::find()
        .filter(remote_copy::Column::FollowedInstanceId.eq(instance))
        .filter(remote_copy::Column::SubjectType.eq(table))
        .filter(remote_copy::Column::RemoteId.eq(remote_id))
        .one(&write.txn)
        .await?)
}

/// Notes that `subject` of `table` is the copy of `remote_id`, fetched now.
async fn note_copy(
    write: &Write,
    instance: i64,
    table: &str,
    subject: i64,
    remote_id: &str,
    remote_version: Option<i32>,
    existing: Option<remote_copy::Model>,
) -> WriteResult<()> {
    match existing {
        Some(copy) => {
            let mut active = copy.into_active_model();
            active.remote_version = ActiveValue::Set(remote_version);
            active.fetched_at = ActiveValue::Set(now());
            active.withdrawn_at = ActiveValue::Set(None);
            active.update(&write.txn).await?;
        }
        None => {
            remote_copy::ActiveModel {
                id: ActiveValue::NotSet,
                followed_instance_id: ActiveValue::Set(instance),
                subject_type: ActiveValue::Set(table.to_owned()),
                subject_id: ActiveValue::Set(subject),
                remote_id: ActiveValue::Set(remote_id.to_owned()),
                remote_version: ActiveValue::Set(remote_version),
                fetched_at: ActiveValue::Set(now()),
                withdrawn_at: ActiveValue::Set(None),
            }
            .insert(&write.txn)
            .await?;
        }
    }
    Ok(())
}

/// Writes the copy of a record of the source: `made` makes it from the copy as it is (none yet:
/// a new one); a copy that would not change is left alone. Its row ID.
async fn upsert_copy<E>(
    write: &Write,
    instance: i64,
    remote: (&str, Option<i32>),
    owner: Option<i64>,
    made: impl FnOnce(Option<&E::Model>) -> E::Model,
) -> WriteResult<i64>
where
    E: Record,
    E::Model: IntoActiveModel<E::ActiveModel> + PartialEq,
    E::ActiveModel: sea_orm::ActiveModelBehavior,
{
    let (remote_id, remote_version) = remote;
    let existing = copy_of(write, instance, E::NAME, remote_id).await?;
    let id = match &existing {
        Some(copy) => {
            let mut before = write.existing::<E>(copy.subject_id).await?;
            // Shown again at the source: back here too.
            if archived::<E>(&before)
                && let Some(version) = version_of::<E>(&before)
            {
                before = write.set_archived::<E>(copy.subject_id, version, false).await?;
            }
            let after = made(Some(&before));
            if after != before {
                let version = version_of::<E>(&before).unwrap_or(1);
                write
                    .replace_audited::<E>(version, owner, &before, after)
                    .await?;
            }
            copy.subject_id
        }
        None => E::id(&write.insert_audited::<E>(owner, made(None)).await?),
    };
    note_copy(write, instance, E::NAME, id, remote_id, remote_version, existing).await?;
    Ok(id)
}

/// The local municipality a source's municipality is: this instance's own record of the
/// same country and name (partner cities know each other), else a copy.
async fn municipality_for(
    write: &Write,
    instance: i64,
    remote: &RemoteMunicipality,
) -> WriteResult<i64> {
    let names: Vec<String> = remote.name.0.values().map(|n| n.trim().to_lowercase()).collect();
    let local = municipality::Entity::find()
        .filter(municipality::Column::Country.eq(remote.country.as_str()))
        .all(&write.txn)
        .await?;
    let copies: Vec<i64> = remote_copy::Entity::find()
        .filter(remote_copy::Column::SubjectType.eq("municipality"))
        .all(&write.txn)
        .await?
        .into_iter()
        .map(|c| c.subject_id)
        .collect();
    if let Some(own) = local.iter().find(|m| {
        !copies.contains(&m.id)
            && m.archived_at.is_none()
            && m.name.0.values().any(|n| names.contains(&n.trim().to_lowercase()))
    }) {
        return Ok(own.id);
    }
    upsert_copy::<municipality::Entity>(write, instance, (&remote.id, None), None, |copy| {
        let mut made = copy.cloned().unwrap_or_else(|| {
            crate::new_record!(municipality::Model {
                name: LocalizedText::new(),
                country: remote.country.clone(),
                default_locale: String::new(),
                households: None,
                population: None,
                search_text: String::new(),
            })
        });
        made.name = remote.name.clone();
        made.default_locale = remote.default_locale.clone();
        made
    })
    .await
}

async fn programme_for(
    write: &Write,
    instance: i64,
    remote: &RemoteProgramme,
    municipality: i64,
) -> WriteResult<i64> {
    let owner = remote.same_municipality.then_some(municipality);
    upsert_copy::<programme::Entity>(write, instance, (&remote.id, None), owner, |copy| {
        let mut made = copy.cloned().unwrap_or_else(|| {
            crate::new_record!(programme::Model {
                municipality_id: None,
                name: LocalizedText::new(),
                summary: LocalizedText::new(),
                start_date: None,
                end_date: None,
                budget_min_eur: None,
                budget_max_eur: None,
                funding_channel: LocalizedText::new(),
                staffing: LocalizedText::new(),
                staffing_fte_centi: None,
                website: None,
                contact_person_id: None,
                search_text: String::new(),
            })
        });
        made.municipality_id = owner;
        made.name = remote.name.clone();
        made.summary = remote.summary.clone();
        made.start_date = remote.start_date;
        made.end_date = remote.end_date;
        made
    })
    .await
}

async fn initiative_for(
    write: &Write,
    instance: i64,
    remote: &RemoteInitiative,
) -> WriteResult<i64> {
    let owner = municipality_for(write, instance, &remote.municipality).await?;
    upsert_copy::<initiative::Entity>(write, instance, (&remote.id, None), Some(owner), |copy| {
        let mut made = copy.cloned().unwrap_or_else(|| {
            crate::new_record!(initiative::Model {
                municipality_id: owner,
                programme_id: None,
                name: LocalizedText::new(),
                description: LocalizedText::new(),
                initiator_kind: remote.initiator_kind,
                stage: remote.stage,
                start_date: None,
                end_date: None,
                business_model: remote.business_model,
                affordability: remote.affordability,
                website: None,
                search_text: String::new(),
            })
        });
        made.municipality_id = owner;
        made.name = remote.name.clone();
        made.description = remote.description.clone();
        made.initiator_kind = remote.initiator_kind;
        made.stage = remote.stage;
        made.business_model = remote.business_model;
        made.affordability = remote.affordability;
        made.start_date = remote.start_date;
        made.end_date = remote.end_date;
        made
    })
    .await
}

/// The local municipality, programme and initiative a record of the source comes from.
async fn context_for(
    write: &Write,
    instance: i64,
    municipality: &RemoteMunicipality,
    programme: Option<&RemoteProgramme>,
    initiative: Option<&RemoteInitiative>,
) -> WriteResult<(i64, Option<i64>, Option<i64>)> {
    let owner = municipality_for(write, instance, municipality).await?;
    let programme = match programme {
        Some(p) => Some(programme_for(write, instance, p, owner).await?),
        None => None,
    };
    let initiative = match initiative {
        Some(i) => Some(initiative_for(write, instance, i).await?),
        None => None,
    };
    Ok((owner, programme, initiative))
}

/// Makes the local copy of one learning what the source shows (`None`: it shows it no more,
/// so the copy is withdrawn).
pub async fn apply_learning(
    write: &Write,
    instance: &followed_instance::Model,
    remote_id: &str,
    remote: Option<&RemoteLearning>,
) -> WriteResult<()> {
    let existing = copy_of(write, instance.id, "learning", remote_id).await?;
    let Some(remote) = remote else {
        return withdraw::<learning::Entity>(write, existing).await;
    };
    let (owner, programme, initiative) = context_for(
        write,
        instance.id,
        &remote.municipality,
        remote.programme.as_ref(),
        remote.initiative.as_ref(),
    )
    .await?;
    let themes: Vec<i64> = if remote.theme_codes.is_empty() {
        Vec::new()
    } else {
        theme::Entity::find()
            .filter(theme::Column::Code.is_in(remote.theme_codes.iter().map(String::as_str)))
            .filter(theme::Column::ArchivedAt.is_null())
            .all(&write.txn)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    let themes_link = &crate::domain::learning::mutation::THEMES;
    let id = match &existing {
        Some(copy) => {
            let mut before = write.existing::<learning::Entity>(copy.subject_id).await?;
            if before.archived_at.is_some() {
                before = write
                    .set_archived::<learning::Entity>(before.id, before.version, false)
                    .await?;
            }
            let mut after = before.clone();
            after.municipality_id = owner;
            after.programme_id = programme;
            after.initiative_id = initiative;
            after.kind = remote.kind;
            after.audience = remote.audience;
            after.position = remote.position;
            // Translations made here stay beside the source's.
            let mut title = before.title.clone();
            title.0.extend(remote.title.0.clone());
            let mut body = before.body.clone();
            body.0.extend(remote.body.0.clone());
            after.title = title;
            after.body = body;
            let links = write
                .replace_links("themes", themes_link, before.id, Some(&themes))
                .await?;
            if after != before || !links.is_empty() {
                write
                    .replace_linked::<learning::Entity>(before.version, Some(owner), &before, after, links)
                    .await?;
            }
            before.id
        }
        None => {
            let model = crate::new_record!(learning::Model {
                municipality_id: owner,
                programme_id: programme,
                initiative_id: initiative,
                kind: remote.kind,
                audience: remote.audience,
                position: remote.position,
                title: remote.title.clone(),
                body: remote.body.clone(),
                search_text: String::new(),
            });
            let stored = write.insert_new::<learning::Entity>(model).await?;
            let links = write
                .replace_links("themes", themes_link, stored.id, Some(&themes))
                .await?;
            write
                .audit_created::<learning::Entity>(Some(owner), &stored, links)
                .await?;
            stored.id
        }
    };
    note_copy(write, instance.id, "learning", id, remote_id, Some(remote.version), existing).await?;
    endorsements(write, instance.id, id, &remote.endorsements).await
}

/// Copies the source's endorsements of a learning, and withdraws those it shows no more. An
/// endorsement made here by the same municipality stands for that municipality.
async fn endorsements(
    write: &Write,
    instance: i64,
    learning: i64,
    remote: &[RemoteEndorsement],
) -> WriteResult<()> {
    let here = learning_endorsement::Entity::find()
        .filter(learning_endorsement::Column::LearningId.eq(learning))
        .all(&write.txn)
        .await?;
    let copies = remote_copy::Entity::find()
        .filter(remote_copy::Column::FollowedInstanceId.eq(instance))
        .filter(remote_copy::Column::SubjectType.eq("learning_endorsement"))
        .filter(remote_copy::Column::SubjectId.is_in(here.iter().map(|e| e.id)))
        .all(&write.txn)
        .await?;
    for endorsement in remote {
        let municipality = municipality_for(write, instance, &endorsement.municipality).await?;
        let ours = here.iter().any(|e| {
            e.municipality_id == municipality && !copies.iter().any(|c| c.subject_id == e.id)
        });
        if ours {
            continue;
        }
        upsert_copy::<learning_endorsement::Entity>(
            write,
            instance,
            (&endorsement.id, None),
            Some(municipality),
            |copy| {
                let mut made = copy.cloned().unwrap_or_else(|| {
                    crate::new_record!(learning_endorsement::Model {
                        learning_id: learning,
                        municipality_id: municipality,
                        note: LocalizedText::new(),
                    })
                });
                made.note = endorsement.note.clone();
                made
            },
        )
        .await?;
    }
    for copy in copies {
        if !remote.iter().any(|e| e.id == copy.remote_id) {
            withdraw::<learning_endorsement::Entity>(write, Some(copy)).await?;
        }
    }
    Ok(())
}

/// The source shows the record no more: its copy is archived here and marked withdrawn.
async fn withdraw<E: Record>(write: &Write, copy: Option<remote_copy::Model>) -> WriteResult<()> {
    let Some(copy) = copy.filter(|c| c.withdrawn_at.is_none()) else {
        return Ok(());
    };
    let before = write.existing::<E>(copy.subject_id).await?;
    if let Some(version) = version_of::<E>(&before).filter(|_| !archived::<E>(&before)) {
        write.set_archived::<E>(copy.subject_id, version, true).await?;
    }
    let mut active = copy.into_active_model();
    active.withdrawn_at = ActiveValue::Set(Some(now()));
    active.update(&write.txn).await?;
    Ok(())
}

fn archived<E: Record>(model: &E::Model) -> bool {
    use sea_orm::{IdenStatic, Iterable, ModelTrait};
    E::Column::iter()
        .find(|c| c.as_str() == "archived_at")
        .is_some_and(|c| !matches!(model.get(c), sea_orm::Value::ChronoDateTimeUtc(None)))
}

/// The local indicator of the source's: the one with the same code (so outcomes compare),
/// else a copy. One with the same code in another unit refuses the batch.
async fn indicator_for(write: &Write, instance: i64, remote: &RemoteIndicator) -> WriteResult<i64> {
    let local = indicator::Entity::find()
        .filter(indicator::Column::Code.eq(remote.code.as_str()))
        .one(&write.txn)
        .await?;
    if let Some(local) = local {
        if local.unit != remote.unit {
            return Err(crate::kernel::write::UserError::invalid(
                "indicator",
                format!(
                    "The indicator `{}` is measured in {:?} here and in {:?} at the source: its outcomes do not compare.",
                    remote.code, local.unit, remote.unit
                ),
            )
            .into());
        }
        return Ok(local.id);
    }
    upsert_copy::<indicator::Entity>(write, instance, (&remote.id, None), None, |copy| {
        let mut made = copy.cloned().unwrap_or_else(|| {
            crate::new_record!(indicator::Model {
                code: remote.code.clone(),
                name: LocalizedText::new(),
                description: LocalizedText::new(),
                unit: remote.unit,
                theme_id: None,
                higher_is_better: remote.higher_is_better,
            })
        });
        made.name = remote.name.clone();
        made.description = remote.description.clone();
        made.higher_is_better = remote.higher_is_better;
        made
    })
    .await
}

/// Makes the local copy of one outcome what the source shows (`None`: withdrawn).
pub async fn apply_outcome(
    write: &Write,
    instance: &followed_instance::Model,
    remote_id: &str,
    remote: Option<&RemoteOutcome>,
) -> WriteResult<()> {
    let Some(remote) = remote else {
        let existing = copy_of(write, instance.id, "outcome", remote_id).await?;
        return withdraw::<outcome::Entity>(write, existing).await;
    };
    let indicator = indicator_for(write, instance.id, &remote.indicator).await?;
    let (owner, programme, initiative) = context_for(
        write,
        instance.id,
        &remote.municipality,
        remote.programme.as_ref(),
        remote.initiative.as_ref(),
    )
    .await?;
    upsert_copy::<outcome::Entity>(write, instance.id, (remote_id, Some(remote.version)), Some(owner), |copy| {
        let mut made = copy.cloned().unwrap_or_else(|| {
            crate::new_record!(outcome::Model {
                indicator_id: indicator,
                municipality_id: owner,
                initiative_id: None,
                programme_id: None,
                area_id: None,
                period_start: remote.period_start,
                period_end: remote.period_end,
                value_micro: 0,
                method: LocalizedText::new(),
                source: None,
                verified: false,
            })
        });
        made.indicator_id = indicator;
        made.municipality_id = owner;
        made.initiative_id = initiative;
        made.programme_id = programme;
        made.period_start = remote.period_start;
        made.period_end = remote.period_end;
        made.value_micro = remote.value_micro;
        made.method = remote.method.clone();
        made.source = remote.source.clone();
        made.verified = remote.verified;
        made
    })
    .await?;
    Ok(())
}
