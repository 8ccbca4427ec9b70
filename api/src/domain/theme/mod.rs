//! Themes: the taxonomy of circular themes and needs-mapping domains; partner cities add their own.
pub mod mutation;

use async_graphql::ID;
use entity::theme;

use crate::domain::initiative::Initiative;
use crate::domain::municipality::Municipality;
use crate::domain::need::Need;
use crate::graphql::input::NAME_MAX;
use crate::graphql::input::TEXT_MAX;
use crate::graphql::pagination::{SortKey, SortKind};
use crate::kernel::record::col;

crate::record_table! {
    theme: Theme {
        references: [parent_id => Theme, municipality_id => Municipality],
        texts: [label = NAME_MAX, description = TEXT_MAX],
        municipality_or_shared: municipality_id,
    }
    table {
        fn default_sort() -> SortKey {
            SortKey::new(
                "CODE",
                col(theme::Column::Code),
                SortKind::Text,
                Self::id_expr(),
            )
        }
        fn search_text(model: &theme::Model) -> Option<String> {
            Some(search_text(model))
        }
        fn conflict(_columns: &[String]) -> crate::kernel::write::UserError {
            crate::kernel::write::UserError::new(
                "code",
                "The code is taken: codes are unique across cities.",
                crate::kernel::write::UserErrorCode::Conflict,
            )
        }
    }
}

/// What search matches of a theme: its labels in every language and its code.
pub fn search_text(model: &theme::Model) -> String {
    let code = entity::LocalizedText(
        [("code".to_owned(), model.code.replace('_', " "))]
            .into_iter()
            .collect(),
    );
    crate::kernel::i18n::search_text([&model.label, &code])
}

/// Fills the search text of themes stored before themes had one (once, at start).
pub async fn fill_search_text(db: &impl sea_orm::ConnectionTrait) -> Result<usize, sea_orm::DbErr> {
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
    let missing = theme::Entity::find()
        .filter(theme::Column::SearchText.eq(""))
        .all(db)
        .await?;
    let count = missing.len();
    for model in missing {
        let text = search_text(&model);
        let mut active = model.into_active_model();
        active.search_text = Set(text);
        active.update(db).await?;
    }
    Ok(count)
}

/// A theme of the taxonomy, such as Materials or Food; themes nest.
#[stroom_derive::record(theme)]
impl Theme {
    id!("theme");

    /// A stable code, such as `materials` or `food_policy`, for use in code and across cities.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The label, in the requested locale (with fallback to other translations).
    text!(label: String, "Every translation of the label.");

    /// What the theme covers, in the requested locale.
    text!(description: Option<String>, "Every translation of the description.");

    /// The broader theme, if any.
    reference!(parent: Option<Theme> = parent_id);

    /// Narrower themes.
    list!(children: Theme = parent_id, "themes");

    /// The municipality that added the theme; null for the shared taxonomy.
    reference!(municipality: Option<Municipality> = municipality_id);

    /// Needs of this theme.
    list!(needs: Need = theme_id);

    /// Initiatives with this theme.
    list!(initiatives: Initiative = via initiative_theme(theme_id -> initiative_id));

    history!();
}

/// Criteria for the list of themes.
#[stroom_derive::filter(theme)]
pub struct ThemeFilter {
    /// Only themes with these codes.
    #[by(any_of(code))]
    pub codes: Option<Vec<String>>,
    /// Only themes inside these themes (at any depth).
    #[by(subtree(parent_id, Theme))]
    pub within: Option<Vec<ID>>,
    /// Only top-level themes when true; only narrower ones when false.
    #[by(is_null(parent_id))]
    pub top_level: Option<bool>,
    /// Only themes added by these municipalities.
    #[by(references(municipality_id, Municipality))]
    pub municipalities: Option<Vec<ID>>,
}

#[stroom_derive::order(theme, "themes")]
pub enum ThemeOrderField {
    /// The code.
    #[default]
    #[sort(text = code)]
    Code,
    /// The label in the request's locale.
    #[sort(localized = label)]
    Label,
}

#[stroom_derive::query]
impl ThemeQuery {
    /// The themes of the taxonomy.
    records!(themes: Theme, ThemeFilter, ThemeOrder = "by code");
}
