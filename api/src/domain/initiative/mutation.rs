//! Changing initiatives: create, update, archive, change the stage, link needs, record support
//! requests and their decisions.
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::{
    area, initiative, initiative_area, initiative_need, initiative_theme, need, support_request,
    theme,
};
use sea_orm::ActiveModelTrait;

use super::{
    Affordability, BusinessModel, Initiative, InitiativeStage, InitiatorKind, SupportKind,
    SupportRequest, SupportStatus,
};
use crate::graphql::input::{
    NAME_MAX, TEXT_MAX, TranslationInput, date_order, euro, id, ids, text, url,
};
use crate::graphql::mutation::{Changes, editable, linkable, set_reference};
use crate::graphql::scalars::{Date, Decimal};
use crate::kernel::ids::NodeKind;
use crate::kernel::time::now;
use crate::kernel::write::{Links, Problems, UserError, Write, WriteResult, same_municipality};
use crate::payload;

payload!(
    /// The result of a change to an initiative.
    InitiativePayload { initiative: Initiative }
);

payload!(
    /// The result of a change to a support request.
    SupportRequestPayload { support_request: SupportRequest }
);

/// A new initiative.
#[derive(InputObject)]
pub struct CreateInitiativeInput {
    /// The municipality the initiative works in (an editor's own).
    pub municipality: ID,
    /// The programme that started or supports it.
    pub programme: Option<ID>,
    /// Its name, in one or more languages.
    pub name: Vec<TranslationInput>,
    /// What it does, in one or more languages.
    pub description: Option<Vec<TranslationInput>>,
    /// Who started it.
    pub initiator_kind: InitiatorKind,
    /// How far it has come.
    pub stage: InitiativeStage,
    /// The day it started.
    pub start_date: Option<Date>,
    /// The day it ended.
    pub end_date: Option<Date>,
    /// How it pays its way.
    pub business_model: BusinessModel,
    /// What using it costs residents.
    pub affordability: Affordability,
    /// Its website (http or https).
    pub website: Option<String>,
    /// Areas it works in (of the same municipality).
    pub areas: Option<Vec<ID>>,
    /// Its themes.
    pub themes: Option<Vec<ID>>,
    /// Needs it answers (of the same municipality).
    pub needs: Option<Vec<ID>>,
}

/// Changes to an initiative; fields left out stay as they are, fields set to null are cleared.
#[stroom_derive::update(initiative, "initiative")]
pub struct UpdateInitiativeInput {
    /// The programme (null: none).
    pub programme: MaybeUndefined<ID>,
    /// The name: replaces every translation.
    #[set(text = NAME_MAX)]
    pub name: Option<Vec<TranslationInput>>,
    /// The description: replaces every translation (null: none).
    #[set(text = TEXT_MAX)]
    pub description: MaybeUndefined<Vec<TranslationInput>>,
    /// Who started it.
    #[set]
    pub initiator_kind: Option<InitiatorKind>,
    /// How far it has come.
    #[set]
    pub stage: Option<InitiativeStage>,
    /// The day it started (null: unknown).
    #[set]
    pub start_date: MaybeUndefined<Date>,
    /// The day it ended (null: not ended).
    #[set]
    pub end_date: MaybeUndefined<Date>,
    /// How it pays its way.
    #[set]
    pub business_model: Option<BusinessModel>,
    /// What using it costs residents.
    #[set]
    pub affordability: Option<Affordability>,
    /// Its website (null: none).
    #[set(check = url)]
    pub website: MaybeUndefined<String>,
    /// Areas it works in: replaces the list.
    pub areas: Option<Vec<ID>>,
    /// Its themes: replaces the list.
    pub themes: Option<Vec<ID>>,
}

/// A new stage for an initiative.
#[derive(InputObject)]
pub struct ChangeInitiativeStageInput {
    /// The initiative.
    pub id: ID,
    /// The version you last read.
    pub version: i32,
    /// Its new stage.
    pub stage: InitiativeStage,
    /// The day it ended, for STOPPED (default: today).
    pub end_date: Option<Date>,
}

/// A need an initiative answers.
#[derive(InputObject)]
pub struct InitiativeNeedInput {
    /// The initiative.
    pub initiative: ID,
    /// The version of the initiative you last read.
    pub version: i32,
    /// The need.
    pub need: ID,
}

/// Support an initiative asks for.
#[derive(InputObject)]
pub struct RecordSupportRequestInput {
    /// The initiative.
    pub initiative: ID,
    /// What kind of support.
    pub kind: SupportKind,
    /// What it asks for, in one or more languages.
    pub description: Option<Vec<TranslationInput>>,
    /// The day it asked (default: today).
    pub requested_on: Option<Date>,
    /// The amount asked for, in whole euro (financial support).
    pub amount_requested: Option<Decimal>,
}

/// The decision on a support request.
#[derive(InputObject)]
pub struct DecideSupportRequestInput {
    /// The support request.
    pub id: ID,
    /// The version you last read.
    pub version: i32,
    /// The decision: GRANTED, PARTIALLY_GRANTED, DECLINED, IN_REVIEW or WITHDRAWN.
    pub status: SupportStatus,
    /// The day of the decision (default: today).
    pub decided_on: Option<Date>,
    /// The decision and its reasons, in one or more languages.
    pub decision_note: Option<Vec<TranslationInput>>,
    /// The amount granted, in whole euro.
    pub amount_granted: Option<Decimal>,
}

/// Checks the areas, themes and needs of an initiative and returns their row IDs.
async fn check_links(
    write: &Write,
    municipality: i64,
    areas: Option<&[ID]>,
    themes: Option<&[ID]>,
    needs: Option<&[ID]>,
) -> WriteResult<(Option<Vec<i64>>, Option<Vec<i64>>, Option<Vec<i64>>)> {
    let mut problems = Problems::default();
    let area_ids = areas.and_then(|a| problems.check(ids("areas", a, NodeKind::Area)));
    let theme_ids = themes.and_then(|t| problems.check(ids("themes", t, NodeKind::Theme)));
    let need_ids = needs.and_then(|n| problems.check(ids("needs", n, NodeKind::Need)));
    problems.finish()?;
    let own = Some(municipality);
    if let Some(area_ids) = &area_ids {
        linkable::<area::Entity>(write, "areas", own, area_ids).await?;
    }
    if let Some(theme_ids) = &theme_ids {
        linkable::<theme::Entity>(write, "themes", own, theme_ids).await?;
    }
    if let Some(need_ids) = &need_ids {
        linkable::<need::Entity>(write, "needs", own, need_ids).await?;
    }
    Ok((area_ids, theme_ids, need_ids))
}

/// A programme an initiative of `municipality` may belong to: its own or a network project.
async fn check_programme(write: &Write, municipality: i64, programme: &ID) -> WriteResult<i64> {
    let programme_id = id("programme", programme, NodeKind::Programme)?;
    let programme = write
        .live::<entity::programme::Entity>("programme", programme_id)
        .await?;
    same_municipality(
        "programme",
        municipality,
        programme.municipality_id,
        "programme",
    )?;
    Ok(programme_id)
}

/// An initiative's areas, themes and needs, each in a link table of its own.
const AREAS: Links<initiative_area::Column> = Links::new::<initiative::Entity, area::Entity>(
    initiative_area::Column::InitiativeId,
    initiative_area::Column::AreaId,
);
const THEMES: Links<initiative_theme::Column> = Links::new::<initiative::Entity, theme::Entity>(
    initiative_theme::Column::InitiativeId,
    initiative_theme::Column::ThemeId,
);
const NEEDS: Links<initiative_need::Column> = Links::new::<initiative::Entity, need::Entity>(
    initiative_need::Column::InitiativeId,
    initiative_need::Column::NeedId,
);

async fn link_lists(
    write: &Write,
    initiative: i64,
    areas: Option<Vec<i64>>,
    themes: Option<Vec<i64>>,
    needs: Option<Vec<i64>>,
) -> WriteResult<serde_json::Map<String, serde_json::Value>> {
    let mut changes = write
        .replace_links("areas", &AREAS, initiative, areas.as_deref())
        .await?;
    changes.extend(
        write
            .replace_links("themes", &THEMES, initiative, themes.as_deref())
            .await?,
    );
    changes.extend(
        write
            .replace_links("needs", &NEEDS, initiative, needs.as_deref())
            .await?,
    );
    Ok(changes)
}

pub async fn create(write: &Write, input: CreateInitiativeInput) -> WriteResult<initiative::Model> {
    let mut problems = Problems::default();
    let municipality = problems.check(id(
        "municipality",
        &input.municipality,
        NodeKind::Municipality,
    ));
    let name = problems.check(text("name", &input.name, true, NAME_MAX));
    let description = problems.check(text(
        "description",
        input.description.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    ));
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
    // `finish` passed, so every check above succeeded.
    let (Some(municipality), Some(name), Some(description)) = (municipality, name, description)
    else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    write.may_write(Some(municipality))?;
    write
        .live::<entity::municipality::Entity>("municipality", municipality)
        .await?;
    let programme_id = match &input.programme {
        Some(programme) => Some(check_programme(write, municipality, programme).await?),
        None => None,
    };
    let (areas, themes, needs) = check_links(
        write,
        municipality,
        input.areas.as_deref(),
        input.themes.as_deref(),
        input.needs.as_deref(),
    )
    .await?;
    let model = crate::new_record!(initiative::Model {
        municipality_id: municipality,
        programme_id,
        name,
        description,
        initiator_kind: input.initiator_kind.into(),
        stage: input.stage.into(),
        start_date: input.start_date.map(|d| d.0),
        end_date: input.end_date.map(|d| d.0),
        business_model: input.business_model.into(),
        affordability: input.affordability.into(),
        website,
        search_text: String::new(),
    });
    let stored = write.insert_new::<initiative::Entity>(model).await?;
    let links = link_lists(write, stored.id, areas, themes, needs).await?;
    write
        .audit_created::<initiative::Entity>(Some(municipality), &stored, links)
        .await?;
    Ok(stored)
}

pub async fn update(write: &Write, input: UpdateInitiativeInput) -> WriteResult<initiative::Model> {
    let (id, before, municipality) = editable::<initiative::Entity>(write, &input.id).await?;
    let (mut after, mut problems) = input.changed(&before);
    problems.check(date_order("endDate", after.start_date, after.end_date));
    problems.finish()?;
    let own = before.municipality_id;
    set_reference(&input.programme, &mut after.programme_id, |programme| check_programme(write, own, programme)).await?;
    let (areas, themes, _) = check_links(
        write,
        own,
        input.areas.as_deref(),
        input.themes.as_deref(),
        None,
    )
    .await?;
    let links = link_lists(write, id, areas, themes, None).await?;
    write
        .replace_linked::<initiative::Entity>(input.version, municipality, &before, after, links)
        .await
}

pub async fn change_stage(
    write: &Write,
    input: ChangeInitiativeStageInput,
) -> WriteResult<initiative::Model> {
    let (_, before, municipality) = editable::<initiative::Entity>(write, &input.id).await?;
    let mut after = before.clone();
    after.stage = input.stage.into();
    if input.stage == InitiativeStage::Stopped {
        after.end_date = Some(
            input
                .end_date
                .map(|d| d.0)
                .unwrap_or_else(|| now().date_naive()),
        );
    } else if input.end_date.is_some() {
        return Err(
            UserError::invalid("endDate", "An end date goes with the STOPPED stage only.").into(),
        );
    } else {
        after.end_date = None;
    }
    date_order("endDate", after.start_date, after.end_date)?;
    write
        .replace_audited::<initiative::Entity>(input.version, municipality, &before, after)
        .await
}

/// Links or unlinks a need; the initiative's version grows, so concurrent edits are seen.
pub async fn link_need(
    write: &Write,
    input: InitiativeNeedInput,
    link: bool,
) -> WriteResult<initiative::Model> {
    let initiative_id = id("initiative", &input.initiative, NodeKind::Initiative)?;
    let need_id = id("need", &input.need, NodeKind::Need)?;
    let before = write.existing::<initiative::Entity>(initiative_id).await?;
    let municipality = write.authorize::<initiative::Entity>(&before).await?;
    let need = if link {
        write.live::<entity::need::Entity>("need", need_id).await?
    } else {
        write.existing::<entity::need::Entity>(need_id).await?
    };
    same_municipality(
        "need",
        before.municipality_id,
        Some(need.municipality_id),
        "need",
    )?;
    let current = linked_needs(write, initiative_id).await?;
    let mut wanted = current.clone();
    if link {
        if current.contains(&need_id) {
            return Err(
                UserError::invalid("need", "The initiative already answers this need.").into(),
            );
        }
        wanted.push(need_id);
    } else {
        if !current.contains(&need_id) {
            return Err(
                UserError::invalid("need", "The initiative does not answer this need.").into(),
            );
        }
        wanted.retain(|n| *n != need_id);
    }
    let stored = write
        .update_versioned::<initiative::Entity, _>(
            initiative_id,
            input.version,
            <initiative::ActiveModel as ActiveModelTrait>::default(),
        )
        .await?;
    let changes = link_lists(write, initiative_id, None, None, Some(wanted)).await?;
    write
        .audit(NodeKind::Initiative, initiative_id, municipality, changes)
        .await?;
    Ok(stored)
}

async fn linked_needs(write: &Write, initiative: i64) -> WriteResult<Vec<i64>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Ok(entity::initiative_need::Entity::find()
        .filter(entity::initiative_need::Column::InitiativeId.eq(initiative))
        .all(&write.txn)
        .await?
        .into_iter()
        .map(|l| l.need_id)
        .collect())
}

pub async fn record_support_request(
    write: &Write,
    input: RecordSupportRequestInput,
) -> WriteResult<support_request::Model> {
    let initiative_id = id("initiative", &input.initiative, NodeKind::Initiative)?;
    let initiative = write
        .live::<initiative::Entity>("initiative", initiative_id)
        .await?;
    let municipality = write.authorize::<initiative::Entity>(&initiative).await?;
    let mut problems = Problems::default();
    let description = problems.check(text(
        "description",
        input.description.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    ));
    let amount = input
        .amount_requested
        .and_then(|a| problems.check(euro("amountRequested", a.0)));
    problems.finish()?;
    let now = now();
    let model = crate::new_record!(support_request::Model {
        initiative_id,
        kind: input.kind.into(),
        description: description.unwrap_or_default(),
        status: entity::enums::SupportStatus::Requested,
        requested_on: input
            .requested_on
            .map(|d| d.0)
            .unwrap_or_else(|| now.date_naive()),
        decided_on: None,
        decision_note: Default::default(),
        amount_requested_eur: amount,
        amount_granted_eur: None,
    });
    write
        .insert_audited::<support_request::Entity>(municipality, model)
        .await
}

pub async fn decide_support_request(
    write: &Write,
    input: DecideSupportRequestInput,
) -> WriteResult<support_request::Model> {
    let (_, before, municipality) = editable::<support_request::Entity>(write, &input.id).await?;
    if input.status == SupportStatus::Requested {
        return Err(UserError::invalid(
            "status",
            "A decision cannot set the status back to REQUESTED.",
        )
        .into());
    }
    let mut problems = Problems::default();
    let note = input
        .decision_note
        .as_deref()
        .and_then(|n| problems.check(text("decisionNote", n, false, TEXT_MAX)));
    let granted = input
        .amount_granted
        .and_then(|a| problems.check(euro("amountGranted", a.0)));
    let decided_on = input
        .decided_on
        .map(|d| d.0)
        .unwrap_or_else(|| now().date_naive());
    if decided_on < before.requested_on {
        problems.push(UserError::invalid(
            "decidedOn",
            format!(
                "The decision ({decided_on}) cannot come before the request ({}).",
                before.requested_on
            ),
        ));
    }
    if let (Some(granted), Some(requested)) = (granted, before.amount_requested_eur)
        && granted > requested
    {
        problems.push(UserError::invalid(
            "amountGranted",
            format!("More was granted ({granted}) than asked for ({requested})."),
        ));
    }
    if granted.is_some_and(|g| g > 0)
        && matches!(
            input.status,
            SupportStatus::Declined | SupportStatus::Withdrawn | SupportStatus::InReview
        )
    {
        problems.push(UserError::invalid(
            "amountGranted",
            "An amount is granted only with GRANTED or PARTIALLY_GRANTED.",
        ));
    }
    problems.finish()?;
    let mut after = before.clone();
    after.status = input.status.into();
    after.decided_on = (input.status != SupportStatus::InReview).then_some(decided_on);
    if let Some(note) = note {
        after.decision_note = note;
    }
    if granted.is_some() {
        after.amount_granted_eur = granted;
    }
    write
        .replace_audited::<support_request::Entity>(input.version, municipality, &before, after)
        .await
}

#[stroom_derive::mutations]
impl InitiativeMutation {
    /// Registers a new initiative.
    change!(create_initiative(input: CreateInitiativeInput = "The new initiative.") -> InitiativePayload = create);

    updates!(initiative: InitiativePayload, "an initiative");

    /// Moves an initiative to another stage (STOPPED sets its end date).
    change!(change_initiative_stage(input: ChangeInitiativeStageInput = "The initiative and its new stage.") -> InitiativePayload = change_stage);

    /// Records that an initiative answers a need.
    change!(link_initiative_to_need(input: InitiativeNeedInput = "The initiative and the need.") -> InitiativePayload = link_need(write, input, true));

    /// Records that an initiative no longer answers a need.
    change!(unlink_initiative_from_need(input: InitiativeNeedInput = "The initiative and the need.") -> InitiativePayload = link_need(write, input, false));

    archives!(initiative: InitiativePayload, "an initiative");

    /// Records support an initiative asks the city for.
    change!(record_support_request(input: RecordSupportRequestInput = "The request.") -> SupportRequestPayload = record_support_request);

    /// Records the decision on a support request.
    change!(decide_support_request(input: DecideSupportRequestInput = "The decision.") -> SupportRequestPayload = decide_support_request);

    /// Archives a support request (a withdrawn or mistaken one): nothing is lost.
    archive!(archive_support_request(input = "The support request and the version you last read.") -> SupportRequestPayload);
}
