//! Text fields for a GraphQL request: a text resolved to the request's languages (noting the
//! locale served), the locale it was served in, and every translation of a text.
use async_graphql::{Context, SimpleObject};
use entity::LocalizedText;

use crate::kernel::i18n::{parse_locale_argument, pick};
use crate::kernel::ids::NodeKind;

/// Resolves a text field for the current request, noting the locale served (the response's
/// `Content-Language` says it when all its texts share one).
pub fn resolve(
    ctx: &Context<'_>,
    text: &LocalizedText,
    locale: Option<&str>,
) -> async_graphql::Result<Option<String>> {
    let explicit = parse_locale_argument(locale)?;
    let chain = crate::graphql::context::preferences(ctx).chain(explicit.as_ref());
    Ok(pick(text, &chain).map(|(served, value)| {
        crate::graphql::context::request(ctx)
            .served_locales
            .note(served);
        value.to_owned()
    }))
}

/// The locale a text field is served in for the current request (the same `locale` argument
/// as the field's); `None` when the text has no translation at all.
pub fn served_locale(
    ctx: &Context<'_>,
    text: &LocalizedText,
    locale: Option<String>,
) -> async_graphql::Result<Option<String>> {
    let explicit = parse_locale_argument(locale.as_deref())?;
    let chain = crate::graphql::context::preferences(ctx).chain(explicit.as_ref());
    Ok(pick(text, &chain).map(|(served, _)| served.to_owned()))
}

/// The text a translation belongs to: a record's text field, by its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextSource {
    pub kind: NodeKind,
    pub id: i64,
    pub column: &'static str,
}

/// One translation of a text.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Translation {
    /// The locale code of the translation, such as `nl` or `en`.
    pub locale: String,
    /// The text in that locale.
    pub text: String,
    #[graphql(skip)]
    pub source: TextSource,
}

/// Every translation of a record's text field, ordered by locale code.
pub fn translations(
    text: &LocalizedText,
    kind: NodeKind,
    id: i64,
    column: &'static str,
) -> Vec<Translation> {
    let source = TextSource { kind, id, column };
    text.iter()
        .map(|(locale, text)| Translation {
            locale: locale.to_owned(),
            text: text.to_owned(),
            source,
        })
        .collect()
}

/// A required text field (never null: an empty string when no translation exists).
pub fn required_text(
    ctx: &Context<'_>,
    text: &LocalizedText,
    locale: Option<String>,
) -> async_graphql::Result<String> {
    Ok(resolve(ctx, text, locale.as_deref())?.unwrap_or_default())
}

/// An optional text field (null when it has no translation at all).
pub fn optional_text(
    ctx: &Context<'_>,
    text: &LocalizedText,
    locale: Option<String>,
) -> async_graphql::Result<Option<String>> {
    resolve(ctx, text, locale.as_deref())
}
