//! Scalars of the schema beyond GraphQL's own: `Date` and `GeoJSON`. (`DateTime` and `Decimal`
//! come with async-graphql.)
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date in ISO 8601 form, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

/// A calendar date in ISO 8601 form, `YYYY-MM-DD` (for example `2018-01-01`).
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| {
                    InputValueError::custom(format!(
                        "`{text}` is not a date: use the form YYYY-MM-DD, such as 2018-01-01."
                    ))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// A GeoJSON geometry object (RFC 7946), such as `{"type": "Polygon", "coordinates": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoJson(pub serde_json::Value);

const GEOMETRY_TYPES: &[&str] = &[
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
];

/// A GeoJSON geometry object (RFC 7946), with WGS 84 longitude/latitude coordinates.
#[Scalar(name = "GeoJSON")]
impl ScalarType for GeoJson {
    fn parse(value: Value) -> InputValueResult<Self> {
        let json = value
            .into_json()
            .map_err(|e| InputValueError::custom(e.to_string()))?;
        let kind = json
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        if !GEOMETRY_TYPES.contains(&kind) {
            return Err(InputValueError::custom(format!(
                "A GeoJSON geometry needs a `type` among {}.",
                GEOMETRY_TYPES.join(", ")
            )));
        }
        Ok(GeoJson(json))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// An instant in UTC, RFC 3339 (for example `2026-11-28T09:30:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

/// An instant, written in RFC 3339 form; the API answers in UTC (`2026-11-28T09:30:00Z`) and
/// accepts any offset.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| DateTime(t.with_timezone(&chrono::Utc)))
                .map_err(|_| {
                    InputValueError::custom(format!(
                        "`{text}` is not an RFC 3339 date-time, such as 2026-11-28T09:30:00Z."
                    ))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

/// An exact decimal number, as a string (`"1250"`, `"12.5"`); no binary floating point, so
/// sums do not drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(pub rust_decimal::Decimal);

/// An exact decimal number. Output is a string such as `"12.5"`; input may be a string or a
/// JSON number.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(text) => text.trim().to_owned(),
            // serde_json prints the shortest form that round-trips, so `0.1` stays exactly 0.1.
            Value::Number(number) => number.to_string(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        text.parse::<rust_decimal::Decimal>()
            .or_else(|_| rust_decimal::Decimal::from_scientific(&text))
            .map(|d| Decimal(d.normalize()))
            .map_err(|_| InputValueError::custom(format!("`{text}` is not a decimal number.")))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.normalize().to_string())
    }
}

/// Any JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub serde_json::Value);

/// Any JSON value (an object, array, string, number, boolean or null).
#[Scalar(name = "JSON")]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Json)
            .map_err(|e| InputValueError::custom(e.to_string()))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}
