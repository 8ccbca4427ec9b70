//! Changing learnings: the lessons partner cities read.
use async_graphql::{ID, InputObject, MaybeUndefined};
use entity::{learning, learning_theme, theme};

use super::{Audience, Learning, LearningKind};
use crate::graphql::input::{NAME_MAX, TEXT_MAX, TranslationInput, id, text};
use crate::graphql::mutation::{edited, linked_ids};
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{Links, Problems, UserError, Write, WriteResult, same_municipality};
use crate::payload;

payload!(
    /// The result of a change to a learning.
    LearningPayload { learning: Learning }
);

/// A new lesson.
#[derive(InputObject)]
pub struct CreateLearningInput {
    /// The municipality that drew it; by default the programme's or the initiative's.
    pub municipality: Option<ID>,
    /// The programme it was drawn from.
    pub programme: Option<ID>,
    /// The initiative it was drawn from.
    pub initiative: Option<ID>,
    /// The kind of lesson.
    pub kind: LearningKind,
    /// Who may read it (default: PUBLIC).
    pub audience: Option<Audience>,
    /// Its position among the lessons of its source.
    pub position: Option<i32>,
    /// A short title, in one or more languages.
    pub title: Vec<TranslationInput>,
    /// The lesson, in the same languages.
    pub body: Vec<TranslationInput>,
    /// Its themes.
    pub themes: Option<Vec<ID>>,
}

/// Changes to a learning; fields left out stay as they are.
#[stroom_derive::update(learning, "learning")]
pub struct UpdateLearningInput {
    /// The kind of lesson.
    #[set]
    pub kind: Option<LearningKind>,
    /// Who may read it.
    #[set]
    pub audience: Option<Audience>,
    /// Its position (null: none).
    #[set(check = |_, at| position(at))]
    pub position: MaybeUndefined<i32>,
    /// The title: replaces every translation.
    #[set(text = NAME_MAX)]
    pub title: Option<Vec<TranslationInput>>,
    /// The body: replaces every translation.
    #[set(text = TEXT_MAX)]
    pub body: Option<Vec<TranslationInput>>,
    /// Its themes: replaces the list.
    pub themes: Option<Vec<ID>>,
}

fn position(value: i32) -> Result<i64, UserError> {
    if value < 1 {
        Err(UserError::invalid("position", "A position counts from 1."))
    } else {
        Ok(i64::from(value))
    }
}

/// A learning's themes, in the `learning_theme` table.
pub const THEMES: Links<learning_theme::Column> = Links::new::<learning::Entity, theme::Entity>(
    learning_theme::Column::LearningId,
    learning_theme::Column::ThemeId,
);

pub async fn create(write: &Write, input: CreateLearningInput) -> WriteResult<learning::Model> {
    let mut problems = Problems::default();
    let title = problems.check(text("title", &input.title, true, NAME_MAX));
    let body = problems.check(text("body", &input.body, true, TEXT_MAX));
    let municipality = input
        .municipality
        .as_ref()
        .and_then(|m| problems.check(id("municipality", m, NodeKind::Municipality)));
    let programme = input
        .programme
        .as_ref()
        .and_then(|p| problems.check(id("programme", p, NodeKind::Programme)));
    let initiative = input
        .initiative
        .as_ref()
        .and_then(|i| problems.check(id("initiative", i, NodeKind::Initiative)));
    let position = input.position.and_then(|p| problems.check(position(p)));
    problems.finish()?;
    let (Some(title), Some(body)) = (title, body) else {
        return Err(UserError::invalid("", "Invalid input.").into());
    };
    let mut owner = municipality;
    if let Some(initiative) = initiative {
        let i = write
            .live::<entity::initiative::Entity>("initiative", initiative)
            .await?;
        if let Some(given) = owner {
            same_municipality("initiative", given, Some(i.municipality_id), "initiative")?;
        }
        owner = Some(i.municipality_id);
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
            "Name the municipality that drew the lesson.",
        )
        .into());
    };
    write.may_write(Some(owner))?;
    write
        .live::<entity::municipality::Entity>("municipality", owner)
        .await?;
    let themes = linked_ids::<theme::Entity>(write, "themes", Some(owner), input.themes.as_deref()).await?;
    let model = crate::new_record!(learning::Model {
        municipality_id: owner,
        programme_id: programme,
        initiative_id: initiative,
        kind: input.kind.into(),
        audience: input.audience.unwrap_or(Audience::Public).into(),
        position,
        title,
        body,
        search_text: String::new(),
    });
    let stored = write.insert_new::<learning::Entity>(model).await?;
    let links = write
        .replace_links("themes", &THEMES, stored.id, themes.as_deref())
        .await?;
    write
        .audit_created::<learning::Entity>(Some(owner), &stored, links)
        .await?;
    Ok(stored)
}

pub async fn update(write: &Write, input: UpdateLearningInput) -> WriteResult<learning::Model> {
    let (id, before, after, municipality) = edited::<learning::Entity, _>(write, &input).await?;
    let themes = linked_ids::<theme::Entity>(write, "themes", Some(before.municipality_id), input.themes.as_deref()).await?;
    let links = write
        .replace_links("themes", &THEMES, id, themes.as_deref())
        .await?;
    write
        .replace_linked::<learning::Entity>(input.version, municipality, &before, after, links)
        .await
}

#[stroom_derive::mutations]
impl LearningMutation {
    /// Records a lesson learnt.
    change!(create_learning(input: CreateLearningInput = "The new lesson.") -> LearningPayload = create);

    updates!(learning: LearningPayload, "a lesson");

    archives!(learning: LearningPayload, "a lesson");
}
