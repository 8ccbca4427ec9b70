//! Multilingual text: locale codes, the request's language preferences, the fallback chain
//! that picks one translation, and the folding that makes search ignore case and accents.
//! Pure: resolving a text for a GraphQL request is `graphql::text`'s.
use entity::LocalizedText;
use unicode_normalization::UnicodeNormalization;

use crate::kernel::error::ApiError;

/// Locales tried after the client's own preferences, in this order.
pub const FALLBACK_LOCALES: &[&str] = &["en", "nl", "fr", "de"];

/// Cap on the preferences read from one `Accept-Language` header.
const MAX_PREFERENCES: usize = 8;

/// A well-formed locale code (a BCP 47 language tag restricted to language, script and region:
/// `nl`, `nl-BE`, `fr`, `sr-Latn-RS`), kept in canonical case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Locale(String);

impl Locale {
    pub fn parse(input: &str) -> Result<Self, String> {
        let refuse = || {
            format!(
                "`{input}` is not a valid locale: use a language code such as `nl`, `en` or `fr`, \
                 optionally with a region such as `nl-BE`."
            )
        };
        let mut parts = input.trim().split(['-', '_']);
        let language = parts
            .next()
            .filter(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
        let mut canonical = language.ok_or_else(refuse)?.to_ascii_lowercase();
        let mut seen_region = false;
        let mut seen_script = false;
        for part in parts {
            if !seen_script
                && !seen_region
                && part.len() == 4
                && part.chars().all(|c| c.is_ascii_alphabetic())
            {
                seen_script = true;
                canonical.push('-');
                canonical.push_str(&part[..1].to_ascii_uppercase());
                canonical.push_str(&part[1..].to_ascii_lowercase());
            } else if !seen_region
                && ((part.len() == 2 && part.chars().all(|c| c.is_ascii_alphabetic()))
                    || (part.len() == 3 && part.chars().all(|c| c.is_ascii_digit())))
            {
                seen_region = true;
                canonical.push('-');
                canonical.push_str(&part.to_ascii_uppercase());
            } else {
                return Err(refuse());
            }
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language subtag alone (`nl` for `nl-BE`).
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The request's language preferences, best first, from `Accept-Language`.
#[derive(Debug, Clone, Default)]
pub struct LocalePreferences(Vec<Locale>);

impl LocalePreferences {
    /// Reads an `Accept-Language` header. Malformed entries and `*` are skipped: a header is a
    /// negotiation, not an order, so it never fails the request.
    pub fn from_accept_language(header: &str) -> Self {
        let mut weighted: Vec<(u16, usize, Locale)> = header
            .split(',')
            .take(32)
            .enumerate()
            .filter_map(|(position, entry)| {
                let mut pieces = entry.split(';');
                let tag = pieces.next()?.trim();
                let quality = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(Some(1.0))?;
                if !(quality > 0.0 && quality <= 1.0) {
                    return None;
                }
                let locale = Locale::parse(tag).ok()?;
                Some(((quality * 1000.0) as u16, position, locale))
            })
            .collect();
        weighted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut locales: Vec<Locale> = Vec::new();
        for (_, _, locale) in weighted {
            if !locales.contains(&locale) && locales.len() < MAX_PREFERENCES {
                locales.push(locale);
            }
        }
        Self(locales)
    }

    pub fn preferred(&self) -> Option<&Locale> {
        self.0.first()
    }

    /// The full chain for one field: an explicit `locale` argument first, then the request's
    /// preferences, each followed by its bare language, then the fallback locales.
    pub fn chain(&self, explicit: Option<&Locale>) -> Vec<String> {
        let mut chain: Vec<String> = Vec::new();
        let mut push = |code: &str| {
            if !chain.iter().any(|c| c == code) {
                chain.push(code.to_owned());
            }
        };
        for locale in explicit.into_iter().chain(self.0.iter()) {
            push(locale.as_str());
            push(locale.language());
        }
        for code in FALLBACK_LOCALES {
            push(code);
        }
        chain
    }
}

/// Picks the translation for a chain; when none of the chain's locales is present, the first
/// translation there is (locales in alphabetical order) so a text is never silently empty.
pub fn pick<'a>(text: &'a LocalizedText, chain: &[String]) -> Option<(&'a str, &'a str)> {
    chain
        .iter()
        .find_map(|code| text.0.get_key_value(code.as_str()))
        .or_else(|| text.0.iter().next())
        .map(|(locale, value)| (locale.as_str(), value.as_str()))
}

/// Parses an optional `locale` argument into a locale, with a clear error for a bad code.
pub fn parse_locale_argument(argument: Option<&str>) -> Result<Option<Locale>, ApiError> {
    argument
        .map(|code| Locale::parse(code).map_err(|message| ApiError::bad_input("locale", message)))
        .transpose()
}

/// The locales served to one request.
#[derive(Debug, Default)]
pub struct ServedLocales(std::sync::Mutex<std::collections::BTreeSet<String>>);

impl ServedLocales {
    pub fn note(&self, locale: &str) {
        let mut served = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !served.contains(locale) {
            served.insert(locale.to_owned());
        }
    }

    /// The one locale of every text served, if they share one.
    pub fn only(&self) -> Option<String> {
        let served = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (served.len() == 1)
            .then(|| served.iter().next().cloned())
            .flatten()
    }
}

/// Lower-cases text and strips accents (`Bethaniënpolder` → `bethanienpolder`) so that
/// searches match whatever the user types.
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The folded text of every translation of several texts, one per line, for `search_text`.
pub fn search_text<'a>(texts: impl IntoIterator<Item = &'a LocalizedText>) -> String {
    let mut lines: Vec<String> = Vec::new();
    for text in texts {
        for (_, value) in text.iter() {
            let folded = fold(value);
            if !lines.contains(&folded) {
                lines.push(folded);
            }
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalises_locales() {
        assert_eq!(Locale::parse("NL-be").unwrap().as_str(), "nl-BE");
        assert_eq!(Locale::parse("sr_latn_rs").unwrap().as_str(), "sr-Latn-RS");
        assert_eq!(Locale::parse("fr").unwrap().language(), "fr");
        for bad in ["", "x", "english", "nl-", "nl-BE-BE", "n1", "'; DROP"] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_accept_language_by_quality() {
        let prefs = LocalePreferences::from_accept_language("fr;q=0.5, nl-BE, en;q=0.8, *;q=0.1");
        assert_eq!(
            prefs.chain(None),
            vec!["nl-BE", "nl", "en", "fr", "de"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        );
        assert!(
            LocalePreferences::from_accept_language("garbage;;q=x")
                .preferred()
                .is_none()
        );
    }

    #[test]
    fn picks_with_fallback() {
        let text = LocalizedText::new().with("nl", "Hallo").with("fi", "Hei");
        let prefs = LocalePreferences::from_accept_language("de");
        assert_eq!(pick(&text, &prefs.chain(None)), Some(("nl", "Hallo")));
        let finnish = Locale::parse("fi-FI").unwrap();
        assert_eq!(
            pick(&text, &prefs.chain(Some(&finnish))),
            Some(("fi", "Hei"))
        );
        let only_sv = LocalizedText::new().with("sv", "Hej");
        assert_eq!(pick(&only_sv, &prefs.chain(None)), Some(("sv", "Hej")));
    }

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(fold("Bethaniënpolder"), "bethanienpolder");
        assert_eq!(
            fold("Région Provence-Alpes-Côte d'Azur"),
            "region provence-alpes-cote d'azur"
        );
        assert_eq!(fold("Päijät-Häme"), "paijat-hame");
    }
}
