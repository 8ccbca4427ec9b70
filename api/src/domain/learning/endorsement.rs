//! Endorsements: another municipality saying of a learning "we saw this too", so partner cities
//! see which lessons several cities share.
use async_graphql::{Context, ID, InputObject};
use entity::learning_endorsement;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Learning;
use crate::domain::municipality::Municipality;
use crate::graphql::common::RecordMeta;
use crate::graphql::input::{TEXT_MAX, TranslationInput, id, text};
use crate::kernel::access::Role;
use crate::kernel::ids::NodeKind;
use crate::kernel::write::{UserError, UserErrorCode, Write, WriteResult};
use crate::{payload, record_meta};

crate::record_table! {
    learning_endorsement: LearningEndorsement {
        references: [learning_id => Learning, municipality_id => Municipality],
        texts: [note = TEXT_MAX],
        municipality: municipality_id,
    }
    table {
        const COPIED: bool = true;
        fn conflict(_columns: &[String]) -> crate::kernel::write::UserError {
            crate::kernel::write::UserError::new(
                "learning",
                "The municipality endorses this learning already.",
                crate::kernel::write::UserErrorCode::Conflict,
            )
        }
    }
}

/// A municipality's endorsement of another municipality's learning: "we saw this too".
#[stroom_derive::record(learning_endorsement)]
impl LearningEndorsement {
    id!("endorsement");

    /// The municipality that endorses the learning.
    reference!(municipality: Municipality = municipality_id);

    /// The learning endorsed.
    async fn learning(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Learning>> {
        crate::graphql::loader::reference(ctx, Some(self.0.learning_id)).await
    }

    /// How the municipality saw it too, in the requested locale.
    text!(note: Option<String>, "Every translation of the note.");

    origin!("endorsement");

    #[graphql(flatten)]
    async fn meta(&self) -> RecordMeta {
        record_meta!(self.0)
    }
}

payload!(
    /// The result of a change to an endorsement.
    LearningEndorsementPayload { learning_endorsement: LearningEndorsement }
);

/// An endorsement of a learning.
#[derive(InputObject)]
pub struct EndorseLearningInput {
    /// The learning, of another municipality.
    pub learning: ID,
    /// The endorsing municipality: an editor's own (the default); an admin names one.
    pub municipality: Option<ID>,
    /// How the municipality saw it too, in one or more languages.
    pub note: Option<Vec<TranslationInput>>,
}

pub async fn endorse(
    write: &Write,
    input: EndorseLearningInput,
) -> WriteResult<learning_endorsement::Model> {
    let learning_id = id("learning", &input.learning, NodeKind::Learning)?;
    let municipality = match (&input.municipality, write.viewer.role) {
        (Some(m), _) => id("municipality", m, NodeKind::Municipality)?,
        (None, Role::Editor) => write.viewer.municipality_id.ok_or_else(|| {
            UserError::invalid("municipality", "Name the endorsing municipality.")
        })?,
        (None, _) => {
            return Err(
                UserError::invalid("municipality", "Name the endorsing municipality.").into(),
            );
        }
    };
    write.may_write(Some(municipality))?;
    write
        .live::<entity::municipality::Entity>("municipality", municipality)
        .await?;
    let learning = write
        .live::<entity::learning::Entity>("learning", learning_id)
        .await?;
    if learning.municipality_id == municipality {
        return Err(UserError::invalid(
            "learning",
            "A municipality endorses other municipalities' learnings, not its own.",
        )
        .into());
    }
    let note = text(
        "note",
        input.note.as_deref().unwrap_or_default(),
        false,
        TEXT_MAX,
    )?;
    let existing = learning_endorsement::Entity::find()
        .filter(learning_endorsement::Column::LearningId.eq(learning_id))
        .filter(learning_endorsement::Column::MunicipalityId.eq(municipality))
        .one(&write.txn)
        .await?;
    if let Some(found) = existing {
        if found.archived_at.is_none() {
            return Err(UserError::new(
                "learning",
                "The municipality endorses this learning already.",
                UserErrorCode::Conflict,
            )
            .into());
        }
        // Withdrawn before: the same endorsement comes back, with its history.
        let mut after = found.clone();
        after.archived_at = None;
        after.note = note;
        let stored = write
            .replace_audited::<learning_endorsement::Entity>(
                found.version,
                Some(municipality),
                &found,
                after,
            )
            .await?;
        return Ok(stored);
    }
    let model = crate::new_record!(learning_endorsement::Model {
        learning_id,
        municipality_id: municipality,
        note,
    });
    write
        .insert_audited::<learning_endorsement::Entity>(Some(municipality), model)
        .await
}

#[stroom_derive::mutations]
impl EndorsementMutation {
    /// Endorses another municipality's learning on behalf of the key's municipality: "we saw
    /// this too".
    change!(endorse_learning(input: EndorseLearningInput = "The learning and the note.") -> LearningEndorsementPayload = endorse);

    /// Withdraws an endorsement (it is archived, not deleted).
    archive!(withdraw_learning_endorsement(input = "The endorsement and the version you last read.") -> LearningEndorsementPayload);
}
