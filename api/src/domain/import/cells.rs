//! Reading one cell as the value of an input field: dates as Belgian offices write them, numbers
//! with a decimal comma, yes/no in three languages, enumeration values however they are spelled.
//! Each refusal says what was found and what would be understood.
use async_graphql::{Name, Value};
use chrono::NaiveDate;

use super::sheet::CellValue;

/// What a cell holds after reading: a value for the input, or names/codes/IDs of records that
/// are looked up next.
pub enum Read {
    Value(Value),
    References(Vec<String>),
}

/// The cell as text (numbers as written, without a trailing `.0`).
pub fn text(cell: &CellValue) -> Result<String, String> {
    match cell {
        CellValue::Formula(f) => Err(formula(f)),
        CellValue::Error(e) => Err(format!("The cell holds the error {e}.")),
        other => Ok(other.display().trim().to_owned()),
    }
}

pub fn formula(f: &str) -> String {
    format!(
        "The cell holds a formula (={}); only values are imported: paste it as values.",
        f.trim_start_matches('=')
    )
}

pub fn date(cell: &CellValue) -> Result<NaiveDate, String> {
    match cell {
        CellValue::DateTime(d) => Ok(d.date()),
        CellValue::Number(n) => Err(format!(
            "{n} is a number, not a date; format the cell as a date, or write it as YYYY-MM-DD."
        )),
        other => {
            let raw = text(other)?;
            let day = raw.split(['T', ' ']).next().unwrap_or_default();
            const FORMATS: &[&str] = &["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d"];
            FORMATS
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(day, f).ok())
                .ok_or_else(|| {
                    format!(
                        "`{raw}` is not understood as a date; write it as 2024-03-31 (YYYY-MM-DD) \
                         or 31/03/2024 (DD/MM/YYYY)."
                    )
                })
        }
    }
}

pub fn integer(cell: &CellValue) -> Result<i64, String> {
    match cell {
        CellValue::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => Ok(*n as i64),
        CellValue::Number(n) => Err(format!("{n} is not a whole number.")),
        other => {
            let raw = text(other)?;
            let digits: String = raw
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
                .collect();
            digits
                .parse::<i64>()
                .map_err(|_| format!("`{raw}` is not a whole number."))
        }
    }
}

/// A decimal number, with a point or a decimal comma (`12,5`, `1.234,5`, `1,234.5`).
pub fn decimal(cell: &CellValue) -> Result<String, String> {
    let raw = match cell {
        CellValue::Number(n) => return Ok(n.to_string()),
        other => text(other)?,
    };
    let mut digits: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    match (digits.rfind(','), digits.rfind('.')) {
        (Some(comma), Some(point)) if comma > point => {
            digits = digits.replace('.', "").replace(',', ".");
        }
        (Some(_), Some(_)) => digits = digits.replace(',', ""),
        (Some(_), None) => digits = digits.replace(',', "."),
        _ => {}
    }
    digits
        .parse::<rust_decimal::Decimal>()
        .map(|d| d.normalize().to_string())
        .map_err(|_| format!("`{raw}` is not a number."))
}

pub fn boolean(cell: &CellValue) -> Result<bool, String> {
    if let CellValue::Bool(b) = cell {
        return Ok(*b);
    }
    if let CellValue::Number(n) = cell
        && (*n == 1.0 || *n == 0.0)
    {
        return Ok(*n == 1.0);
    }
    let raw = text(cell)?;
    match raw.to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "x" | "ja" | "j" | "waar" | "oui" | "vrai" => Ok(true),
        "no" | "n" | "false" | "0" | "nee" | "onwaar" | "non" | "faux" => Ok(false),
        _ => Err(format!(
            "`{raw}` is not yes or no (yes/no, ja/nee, oui/non, true/false)."
        )),
    }
}

/// An enumeration value, however it is spelled (`in use`, `In-Use`, `IN_USE`).
pub fn enumeration(raw: &str, names: &[&'static str]) -> Result<&'static str, String> {
    let wanted: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c == ' ' || c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    names.iter().copied().find(|n| *n == wanted).ok_or_else(|| {
        let close = closest(&wanted, names.iter().copied());
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!(" Did you mean {}?", close.join(" or "))
        };
        format!("`{raw}` is not one of {}.{hint}", names.join(", "))
    })
}

/// The values of a GraphQL enumeration, as they are written.
pub fn enum_names<T: async_graphql::resolver_utils::EnumType>() -> Vec<&'static str> {
    T::items().iter().map(|item| item.name).collect()
}

pub fn enum_value(name: &str) -> Value {
    Value::Enum(Name::new(name))
}

/// The items of a list cell: separated by `;`, `|` or line breaks.
pub fn items(raw: &str) -> Vec<String> {
    raw.split([';', '|', '\n'])
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Text as a key for looking records up: case and spacing do not matter.
pub fn key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Up to three of `known` closest to `wanted` (by edit distance, at most a third of its length
/// or 2 edits, whichever is larger).
pub fn closest<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = key(wanted);
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = known
        .filter_map(|k| {
            let d = distance(&wanted, &key(k));
            (d <= limit).then_some((d, k))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| format!("`{k}`"))
        .collect()
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current[j + 1] = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_as_offices_write_them() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 31).unwrap();
        for raw in [
            "2024-03-31",
            "31/03/2024",
            "31-03-2024",
            "31.03.2024",
            "2024-03-31T00:00:00",
        ] {
            assert_eq!(date(&CellValue::Text(raw.into())).unwrap(), day, "{raw}");
        }
        assert!(date(&CellValue::Text("31/02/2024".into())).is_err());
        assert!(date(&CellValue::Text("next week".into())).is_err());
    }

    #[test]
    fn decimals_take_a_point_or_a_comma() {
        for (raw, want) in [
            ("12,5", "12.5"),
            ("1.234,5", "1234.5"),
            ("1,234.5", "1234.5"),
            ("7", "7"),
        ] {
            assert_eq!(
                decimal(&CellValue::Text(raw.into())).unwrap(),
                want,
                "{raw}"
            );
        }
        assert!(decimal(&CellValue::Text("twelve".into())).is_err());
    }

    #[test]
    fn enumerations_match_however_spelled_and_suggest_the_closest() {
        let names = ["IDEA", "PILOT", "IN_USE"];
        assert_eq!(enumeration("in use", &names).unwrap(), "IN_USE");
        assert_eq!(enumeration("In-Use", &names).unwrap(), "IN_USE");
        let refused = enumeration("PILOOT", &names).unwrap_err();
        assert!(refused.contains("Did you mean `PILOT`"), "{refused}");
    }

    #[test]
    fn formulas_and_errors_are_refused() {
        assert!(text(&CellValue::Formula("SUM(A1:A3)".into())).is_err());
        assert!(text(&CellValue::Error("#REF!".into())).is_err());
    }
}
