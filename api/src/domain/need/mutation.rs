//! Changing needs: create, update, change the status, archive.
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::need;
use sea_orm::{ActiveModelTrait, IntoActiveModel};

use super::{Need, NeedSource, NeedStatus, TargetGroup};
use crate::graphql::input::{NAME_MAX, TEXT_MAX, TranslationInput, count, id, text};
use crate::graphql::mutation::{Changes, editable};
use crate::graphql::scalars::Date;
use crate::kernel::ids::NodeKind;
use crate::kernel::time::now;
use crate::kernel::write::{
    Problems, UserError, Write, WriteResult, link_change, same_municipality,
};
use crate::payload;

payload!(
    /// The result of a change to a need.
    NeedPayload { need: Need }
);

/// A newly mapped need.
#[derive(InputObject)]
pub struct CreateNeedInput {
    /// The municipality where it was mapped (an editor's own).
    pub municipality: ID,
    /// The programme that mapped it.
    pub programme: Option<ID>,
    /// The area it concerns.
    pub area: Option<ID>,
    /// Its theme (needs-mapping domain).
    pub theme: Option<ID>,
    /// A short title, in one or more languages.
    pub title: Vec<TranslationInput>,
    /// The need as residents described it, in one or more languages.
    pub description: Option<Vec<TranslationInput>>,
    /// The groups of residents it concerns.
    pub target_groups: Option<Vec<TargetGroup>>,
    /// How it was heard.
    pub source: NeedSource,
    /// How many residents voiced it.
    pub residents_count: Option<i32>,
    /// Where it stands (default: OPEN).
    pub status: Option<NeedStatus>,
    /// The day it was recorded (default: today).
    pub recorded_on: Option<Date>,
}

/// Changes to a need; fields left out stay as they are, fields set to null are cleared.
#[stroom_derive::update(need, "need")]
pub struct UpdateNeedInput {
    /// The programme (null: none).
    pub programme: MaybeUndefined<ID>,
    /// The area (null: none).
    pub area: MaybeUndefined<ID>,
    /// The theme (null: none).
    pub theme: MaybeUndefined<ID>,
    /// The title: replaces every translation.
    #[set(text = NAME_MAX)]
    pub title: Option<Vec<TranslationInput>>,
    /// The description: replaces every translation (null: none).
    #[set(text = TEXT_MAX)]
    pub description: MaybeUndefined<Vec<TranslationInput>>,
    /// The target groups: replaces the list.
    pub target_groups: Option<Vec<TargetGroup>>,
    /// How it was heard.
    #[set]
    pub source: Option<NeedSource>,
    /// How many residents voiced it (null: not counted).
    #[set(check = count)]
    pub residents_count: MaybeUndefined<i32>,
    /// The day it was recorded.
    #[set]
    pub recorded_on: Option<Date>,
}

/// A need's new status.
#[derive(InputObject)]
pub struct ChangeNeedStatusInput {
    /// The need.
    pub id: ID,
    /// The version you last read.
    pub version: i32,
    /// Its new status.
    pub status: NeedStatus,
}

async fn references(
    write: &Write,
    municipality: i64,
    programme: Option<&ID>,
    area: Option<&ID>,
    theme: Option<&ID>,
) -> WriteResult<(Option<i64>, Option<i64>, Option<i64>)> {
    let mut problems = Problems::default();
    let programme = programme.and_then(|p| problems.check(id("programme", p, NodeKind::Programme)));
    let area = area.and_then(|a| problems.check(id("area", a, NodeKind::Area)));
    let theme = theme.and_then(|t| problems.check(id("theme", t, NodeKind::Theme)));
    problems.finish()?;
    if let Some(programme) = programme {
        let p = write
            .live::<entity::programme::Entity>("programme", programme)
            .await?;
        same_municipality("programme", municipality, p.municipality_id, "programme")?;
    }
    if let Some(area) = area {
        let a = write.live::<entity::area::Entity>("area", area).await?;
        same_municipality("area", municipality, Some(a.municipality_id), "area")?;
    }
    if let Some(theme) = theme {
        let t = write.live::<entity::theme::Entity>("theme", theme).await?;
        same_municipality("theme", municipality, t.municipality_id, "theme")?;
    }
    Ok((programme, area, theme))
}

fn groups(list: &[TargetGroup]) -> Result<Vec<entity::enums::TargetGroup>, UserError> {
    let mut out: Vec<entity::enums::TargetGroup> = Vec::new();
    for group in list {
        let group: entity::enums::TargetGroup = (*group).into();
        if out.contains(&group) {
            return Err(UserError::invalid(
                "targetGroups",
                format!("`targetGroups` lists {} twice.", group.as_str()),
            ));
        }
        out.push(group);
    }
    Ok(out)
}

async fn replace_groups(
    write: &Write,
    need: i64,
    wanted: Vec<entity::enums::TargetGroup>,
) -> WriteResult<serde_json::Map<String, serde_json::Value>> {
    use entity::need_target_group::{Column, Entity, Model};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let before: Vec<&'static str> = {
        let mut v: Vec<&'static str> = Entity::find()
            .filter(Column::NeedId.eq(need))
            .all(&write.txn)
            .await?
            .into_iter()
            .map(|g| g.target_group.as_str())
            .collect();
        v.sort_unstable();
        v
    };
    Entity::delete_many()
        .filter(Column::NeedId.eq(need))
        .exec(&write.txn)
        .await?;
    let now = now();
    for group in &wanted {
        Model {
            need_id: need,
            target_group: *group,
            created_at: now,
        }
        .into_active_model()
        .reset_all()
        .insert(&write.txn)
        .await?;
    }
    let mut after: Vec<&'static str> = wanted.iter().map(|g| g.as_str()).collect();
    after.sort_unstable();
    Ok(if before == after {
        Default::default()
    } else {
        link_change(
            "targetGroups",
            serde_json::json!(before),
            serde_json::json!(after),
        )
    })
}

pub async fn create(write: &Write, input: CreateNeedInput) -> WriteResult<need::Model> {
    let mut problems = Problems::default();
    let municipality = problems.check(id(
        "municipality",
        &input.municipality,
        NodeKind::Municipality,
    ));
    let title = problems.check(text("title", &input.title, true, NAME_MAX));
    let description = problems.check(text(
        "description",
        input.description.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    ));
    let residents = input
        .residents_count
        .and_then(|c| problems.check(count("residentsCount", c)));
    let target_groups = problems.check(groups(input.target_groups.as_deref().unwrap_or_default()));
    problems.finish()?;
    let (Some(municipality), Some(title), Some(description), Some(target_groups)) =
        (municipality, title, description, target_groups)
    else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    write.may_write(Some(municipality))?;
    write
        .live::<entity::municipality::Entity>("municipality", municipality)
        .await?;
    let (programme_id, area_id, theme_id) = references(
        write,
        municipality,
        input.programme.as_ref(),
        input.area.as_ref(),
        input.theme.as_ref(),
    )
    .await?;
    let now = now();
    let model = crate::new_record!(need::Model {
        municipality_id: municipality,
        programme_id,
        area_id,
        theme_id,
        title,
        description,
        source: input.source.into(),
        residents_count: residents,
        status: input.status.unwrap_or(NeedStatus::Open).into(),
        recorded_on: input
            .recorded_on
            .map(|d| d.0)
            .unwrap_or_else(|| now.date_naive()),
        search_text: String::new(),
    });
    let stored = write.insert_new::<need::Entity>(model).await?;
    let links = replace_groups(write, stored.id, target_groups).await?;
    write
        .audit_created::<need::Entity>(Some(municipality), &stored, links)
        .await?;
    Ok(stored)
}

pub async fn update(write: &Write, input: UpdateNeedInput) -> WriteResult<need::Model> {
    let (id, before, municipality) = editable::<need::Entity>(write, &input.id).await?;
    let (mut after, mut problems) = input.changed(&before);
    let groups = input
        .target_groups
        .as_deref()
        .and_then(|g| problems.check(groups(g)));
    problems.finish()?;
    let (programme, area, theme) = references(
        write,
        before.municipality_id,
        input.programme.value(),
        input.area.value(),
        input.theme.value(),
    )
    .await?;
    if !input.programme.is_undefined() {
        after.programme_id = programme;
    }
    if !input.area.is_undefined() {
        after.area_id = area;
    }
    if !input.theme.is_undefined() {
        after.theme_id = theme;
    }
    let links = match groups {
        Some(groups) => replace_groups(write, id, groups).await?,
        None => Default::default(),
    };
    write
        .replace_linked::<need::Entity>(input.version, municipality, &before, after, links)
        .await
}

pub async fn change_status(
    write: &Write,
    input: ChangeNeedStatusInput,
) -> WriteResult<need::Model> {
    let (_, before, municipality) = editable::<need::Entity>(write, &input.id).await?;
    let mut after = before.clone();
    after.status = input.status.into();
    write
        .replace_audited::<need::Entity>(input.version, municipality, &before, after)
        .await
}

#[stroom_derive::mutations]
impl NeedMutation {
    /// Records a need of residents.
    change!(create_need(input: CreateNeedInput = "The new need.") -> NeedPayload = create);

    updates!(need: NeedPayload, "a need");

    /// Changes where a need stands (open, being addressed, addressed, archived).
    change!(change_need_status(input: ChangeNeedStatusInput = "The need and its new status.") -> NeedPayload = change_status);

    archives!(need: NeedPayload, "a need");
}
