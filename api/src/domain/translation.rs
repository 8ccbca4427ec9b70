//! Translations: `addTranslation` (one more language for a text field of any record, by its
//! owners), and where each translation comes from — the original text, or a translation by a
//! person or a machine, contributed by which municipality (`Translation.origin`,
//! `Translation.contributor`).
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject};
use entity::{LocalizedText, translation_origin};
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Condition, Value};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IdenStatic, Iterable, ModelTrait, QueryFilter, Set,
};

use crate::domain::municipality::Municipality;
use crate::domain::node::{Node, RecordAction, act_on};
use crate::graphql::input::{TranslationInput, text};
use crate::graphql::loader::DbLoader;
use crate::graphql::mutation::run;
use crate::graphql::text::{TextSource, Translation};
use crate::kernel::error::ApiError;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::record::{Record, Table, TextField};
use crate::kernel::write::{UserError, Write, WriteResult, link_change};

/// Where a translation comes from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TranslationOrigin {
    /// Written in this language by the record's authors.
    Original,
    /// Translated by a person.
    #[default]
    Human,
    /// Translated by a machine: read it with care.
    Machine,
}

impl TranslationOrigin {
    fn stored(self) -> Option<&'static str> {
        match self {
            Self::Original => None,
            Self::Human => Some("human"),
            Self::Machine => Some("machine"),
        }
    }

    fn read(stored: &str) -> Self {
        match stored {
            "machine" => Self::Machine,
            _ => Self::Human,
        }
    }
}

/// The translations of a record's texts that are not originals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OriginsOf(pub NodeKind, pub i64);

impl Loader<OriginsOf> for DbLoader {
    type Value = Arc<Vec<translation_origin::Model>>;
    type Error = ApiError;

    async fn load(&self, keys: &[OriginsOf]) -> Result<HashMap<OriginsOf, Self::Value>, ApiError> {
        let mut by_kind: HashMap<NodeKind, Vec<i64>> = HashMap::new();
        for key in keys {
            by_kind.entry(key.0).or_default().push(key.1);
        }
        let mut condition = Condition::any();
        for (kind, ids) in by_kind {
            condition = condition.add(
                Condition::all()
                    .add(translation_origin::Column::SubjectType.eq(kind.type_name()))
                    .add(translation_origin::Column::SubjectId.is_in(ids)),
            );
        }
        let rows = translation_origin::Entity::find()
            .filter(condition)
            .all(&self.db)
            .await?;
        let mut grouped: HashMap<OriginsOf, Vec<translation_origin::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            if let Some(kind) = NodeKind::from_type_name(&row.subject_type)
                && let Some(list) = grouped.get_mut(&OriginsOf(kind, row.subject_id))
            {
                list.push(row);
            }
        }
        Ok(grouped.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Translation {
    async fn origin_row(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<translation_origin::Model>> {
        let TextSource { kind, id, column } = self.source;
        let origins = crate::graphql::context::loader(ctx)
            .load_one(OriginsOf(kind, id))
            .await?
            .unwrap_or_default();
        Ok(origins
            .iter()
            .find(|o| o.field == column && o.locale == self.locale)
            .cloned())
    }
}

#[ComplexObject]
impl Translation {
    /// Where this translation comes from: the record's original text, or a translation by a
    /// person or by a machine.
    async fn origin(&self, ctx: &Context<'_>) -> async_graphql::Result<TranslationOrigin> {
        Ok(match self.origin_row(ctx).await? {
            Some(row) => TranslationOrigin::read(&row.origin),
            None => TranslationOrigin::Original,
        })
    }

    /// The municipality that contributed this translation (null for an original text).
    async fn contributor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Municipality>> {
        match self
            .origin_row(ctx)
            .await?
            .and_then(|row| row.municipality_id)
        {
            Some(id) => crate::graphql::loader::reference(ctx, Some(id)).await,
            None => Ok(None),
        }
    }
}

/// Notes where a text's translation in `locale` comes from (a person or a machine, and the
/// contributing municipality), replacing what was noted before. An original needs no note.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn note_origin(
    write: &Write,
    source: TextSource,
    locale: &str,
    origin: TranslationOrigin,
    municipality: Option<i64>,
) -> WriteResult<()> {
    translation_origin::Entity::delete_many()
        .filter(translation_origin::Column::SubjectType.eq(source.kind.type_name()))
        .filter(translation_origin::Column::SubjectId.eq(source.id))
        .filter(translation_origin::Column::Field.eq(source.column))
        .filter(translation_origin::Column::Locale.eq(locale))
        .exec(&write.txn)
        .await?;
    if let Some(stored) = origin.stored() {
        let now = crate::kernel::time::now();
        translation_origin::ActiveModel {
            subject_type: Set(source.kind.type_name().to_owned()),
            subject_id: Set(source.id),
            field: Set(source.column.to_owned()),
            locale: Set(locale.to_owned()),
            origin: Set(stored.to_owned()),
            municipality_id: Set(municipality),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&write.txn)
        .await?;
    }
    Ok(())
}

/// Whether a locale of a text is one of its originals: present, and not noted as translated.
pub async fn is_original(write: &Write, source: TextSource, locale: &str) -> WriteResult<bool> {
    let noted = translation_origin::Entity::find()
        .filter(translation_origin::Column::SubjectType.eq(source.kind.type_name()))
        .filter(translation_origin::Column::SubjectId.eq(source.id))
        .filter(translation_origin::Column::Field.eq(source.column))
        .filter(translation_origin::Column::Locale.eq(locale))
        .one(&write.txn)
        .await?;
    Ok(noted.is_none())
}

/// A translation to add (or replace) in one text field of a record.
#[derive(InputObject)]
pub struct AddTranslationInput {
    /// The record.
    pub id: ID,
    /// The version of the record you last read.
    pub version: i32,
    /// The text field, by its API name: `name`, `description`, `title`, `body`, `summary`…
    pub field: String,
    /// The locale code, such as `fr` or `en`.
    pub locale: String,
    /// The text in that locale.
    pub text: String,
    /// Where the translation comes from (default: a person). A locale the text was written in
    /// stays original.
    pub origin: Option<TranslationOrigin>,
}

/// The result of `addTranslation`.
#[derive(SimpleObject)]
pub struct AddTranslationPayload {
    /// The record as it is after the change; null when the change was refused.
    pub node: Option<Node>,
    /// What was wrong with the input; empty on success. Nothing is changed when it is not.
    pub user_errors: Vec<UserError>,
}

/// The text field `name` of table `E`, or the user error that lists the ones it has.
fn text_field<E: Table>(kind: NodeKind, name: &str) -> WriteResult<TextField> {
    if let Some(field) = E::TEXT_FIELDS.iter().find(|f| f.field == name) {
        return Ok(*field);
    }
    let names: Vec<&str> = E::TEXT_FIELDS.iter().map(|f| f.field).collect();
    Err(UserError::invalid(
        "field",
        if names.is_empty() {
            format!(
                "{} has no translatable text.",
                capitalised(&kind.with_article())
            )
        } else {
            format!(
                "`{name}` is not a text field of {}: use {}.",
                kind.type_name(),
                names.join(", ")
            )
        },
    )
    .into())
}

async fn add<E: Record>(
    write: &Write,
    id: i64,
    input: &AddTranslationInput,
) -> WriteResult<E::Model> {
    let kind = E::KIND;
    let field = text_field::<E>(kind, &input.field)?;
    let before = write.existing::<E>(id).await?;
    let municipality = write.authorize::<E>(&before).await?;
    // A translation made here may add to a copy of a followed instance's record.
    write.allow_copies();
    let translation = text(
        "text",
        &[TranslationInput {
            locale: input.locale.clone(),
            text: input.text.clone(),
        }],
        true,
        field.max_chars,
    )?;
    let column = E::Column::iter()
        .find(|c| c.as_str() == field.column)
        .ok_or_else(|| UserError::invalid("field", "No such text field."))?;
    let mut current: LocalizedText = match before.get(column) {
        Value::Json(Some(json)) => serde_json::from_value(*json).unwrap_or_default(),
        _ => LocalizedText::default(),
    };
    let old = serde_json::to_value(&current).unwrap_or_default();
    let source = TextSource {
        kind,
        id,
        column: field.column,
    };
    let locale = translation.0.keys().next().cloned().unwrap_or_default();
    let new_locale = !current.0.contains_key(&locale);
    if new_locale || !is_original(write, source, &locale).await? {
        let origin = match input.origin.unwrap_or_default() {
            TranslationOrigin::Original => TranslationOrigin::Human,
            origin => origin,
        };
        note_origin(write, source, &locale, origin, write.viewer.municipality_id).await?;
    }
    current.0.extend(translation.0);
    let new = serde_json::to_value(&current).unwrap_or_default();
    let mut active = <E::ActiveModel as ActiveModelTrait>::default();
    active.set(column, Value::Json(Some(Box::new(new.clone()))));
    let stored = write
        .update_versioned::<E, _>(id, input.version, active)
        .await?;
    write.refresh_search_text::<E>(&stored).await?;
    write
        .audit(kind, id, municipality, link_change(&input.field, old, new))
        .await?;
    Ok(stored)
}

async fn add_translation(write: &Write, input: AddTranslationInput) -> WriteResult<Node> {
    let GlobalId { kind, id } = GlobalId::decode("id", &input.id)?;
    act_on(
        kind,
        AddText {
            write,
            id,
            input: &input,
        },
    )
    .await
}

/// `addTranslation` on the record's own table.
struct AddText<'a> {
    write: &'a Write,
    id: i64,
    input: &'a AddTranslationInput,
}

impl<'a> RecordAction<'a> for AddText<'a> {
    fn on<E: Record>(self) -> BoxFuture<'a, WriteResult<E::Model>> {
        Box::pin(add::<E>(self.write, self.id, self.input))
    }
}

#[derive(Default)]
pub struct TranslationMutation;

#[Object]
impl TranslationMutation {
    /// Adds a translation to a text field of any record (or replaces the one in that locale).
    async fn add_translation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The record, field, locale and text.")] input: AddTranslationInput,
    ) -> async_graphql::Result<AddTranslationPayload> {
        let (node, user_errors) = run(ctx, "addTranslation", move |write| {
            Box::pin(add_translation(write, input))
        })
        .await?;
        Ok(AddTranslationPayload { node, user_errors })
    }
}

/// The text with its first letter upper-case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
