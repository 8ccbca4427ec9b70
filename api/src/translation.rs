//! `addTranslation`: one more language for a text field of any record, the everyday job of
//! making a partner city's lessons readable in another language.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entity::LocalizedText;
use sea_orm::sea_query::Value;
use sea_orm::{ActiveModelTrait, IdenStatic, Iterable, ModelTrait};

use crate::ids::{GlobalId, NodeKind};
use crate::input::{NAME_MAX, TEXT_MAX, TranslationInput, text};
use crate::node::Node;
use crate::record::Table;
use crate::write::{UserError, Write, WriteResult, link_change};

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
}

/// The result of `addTranslation`.
#[derive(SimpleObject)]
pub struct AddTranslationPayload {
    /// The record as it is after the change; null when the change was refused.
    pub node: Option<Node>,
    /// What was wrong with the input; empty on success. Nothing is changed when it is not.
    pub user_errors: Vec<UserError>,
}

/// The text fields of each type: API name, column, longest text.
fn text_fields(kind: NodeKind) -> &'static [(&'static str, &'static str, usize)] {
    const NAME: (&str, &str, usize) = ("name", "name", NAME_MAX);
    const DESCRIPTION: (&str, &str, usize) = ("description", "description", TEXT_MAX);
    match kind {
        NodeKind::Municipality | NodeKind::Area => &[NAME],
        NodeKind::Theme => &[("label", "label", NAME_MAX), DESCRIPTION],
        NodeKind::Organisation | NodeKind::Initiative | NodeKind::Indicator => &[NAME, DESCRIPTION],
        NodeKind::Programme => &[
            NAME,
            ("summary", "summary", TEXT_MAX),
            ("fundingChannel", "funding_channel", NAME_MAX),
            ("staffing", "staffing", NAME_MAX),
        ],
        NodeKind::Partnership => &[("note", "note", TEXT_MAX)],
        NodeKind::Need => &[("title", "title", NAME_MAX), DESCRIPTION],
        NodeKind::SupportRequest => &[DESCRIPTION, ("decisionNote", "decision_note", TEXT_MAX)],
        NodeKind::Outcome => &[("method", "method", TEXT_MAX)],
        NodeKind::Learning => &[("title", "title", NAME_MAX), ("body", "body", TEXT_MAX)],
        NodeKind::LearningEndorsement => &[("note", "note", TEXT_MAX)],
        NodeKind::ContactPerson | NodeKind::ApiKey => &[],
    }
}

async fn add<E: Table>(
    write: &Write,
    kind: NodeKind,
    id: i64,
    input: &AddTranslationInput,
    column: &str,
    max: usize,
) -> WriteResult<E::Model> {
    let before = write.existing::<E>(kind, id).await?;
    let municipality = write.authorize::<E>(&before).await?;
    let translation = text(
        "text",
        &[TranslationInput {
            locale: input.locale.clone(),
            text: input.text.clone(),
        }],
        true,
        max,
    )?;
    let column = E::Column::iter()
        .find(|c| c.as_str() == column)
        .ok_or_else(|| UserError::invalid("field", "No such text field."))?;
    let mut current: LocalizedText = match before.get(column) {
        Value::Json(Some(json)) => serde_json::from_value(*json).unwrap_or_default(),
        _ => LocalizedText::default(),
    };
    let old = serde_json::to_value(&current).unwrap_or_default();
    current.0.extend(translation.0);
    let new = serde_json::to_value(&current).unwrap_or_default();
    let mut active = <E::ActiveModel as ActiveModelTrait>::default();
    active.set(column, Value::Json(Some(Box::new(new.clone()))));
    let stored = write
        .update_versioned::<E, _>(kind, id, input.version, active)
        .await?;
    write.refresh_search_text::<E>(&stored).await?;
    write
        .audit(kind, id, municipality, link_change(&input.field, old, new))
        .await?;
    Ok(stored)
}

async fn add_translation(write: &Write, input: AddTranslationInput) -> WriteResult<Node> {
    use crate::{
        area, indicator, initiative, learning, municipality, need, organisation, outcome,
        partnership, programme, theme,
    };
    let GlobalId { kind, id } = GlobalId::decode("id", &input.id)?;
    let fields = text_fields(kind);
    let Some((_, column, max)) = fields.iter().find(|(name, _, _)| *name == input.field) else {
        let names: Vec<&str> = fields.iter().map(|(name, _, _)| *name).collect();
        return Err(UserError::invalid(
            "field",
            if names.is_empty() {
                format!(
                    "{} has no translatable text.",
                    capitalised(&kind.with_article())
                )
            } else {
                format!(
                    "`{}` is not a text field of {}: use {}.",
                    input.field,
                    kind.type_name(),
                    names.join(", ")
                )
            },
        )
        .into());
    };
    let (column, max) = (*column, *max);
    Ok(match kind {
        NodeKind::Municipality => Node::Municipality(municipality::Municipality(
            add::<entity::municipality::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Area => Node::Area(area::Area(
            add::<entity::area::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Theme => Node::Theme(theme::Theme(
            add::<entity::theme::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Organisation => Node::Organisation(organisation::Organisation(
            add::<entity::organisation::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Programme => Node::Programme(programme::Programme(
            add::<entity::programme::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Partnership => Node::Partnership(partnership::Partnership(
            add::<entity::partnership::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Need => Node::Need(need::Need(
            add::<entity::need::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Initiative => Node::Initiative(initiative::Initiative(
            add::<entity::initiative::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::SupportRequest => Node::SupportRequest(initiative::SupportRequest(
            add::<entity::support_request::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Indicator => Node::Indicator(indicator::Indicator(
            add::<entity::indicator::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Outcome => Node::Outcome(outcome::Outcome(
            add::<entity::outcome::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::Learning => Node::Learning(learning::Learning(
            add::<entity::learning::Entity>(write, kind, id, &input, column, max).await?,
        )),
        NodeKind::LearningEndorsement => {
            Node::LearningEndorsement(learning::endorsement::LearningEndorsement(
                add::<entity::learning_endorsement::Entity>(write, kind, id, &input, column, max)
                    .await?,
            ))
        }
        NodeKind::ContactPerson | NodeKind::ApiKey => {
            return Err(UserError::invalid(
                "id",
                format!(
                    "{} has no translatable text.",
                    capitalised(&kind.with_article())
                ),
            )
            .into());
        }
    })
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
        let write = Write::begin(ctx, "addTranslation").await?;
        let result = add_translation(&write, input).await;
        let (node, user_errors) = write.finish(result).await?;
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
