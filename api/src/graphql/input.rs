//! Parsing mutation inputs into checked values, each problem a user error naming its field.
use async_graphql::{ID, InputObject};
use chrono::NaiveDate;
use entity::LocalizedText;

use crate::kernel::i18n::Locale;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::write::UserError;

/// One translation of a text.
#[derive(InputObject, Debug, Clone)]
pub struct TranslationInput {
    /// The locale code, such as `nl`, `en` or `fr-BE`.
    pub locale: String,
    /// The text in that locale.
    pub text: String,
}

/// Identifies the record to archive or unarchive.
#[derive(InputObject, Debug, Clone)]
pub struct ArchiveInput {
    /// The global ID of the record.
    pub id: ID,
    /// The version of the record you last read.
    pub version: i32,
}

/// Longest short text (names, titles).
pub const NAME_MAX: usize = 200;
/// Longest long text (descriptions, bodies).
pub const TEXT_MAX: usize = 20_000;

/// Translations into a `LocalizedText`: valid, distinct locales and non-empty texts.
pub fn text(
    field: &str,
    translations: &[TranslationInput],
    required: bool,
    max: usize,
) -> Result<LocalizedText, UserError> {
    if required && translations.is_empty() {
        return Err(UserError::invalid(
            field,
            format!("`{field}` needs at least one translation."),
        ));
    }
    if translations.len() > 32 {
        return Err(UserError::invalid(
            field,
            "A text takes at most 32 translations.",
        ));
    }
    let mut text = LocalizedText::new();
    for (i, translation) in translations.iter().enumerate() {
        let locale = Locale::parse(&translation.locale)
            .map_err(|m| UserError::invalid(&format!("{field}.{i}.locale"), m))?;
        let value = translation.text.trim();
        if value.is_empty() {
            return Err(UserError::invalid(
                &format!("{field}.{i}.text"),
                format!("The {locale} text of `{field}` is empty."),
            ));
        }
        if value.chars().count() > max {
            return Err(UserError::invalid(
                &format!("{field}.{i}.text"),
                format!("The {locale} text of `{field}` is longer than {max} characters."),
            ));
        }
        if text
            .0
            .insert(locale.as_str().to_owned(), value.to_owned())
            .is_some()
        {
            return Err(UserError::invalid(
                &format!("{field}.{i}.locale"),
                format!("`{field}` has two {locale} translations."),
            ));
        }
    }
    Ok(text)
}

/// A trimmed, non-empty plain string of at most `max` characters.
pub fn plain(field: &str, value: &str, max: usize) -> Result<String, UserError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(UserError::invalid(field, format!("`{field}` is empty.")));
    }
    if value.chars().count() > max {
        return Err(UserError::invalid(
            field,
            format!("`{field}` is longer than {max} characters."),
        ));
    }
    Ok(value.to_owned())
}

/// The row ID behind a global ID of the expected type.
pub fn id(field: &str, id: &ID, kind: NodeKind) -> Result<i64, UserError> {
    GlobalId::decode_as(field, id, kind).map_err(|e| UserError::invalid(field, e.to_string()))
}

/// Several IDs of one type, without repeats.
pub fn ids(field: &str, ids: &[ID], kind: NodeKind) -> Result<Vec<i64>, UserError> {
    if ids.len() > 100 {
        return Err(UserError::invalid(
            field,
            format!("`{field}` takes at most 100 IDs."),
        ));
    }
    let mut out: Vec<i64> = Vec::with_capacity(ids.len());
    for (i, raw) in ids.iter().enumerate() {
        let value = id(&format!("{field}.{i}"), raw, kind)?;
        if out.contains(&value) {
            return Err(UserError::invalid(
                &format!("{field}.{i}"),
                format!("`{field}` lists {} twice.", raw.as_str()),
            ));
        }
        out.push(value);
    }
    Ok(out)
}

/// A stable machine code (of a theme or an indicator): trimmed, checked, as given.
pub fn code(value: &str) -> Result<String, UserError> {
    let value = value.trim();
    let valid = (2..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && value.starts_with(|c: char| c.is_ascii_lowercase());
    if valid {
        Ok(value.to_owned())
    } else {
        Err(UserError::invalid(
            "code",
            "A code is 2–64 lower-case letters, digits and underscores, starting with a letter.",
        ))
    }
}

/// ISO 3166-1 alpha-2 country codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, upper-cased.
pub fn country(field: &str, value: &str) -> Result<String, UserError> {
    let code = value.trim().to_ascii_uppercase();
    if code.len() == 2 && COUNTRIES.split(' ').any(|c| c == code) {
        Ok(code)
    } else {
        Err(UserError::invalid(
            field,
            format!("`{value}` is not an ISO 3166-1 alpha-2 country code (such as BE, NL, FR)."),
        ))
    }
}

/// A locale code, canonicalised.
pub fn locale(field: &str, value: &str) -> Result<String, UserError> {
    Locale::parse(value)
        .map(|l| l.as_str().to_owned())
        .map_err(|m| UserError::invalid(field, m))
}

/// An http(s) URL.
pub fn url(field: &str, value: &str) -> Result<String, UserError> {
    let value = value.trim();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let valid = value.len() <= 2048
        && !value.chars().any(char::is_whitespace)
        && host.is_some_and(|h| {
            !h.is_empty()
                && h.contains('.')
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        });
    if valid {
        Ok(value.to_owned())
    } else {
        Err(UserError::invalid(
            field,
            format!("`{value}` is not an http(s) URL such as https://example.org."),
        ))
    }
}

/// An e-mail address of the usual form.
pub fn email(field: &str, value: &str) -> Result<String, UserError> {
    let value = value.trim();
    let valid = value.len() <= 320
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.starts_with('.')
                && domain.contains('.')
                && !value
                    .chars()
                    .any(|c| c.is_whitespace() || c == ',' || c == ';')
                && domain
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        });
    if valid {
        Ok(value.to_owned())
    } else {
        Err(UserError::invalid(
            field,
            format!("`{value}` is not an e-mail address."),
        ))
    }
}

/// A telephone number: digits with the usual separators, optionally starting with `+`.
pub fn phone(field: &str, value: &str) -> Result<String, UserError> {
    let value = value.trim();
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let valid = (5..=20).contains(&digits)
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./".contains(c))
        && !value[1..].contains('+');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(UserError::invalid(
            field,
            format!("`{value}` is not a telephone number."),
        ))
    }
}

/// A count that cannot be negative.
pub fn count(field: &str, value: i32) -> Result<i64, UserError> {
    if value < 0 {
        Err(UserError::invalid(
            field,
            format!("`{field}` cannot be negative."),
        ))
    } else {
        Ok(i64::from(value))
    }
}

/// An end date that is not before its start.
pub fn date_order(
    field: &str,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> Result<(), UserError> {
    match (start, end) {
        (Some(start), Some(end)) if end < start => Err(UserError::invalid(
            field,
            format!("The end date {end} lies before the start date {start}."),
        )),
        _ => Ok(()),
    }
}

/// A whole amount of euro, not negative.
pub fn euro(field: &str, value: rust_decimal::Decimal) -> Result<i64, UserError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(UserError::invalid(
            field,
            format!("`{field}` cannot be negative."),
        ));
    }
    if value.normalize().scale() > 0 {
        return Err(UserError::invalid(
            field,
            format!("`{field}` is in whole euro."),
        ));
    }
    i64::try_from(value).map_err(|_| UserError::invalid(field, format!("`{field}` is too large.")))
}

/// Applies an optional text field of an update: a value replaces every translation, null
/// clears the text, absence keeps it.
pub fn apply_text(
    problems: &mut crate::kernel::write::Problems,
    field: &str,
    value: &async_graphql::MaybeUndefined<Vec<TranslationInput>>,
    max: usize,
    target: &mut LocalizedText,
) {
    match value {
        async_graphql::MaybeUndefined::Value(t) => {
            if let Some(t) = problems.check(text(field, t, false, max)) {
                *target = t;
            }
        }
        async_graphql::MaybeUndefined::Null => *target = LocalizedText::default(),
        async_graphql::MaybeUndefined::Undefined => {}
    }
}

/// Applies an optional plain field of an update through its parser.
pub fn apply_optional<T>(
    problems: &mut crate::kernel::write::Problems,
    value: &async_graphql::MaybeUndefined<String>,
    parse: impl FnOnce(&str) -> Result<T, UserError>,
    target: &mut Option<T>,
) {
    match value {
        async_graphql::MaybeUndefined::Value(v) => {
            if let Some(v) = problems.check(parse(v)) {
                *target = Some(v);
            }
        }
        async_graphql::MaybeUndefined::Null => *target = None,
        async_graphql::MaybeUndefined::Undefined => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_texts() {
        let ok = vec![
            TranslationInput {
                locale: "NL".into(),
                text: " Hallo ".into(),
            },
            TranslationInput {
                locale: "en".into(),
                text: "Hello".into(),
            },
        ];
        assert_eq!(
            text("name", &ok, true, 10).unwrap().get("nl"),
            Some("Hallo")
        );
        assert!(text("name", &[], true, 10).is_err());
        assert!(text("name", &[], false, 10).unwrap().is_empty());
        let twice = vec![
            ok[0].clone(),
            TranslationInput {
                locale: "nl".into(),
                text: "x".into(),
            },
        ];
        assert!(text("name", &twice, true, 10).is_err());
        let long = vec![TranslationInput {
            locale: "nl".into(),
            text: "x".repeat(11),
        }];
        assert!(text("name", &long, true, 10).is_err());
        let bad = vec![TranslationInput {
            locale: "dutch".into(),
            text: "x".into(),
        }];
        assert_eq!(
            text("name", &bad, true, 10).unwrap_err().field,
            Some(vec![
                "input".into(),
                "name".into(),
                "0".into(),
                "locale".into()
            ])
        );
    }

    #[test]
    fn checks_contact_details_and_places() {
        assert_eq!(country("c", "be").unwrap(), "BE");
        assert!(country("c", "XX").is_err());
        assert!(url("w", "https://www.mechelen.be/stroom").is_ok());
        assert!(url("w", "ftp://x.org").is_err());
        assert!(url("w", "https://nodot").is_err());
        assert!(email("e", "julie@mechelen.be").is_ok());
        assert!(email("e", "julie@").is_err());
        assert!(email("e", "a b@c.de").is_err());
        assert!(phone("p", "+32 15 29 76 54").is_ok());
        assert!(phone("p", "call me").is_err());
        assert!(phone("p", "12+34567").is_err());
    }

    #[test]
    fn checks_amounts_and_dates() {
        use rust_decimal::Decimal;
        assert_eq!(euro("b", Decimal::from(50_000)).unwrap(), 50_000);
        assert!(euro("b", Decimal::new(-1, 0)).is_err());
        assert!(euro("b", Decimal::new(15, 1)).is_err());
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert!(date_order("d", d("2020-01-02"), d("2020-01-01")).is_err());
        assert!(date_order("d", d("2020-01-01"), d("2020-01-01")).is_ok());
        assert!(date_order("d", None, d("2020-01-01")).is_ok());
    }
}
