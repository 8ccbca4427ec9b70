//! Changing themes: the shared taxonomy (admins) and municipalities' own themes (their editors).
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::theme;

use super::Theme;
use crate::graphql::input::{NAME_MAX, TEXT_MAX, TranslationInput, code, id, text};
use crate::graphql::mutation::{edited, set_reference};
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{Problems, UserError, Write, WriteResult, same_municipality};
use crate::payload;

payload!(
    /// The result of a change to a theme.
    ThemePayload { theme: Theme }
);

/// A new theme.
#[derive(InputObject)]
pub struct CreateThemeInput {
    /// A stable code of lower-case letters, digits and underscores, unique across cities.
    pub code: String,
    /// Its label, in one or more languages.
    pub label: Vec<TranslationInput>,
    /// What it covers, in one or more languages.
    pub description: Option<Vec<TranslationInput>>,
    /// The broader theme.
    pub parent: Option<ID>,
    /// The municipality adding it (an editor's own); none for the shared taxonomy (admin only).
    pub municipality: Option<ID>,
}

/// Changes to a theme; its code never changes.
#[stroom_derive::update(theme, "theme")]
pub struct UpdateThemeInput {
    /// The label: replaces every translation.
    #[set(text = NAME_MAX)]
    pub label: Option<Vec<TranslationInput>>,
    /// The description: replaces every translation (null: none).
    #[set(text = TEXT_MAX)]
    pub description: MaybeUndefined<Vec<TranslationInput>>,
    /// The broader theme (null: none).
    pub parent: MaybeUndefined<ID>,
}

async fn check_parent(
    write: &Write,
    own: Option<i64>,
    municipality: Option<i64>,
    parent: &ID,
) -> WriteResult<i64> {
    let parent = id("parent", parent, NodeKind::Theme)?;
    let mut current = Some(parent);
    let mut hops = 0;
    while let Some(id) = current {
        if Some(id) == own {
            return Err(UserError::invalid("parent", "A theme cannot lie under itself.").into());
        }
        let model = write.live::<theme::Entity>("parent", id).await?;
        if let Some(own_municipality) = municipality {
            same_municipality(
                "parent",
                own_municipality,
                model.municipality_id,
                "parent theme",
            )?;
        } else if model.municipality_id.is_some() {
            return Err(UserError::invalid(
                "parent",
                "A shared theme cannot lie under one municipality's theme.",
            )
            .into());
        }
        current = model.parent_id;
        hops += 1;
        if hops > 16 {
            return Err(UserError::invalid("parent", "Themes nest at most 16 deep.").into());
        }
    }
    Ok(parent)
}

pub async fn create(write: &Write, input: CreateThemeInput) -> WriteResult<theme::Model> {
    let mut problems = Problems::default();
    let code = problems.check(code(&input.code));
    let label = problems.check(text("label", &input.label, true, NAME_MAX));
    let description = problems.check(text(
        "description",
        input.description.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    ));
    let municipality = input
        .municipality
        .as_ref()
        .and_then(|m| problems.check(id("municipality", m, NodeKind::Municipality)));
    problems.finish()?;
    let (Some(code), Some(label), Some(description)) = (code, label, description) else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    write.may_write(municipality)?;
    if let Some(m) = municipality {
        write
            .live::<entity::municipality::Entity>("municipality", m)
            .await?;
    }
    let parent = match &input.parent {
        Some(p) => Some(check_parent(write, None, municipality, p).await?),
        None => None,
    };
    let model = crate::new_record!(theme::Model {
        code,
        parent_id: parent,
        municipality_id: municipality,
        label,
        description,
        search_text: String::new(),
    });
    write
        .insert_audited::<theme::Entity>(municipality, model)
        .await
}

pub async fn update(write: &Write, input: UpdateThemeInput) -> WriteResult<theme::Model> {
    let (id, before, mut after, municipality) = edited::<theme::Entity, _>(write, &input).await?;
    set_reference(&input.parent, &mut after.parent_id, |p| check_parent(write, Some(id), before.municipality_id, p)).await?;
    write
        .replace_audited::<theme::Entity>(input.version, municipality, &before, after)
        .await
}

#[stroom_derive::mutations]
impl ThemeMutation {
    /// Adds a theme.
    change!(create_theme(input: CreateThemeInput = "The new theme.") -> ThemePayload = create);

    updates!(theme: ThemePayload, "a theme");

    archives!(theme: ThemePayload, "a theme");
}
