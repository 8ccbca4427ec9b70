//! `translateLearning`: an editor of any municipality contributes a translation of a learning,
//! so partner cities read each other's lessons in their own languages. The original text is
//! never changed, each translation says where it comes from and who contributed it, and every
//! one is in the audit trail of the learning's municipality.
use async_graphql::{Enum, ID, InputObject};
use entity::{LocalizedText, learning};
use sea_orm::ActiveValue::Set;

use super::Learning;
use crate::domain::translation::{TranslationOrigin, is_original, note_origin};
use crate::graphql::input::{NAME_MAX, TEXT_MAX, TranslationInput, id, text};
use crate::graphql::text::TextSource;
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{UserError, Write, WriteResult, link_change};
use crate::payload;

/// A text of a learning.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearningText {
    /// Its title.
    Title,
    /// The lesson itself.
    Body,
}

impl LearningText {
    fn column(self) -> (&'static str, &'static str, usize) {
        match self {
            Self::Title => ("title", "title", NAME_MAX),
            Self::Body => ("body", "body", TEXT_MAX),
        }
    }
}

/// A translation of a learning's text into another language.
#[derive(InputObject)]
pub struct TranslateLearningInput {
    /// The learning.
    pub learning: ID,
    /// The version of the learning you last read.
    pub version: i32,
    /// Which text.
    pub text: LearningText,
    /// The language of the translation, such as `fr` or `fi`.
    pub locale: String,
    /// The translated text.
    pub translation: String,
    /// Who translated it: a person (the default) or a machine.
    pub origin: Option<TranslationOrigin>,
}

payload!(
    /// The result of `translateLearning`.
    TranslateLearningPayload { learning: Learning }
);

async fn translate(write: &Write, input: TranslateLearningInput) -> WriteResult<learning::Model> {
    let learning_id = id("learning", &input.learning, NodeKind::Learning)?;
    let before = write.existing::<learning::Entity>(learning_id).await?;
    // A translation made here may add to a copy of a followed instance's record.
    write.allow_copies();
    let origin = input.origin.unwrap_or_default();
    if origin == TranslationOrigin::Original {
        return Err(UserError::invalid(
            "origin",
            "A translation is by a person (HUMAN) or a machine (MACHINE), not the original.",
        )
        .into());
    }
    let (api_name, column, max) = input.text.column();
    let translated = text(
        "translation",
        &[TranslationInput {
            locale: input.locale.clone(),
            text: input.translation.clone(),
        }],
        true,
        max,
    )?;
    let Some((locale, _)) = translated.0.iter().next() else {
        return Err(UserError::invalid("translation", "The translation is empty.").into());
    };
    let locale = locale.clone();
    let current: &LocalizedText = match input.text {
        LearningText::Title => &before.title,
        LearningText::Body => &before.body,
    };
    let source = TextSource {
        kind: NodeKind::Learning,
        id: learning_id,
        column,
    };
    if current.0.contains_key(&locale) && is_original(write, source, &locale).await? {
        return Err(UserError::invalid(
            "locale",
            format!(
                "The learning's {api_name} was written in `{locale}`: a translation never \
                 replaces the original text."
            ),
        )
        .into());
    }
    let mut after = current.clone();
    after.0.extend(translated.0);
    let old = serde_json::to_value(current).unwrap_or_default();
    let new = serde_json::to_value(&after).unwrap_or_default();
    let mut active = learning::ActiveModel::default();
    match input.text {
        LearningText::Title => active.title = Set(after),
        LearningText::Body => active.body = Set(after),
    }
    let stored = write
        .update_versioned::<learning::Entity, _>(learning_id, input.version, active)
        .await?;
    write
        .refresh_search_text::<learning::Entity>(&stored)
        .await?;
    note_origin(write, source, &locale, origin, write.viewer.municipality_id).await?;
    let mut change = link_change(api_name, old, new);
    change.insert(
        "translationOrigin".into(),
        serde_json::json!({"locale": locale, "origin": format!("{origin:?}").to_uppercase()}),
    );
    // In the audit trail of the learning's municipality, which sees who translated its lessons.
    write
        .audit(
            NodeKind::Learning,
            learning_id,
            Some(before.municipality_id),
            change,
        )
        .await?;
    Ok(stored)
}

#[stroom_derive::mutations]
impl LearningTranslationMutation {
    /// Adds (or replaces) a translation of a learning's title or body, by an editor of any
    /// municipality: partner cities make each other's lessons readable in their languages. The
    /// original text is never changed; `Translation.origin` and `contributor` tell who
    /// translated, and the learning's municipality sees it in its audit trail.
    change!(translate_learning(input: TranslateLearningInput = "The learning, which text, the language and the translation.") -> TranslateLearningPayload = translate);
}
