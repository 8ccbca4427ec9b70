//! Changing municipalities: admins add them; a municipality's editors keep its record current.
use async_graphql::{InputObject, MaybeUndefined};
use entity::municipality;

use super::Municipality;
use crate::graphql::mutation::Changes;
use crate::graphql::input::{NAME_MAX, TranslationInput, count, country, id, locale, text};
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{Problems, UserError, Write, WriteResult};
use crate::payload;

payload!(
    /// The result of a change to a municipality.
    MunicipalityPayload { municipality: Municipality }
);

/// A new municipality or region.
#[derive(InputObject)]
pub struct CreateMunicipalityInput {
    /// Its name, in one or more languages.
    pub name: Vec<TranslationInput>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// The locale it writes in by default, such as `nl`.
    pub default_locale: String,
    /// Number of households.
    pub households: Option<i32>,
    /// Number of inhabitants.
    pub population: Option<i32>,
}

/// Changes to a municipality; fields left out stay as they are, fields set to null are cleared.
#[stroom_derive::update(municipality, "municipality")]
pub struct UpdateMunicipalityInput {
    /// The name: replaces every translation.
    #[set(text = NAME_MAX)]
    pub name: Option<Vec<TranslationInput>>,
    /// ISO 3166-1 alpha-2 country code.
    #[set(check = country)]
    pub country: Option<String>,
    /// The default locale.
    #[set(check = locale)]
    pub default_locale: Option<String>,
    /// Number of households (null: unknown).
    #[set(check = count)]
    pub households: MaybeUndefined<i32>,
    /// Number of inhabitants (null: unknown).
    #[set(check = count)]
    pub population: MaybeUndefined<i32>,
}

pub async fn create(
    write: &Write,
    input: CreateMunicipalityInput,
) -> WriteResult<municipality::Model> {
    write.admin_only("add a municipality")?;
    let mut problems = Problems::default();
    let name = problems.check(text("name", &input.name, true, NAME_MAX));
    let country = problems.check(country("country", &input.country));
    let default_locale = problems.check(locale("defaultLocale", &input.default_locale));
    let households = input
        .households
        .and_then(|h| problems.check(count("households", h)));
    let population = input
        .population
        .and_then(|p| problems.check(count("population", p)));
    problems.finish()?;
    let (Some(name), Some(country), Some(default_locale)) = (name, country, default_locale) else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    let model = crate::new_record!(municipality::Model {
        name,
        country,
        default_locale,
        households,
        population,
        search_text: String::new(),
    });
    let stored = write.insert_new::<municipality::Entity>(model).await?;
    write
        .audit_change::<municipality::Entity>(stored.id, Some(stored.id), None, Some(&stored))
        .await?;
    Ok(stored)
}

pub async fn update(
    write: &Write,
    input: UpdateMunicipalityInput,
) -> WriteResult<municipality::Model> {
    let id = id("id", &input.id, NodeKind::Municipality)?;
    let before = write.existing::<municipality::Entity>(id).await?;
    write.authorize::<municipality::Entity>(&before).await?;
    let (after, problems) = input.changed(&before);
    problems.finish()?;
    write
        .replace_audited::<municipality::Entity>(input.version, Some(id), &before, after)
        .await
}

#[stroom_derive::mutations]
impl MunicipalityMutation {
    /// Adds a municipality or region. Admin only.
    change!(create_municipality(input: CreateMunicipalityInput = "The new municipality.") -> MunicipalityPayload = create);

    /// Changes a municipality (its own editors, or an admin).
    change!(update_municipality(input: UpdateMunicipalityInput = "The changes.") -> MunicipalityPayload = update);

    archives!(municipality: MunicipalityPayload, "a municipality", admin);
}
