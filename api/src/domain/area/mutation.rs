//! Changing areas.
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::area;

use super::{Area, AreaKind};
use crate::graphql::input::{NAME_MAX, TranslationInput, count, id, text};
use crate::graphql::mutation::{edited, set_reference};
use crate::graphql::scalars::GeoJson;
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{Problems, UserError, Write, WriteResult, same_municipality};
use crate::payload;

payload!(
    /// The result of a change to an area.
    AreaPayload { area: Area }
);

/// A new area.
#[derive(InputObject)]
pub struct CreateAreaInput {
    /// The municipality it lies in (an editor's own).
    pub municipality: ID,
    /// The area it lies in.
    pub parent: Option<ID>,
    /// What kind of area it is.
    pub kind: AreaKind,
    /// Its name, in one or more languages.
    pub name: Vec<TranslationInput>,
    /// Number of households.
    pub households: Option<i32>,
    /// Number of residents.
    pub residents: Option<i32>,
    /// Its outline.
    pub geometry: Option<GeoJson>,
}

/// Changes to an area; fields left out stay as they are, fields set to null are cleared.
#[stroom_derive::update(area, "area")]
pub struct UpdateAreaInput {
    /// The area it lies in (null: none).
    pub parent: MaybeUndefined<ID>,
    /// What kind of area it is.
    #[set]
    pub kind: Option<AreaKind>,
    /// The name: replaces every translation.
    #[set(text = NAME_MAX)]
    pub name: Option<Vec<TranslationInput>>,
    /// Number of households (null: unknown).
    #[set(check = count)]
    pub households: MaybeUndefined<i32>,
    /// Number of residents (null: unknown).
    #[set(check = count)]
    pub residents: MaybeUndefined<i32>,
    /// Its outline (null: none).
    #[set]
    pub geometry: MaybeUndefined<GeoJson>,
}

/// Checks a parent area: same municipality, and no cycle.
async fn check_parent(
    write: &Write,
    own: Option<i64>,
    municipality: i64,
    parent: &ID,
) -> WriteResult<i64> {
    let parent = id("parent", parent, NodeKind::Area)?;
    let mut current = Some(parent);
    let mut hops = 0;
    while let Some(id) = current {
        if Some(id) == own {
            return Err(UserError::invalid("parent", "An area cannot lie inside itself.").into());
        }
        let model = write.live::<area::Entity>("parent", id).await?;
        same_municipality(
            "parent",
            municipality,
            Some(model.municipality_id),
            "parent area",
        )?;
        current = model.parent_id;
        hops += 1;
        if hops > 16 {
            return Err(UserError::invalid("parent", "Areas nest at most 16 deep.").into());
        }
    }
    Ok(parent)
}

pub async fn create(write: &Write, input: CreateAreaInput) -> WriteResult<area::Model> {
    let mut problems = Problems::default();
    let municipality = problems.check(id(
        "municipality",
        &input.municipality,
        NodeKind::Municipality,
    ));
    let name = problems.check(text("name", &input.name, true, NAME_MAX));
    let households = input
        .households
        .and_then(|h| problems.check(count("households", h)));
    let residents = input
        .residents
        .and_then(|r| problems.check(count("residents", r)));
    problems.finish()?;
    let (Some(municipality), Some(name)) = (municipality, name) else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    write.may_write(Some(municipality))?;
    write
        .live::<entity::municipality::Entity>("municipality", municipality)
        .await?;
    let parent = match &input.parent {
        Some(p) => Some(check_parent(write, None, municipality, p).await?),
        None => None,
    };
    let model = crate::new_record!(area::Model {
        municipality_id: municipality,
        parent_id: parent,
        kind: input.kind.into(),
        name,
        households,
        residents,
        geometry: input.geometry.map(|g| g.0),
        search_text: String::new(),
    });
    write
        .insert_audited::<area::Entity>(Some(municipality), model)
        .await
}

pub async fn update(write: &Write, input: UpdateAreaInput) -> WriteResult<area::Model> {
    let (id, before, mut after, municipality) = edited::<area::Entity, _>(write, &input).await?;
    set_reference(&input.parent, &mut after.parent_id, |p| check_parent(write, Some(id), before.municipality_id, p)).await?;
    write
        .replace_audited::<area::Entity>(input.version, municipality, &before, after)
        .await
}

#[stroom_derive::mutations]
impl AreaMutation {
    /// Adds an area (a district, neighbourhood, street cluster or site).
    change!(create_area(input: CreateAreaInput = "The new area.") -> AreaPayload = create);

    updates!(area: AreaPayload, "an area");

    archives!(area: AreaPayload, "an area");
}
