//! Changing indicators: a vocabulary shared by all cities so outcomes compare, kept by admins.
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::indicator;

use super::{Indicator, Unit};
use crate::graphql::mutation::{Changes, set_reference};
use crate::graphql::input::{NAME_MAX, TEXT_MAX, TranslationInput, code, id, text};
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{Problems, UserError, Write, WriteResult};
use crate::payload;

payload!(
    /// The result of a change to an indicator.
    IndicatorPayload { indicator: Indicator }
);

/// A new indicator.
#[derive(InputObject)]
pub struct CreateIndicatorInput {
    /// A stable code of lower-case letters, digits and underscores, such as `devices_fixed`.
    pub code: String,
    /// Its name, in one or more languages.
    pub name: Vec<TranslationInput>,
    /// How it is defined and measured, in one or more languages.
    pub description: Option<Vec<TranslationInput>>,
    /// The unit of its values; it never changes, so values stay comparable.
    pub unit: Unit,
    /// The theme it belongs to.
    pub theme: Option<ID>,
    /// Whether a higher value is better.
    pub higher_is_better: bool,
}

/// Changes to an indicator; its code and unit never change.
#[stroom_derive::update(indicator, "indicator")]
pub struct UpdateIndicatorInput {
    /// The name: replaces every translation.
    #[set(text = NAME_MAX)]
    pub name: Option<Vec<TranslationInput>>,
    /// The description: replaces every translation (null: none).
    #[set(text = TEXT_MAX)]
    pub description: MaybeUndefined<Vec<TranslationInput>>,
    /// The theme (null: none).
    pub theme: MaybeUndefined<ID>,
    /// Whether a higher value is better.
    #[set]
    pub higher_is_better: Option<bool>,
}

async fn check_theme(write: &Write, theme: &ID) -> WriteResult<i64> {
    let theme = id("theme", theme, NodeKind::Theme)?;
    let model = write.live::<entity::theme::Entity>("theme", theme).await?;
    if model.municipality_id.is_some() {
        return Err(
            UserError::invalid("theme", "A shared indicator belongs to a shared theme.").into(),
        );
    }
    Ok(theme)
}

pub async fn create(write: &Write, input: CreateIndicatorInput) -> WriteResult<indicator::Model> {
    write.admin_only("add an indicator (indicators are shared by all cities)")?;
    let mut problems = Problems::default();
    let code = problems.check(code(&input.code));
    let name = problems.check(text("name", &input.name, true, NAME_MAX));
    let description = problems.check(text(
        "description",
        input.description.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    ));
    problems.finish()?;
    let (Some(code), Some(name), Some(description)) = (code, name, description) else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    let theme = match &input.theme {
        Some(t) => Some(check_theme(write, t).await?),
        None => None,
    };
    let model = crate::new_record!(indicator::Model {
        code,
        name,
        description,
        unit: input.unit.into(),
        theme_id: theme,
        higher_is_better: input.higher_is_better,
    });
    write.insert_audited::<indicator::Entity>(None, model).await
}

pub async fn update(write: &Write, input: UpdateIndicatorInput) -> WriteResult<indicator::Model> {
    write.admin_only("change an indicator (indicators are shared by all cities)")?;
    let id = id("id", &input.id, NodeKind::Indicator)?;
    let before = write.existing::<indicator::Entity>(id).await?;
    let (mut after, problems) = input.changed(&before);
    problems.finish()?;
    set_reference(&input.theme, &mut after.theme_id, |t| check_theme(write, t)).await?;
    write
        .replace_audited::<indicator::Entity>(input.version, None, &before, after)
        .await
}

#[stroom_derive::mutations]
impl IndicatorMutation {
    /// Adds an indicator. Admin only.
    change!(create_indicator(input: CreateIndicatorInput = "The new indicator.") -> IndicatorPayload = create);

    updates!(indicator: IndicatorPayload, "an indicator", admin);

    archives!(indicator: IndicatorPayload, "an indicator", admin);
}
