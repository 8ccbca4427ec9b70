//! Scalars of the schema beyond GraphQL's own: `Date` and `GeoJSON`. (`DateTime` and `Decimal`
//! come with async-graphql.)
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date in ISO 8601 form, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl From<Date> for NaiveDate {
    fn from(date: Date) -> Self {
        date.0
    }
}

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

impl From<GeoJson> for serde_json::Value {
    fn from(geometry: GeoJson) -> Self {
        geometry.0
    }
}

const GEOMETRY_TYPES: &[&str] = &[
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
];

/// A GeoJSON geometry object (RFC 7946), with WGS 84 longitude/latitude coordinates:
/// positions of two or three numbers, longitudes within ±180 and latitudes within ±90, lines of
/// two positions or more, polygon rings closed and of four positions or more.
#[Scalar(name = "GeoJSON")]
impl ScalarType for GeoJson {
    fn parse(value: Value) -> InputValueResult<Self> {
        let json = value
            .into_json()
            .map_err(|e| InputValueError::custom(e.to_string()))?;
        check_geometry(&json, "geometry", 0).map_err(InputValueError::custom)?;
        Ok(GeoJson(json))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// Positions a geometry may hold, in all.
const MAX_POSITIONS: usize = 100_000;

/// Checks a GeoJSON geometry object against RFC 7946; the error names the place (`at`).
pub fn check_geometry(json: &serde_json::Value, at: &str, depth: usize) -> Result<(), String> {
    let Some(object) = json.as_object() else {
        return Err(format!("{at}: a GeoJSON geometry is an object."));
    };
    let kind = object
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    if !GEOMETRY_TYPES.contains(&kind) {
        return Err(format!(
            "{at}: a GeoJSON geometry needs a `type` among {}.",
            GEOMETRY_TYPES.join(", ")
        ));
    }
    if let Some(member) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "coordinates" | "geometries" | "bbox"))
    {
        return Err(format!(
            "{at}: `{member}` is not a member of a GeoJSON geometry (type, coordinates, geometries, bbox)."
        ));
    }
    if kind == "GeometryCollection" {
        if depth > 0 {
            return Err(format!("{at}: geometry collections may not be nested."));
        }
        let Some(members) = object.get("geometries").and_then(|g| g.as_array()) else {
            return Err(format!(
                "{at}: a GeometryCollection needs a `geometries` array."
            ));
        };
        for (i, member) in members.iter().enumerate() {
            check_geometry(member, &format!("{at}.geometries[{i}]"), depth + 1)?;
        }
        return Ok(());
    }
    let Some(coordinates) = object.get("coordinates") else {
        return Err(format!("{at}: a {kind} needs `coordinates`."));
    };
    let at = format!("{at}.coordinates");
    let mut positions = 0;
    let mut count = |n: usize| -> Result<(), String> {
        positions += n;
        if positions > MAX_POSITIONS {
            return Err(format!("{at}: more than {MAX_POSITIONS} positions."));
        }
        Ok(())
    };
    match kind {
        "Point" => check_position(coordinates, &at),
        "MultiPoint" => {
            let points = array(coordinates, &at, 0, "positions")?;
            count(points.len())?;
            each(points, &at, check_position)
        }
        "LineString" => check_line(coordinates, &at, &mut count),
        "MultiLineString" => {
            let lines = array(coordinates, &at, 0, "lines")?;
            each(lines, &at, |line, at| check_line(line, at, &mut count))
        }
        "Polygon" => check_polygon(coordinates, &at, &mut count),
        _ => {
            let polygons = array(coordinates, &at, 0, "polygons")?;
            each(polygons, &at, |polygon, at| {
                check_polygon(polygon, at, &mut count)
            })
        }
    }
}

fn array<'a>(
    json: &'a serde_json::Value,
    at: &str,
    least: usize,
    what: &str,
) -> Result<&'a Vec<serde_json::Value>, String> {
    match json.as_array() {
        Some(items) if items.len() >= least => Ok(items),
        Some(_) => Err(format!("{at}: at least {least} {what}.")),
        None => Err(format!("{at}: an array of {what} is expected.")),
    }
}

fn each(
    items: &[serde_json::Value],
    at: &str,
    mut check: impl FnMut(&serde_json::Value, &str) -> Result<(), String>,
) -> Result<(), String> {
    items
        .iter()
        .enumerate()
        .try_for_each(|(i, item)| check(item, &format!("{at}[{i}]")))
}

/// `[longitude, latitude]` or `[longitude, latitude, altitude]`, as finite numbers in range.
fn check_position(json: &serde_json::Value, at: &str) -> Result<(), String> {
    let numbers = json
        .as_array()
        .filter(|n| (2..=3).contains(&n.len()))
        .and_then(|n| {
            n.iter()
                .map(serde_json::Value::as_f64)
                .collect::<Option<Vec<f64>>>()
        })
        .filter(|n| n.iter().all(|x| x.is_finite()))
        .ok_or_else(|| {
            format!("{at}: a position is [longitude, latitude] (and an altitude), as numbers.")
        })?;
    if !(-180.0..=180.0).contains(&numbers[0]) {
        return Err(format!(
            "{at}: longitude {} is outside -180…180.",
            numbers[0]
        ));
    }
    if !(-90.0..=90.0).contains(&numbers[1]) {
        return Err(format!("{at}: latitude {} is outside -90…90.", numbers[1]));
    }
    Ok(())
}

fn check_line(
    json: &serde_json::Value,
    at: &str,
    count: &mut impl FnMut(usize) -> Result<(), String>,
) -> Result<(), String> {
    let positions = array(json, at, 2, "positions")?;
    count(positions.len())?;
    each(positions, at, check_position)
}

fn check_polygon(
    json: &serde_json::Value,
    at: &str,
    count: &mut impl FnMut(usize) -> Result<(), String>,
) -> Result<(), String> {
    let rings = array(json, at, 1, "linear rings")?;
    each(rings, at, |ring, at| {
        let positions = array(ring, at, 4, "positions (a linear ring)")?;
        count(positions.len())?;
        each(positions, at, check_position)?;
        let numbers = |p: Option<&serde_json::Value>| -> Vec<f64> {
            p.and_then(|p| p.as_array())
                .map(|p| p.iter().filter_map(serde_json::Value::as_f64).collect())
                .unwrap_or_default()
        };
        if numbers(positions.first()) != numbers(positions.last()) {
            return Err(format!(
                "{at}: a linear ring ends where it starts (its last position repeats its first)."
            ));
        }
        Ok(())
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    fn ring(closed: bool) -> Json {
        let mut ring = vec![
            json!([4.47, 51.02]),
            json!([4.48, 51.02]),
            json!([4.48, 51.03]),
        ];
        ring.push(if closed {
            json!([4.47, 51.02])
        } else {
            json!([4.47, 51.03])
        });
        Json::Array(ring)
    }

    /// Every kind of geometry, well formed.
    fn good() -> Vec<Json> {
        vec![
            json!({"type": "Point", "coordinates": [4.47, 51.02]}),
            json!({"type": "Point", "coordinates": [-180, -90, 12.5]}),
            json!({"type": "MultiPoint", "coordinates": [[4.47, 51.02], [180, 90]]}),
            json!({"type": "LineString", "coordinates": [[4.47, 51.02], [4.48, 51.03]]}),
            json!({"type": "MultiLineString", "coordinates": [[[4.47, 51.02], [4.48, 51.03]]]}),
            json!({"type": "Polygon", "coordinates": [ring(true)]}),
            json!({"type": "Polygon", "coordinates": [ring(true), ring(true)], "bbox": [4.47, 51.02, 4.48, 51.03]}),
            json!({"type": "Polygon", "coordinates": [[[4, 51], [5, 51], [5, 52], [4.0, 51.0]]]}),
            json!({"type": "MultiPolygon", "coordinates": [[ring(true)], [ring(true)]]}),
            json!({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [4.47, 51.02]}]}),
        ]
    }

    /// Malformed geometries, each with a word its error must carry.
    fn bad() -> Vec<(Json, &'static str)> {
        let mut cases = vec![
            (json!("Point"), "object"),
            (json!({"type": "Circle", "coordinates": [4, 51]}), "type"),
            (json!({"coordinates": [4, 51]}), "type"),
            (json!({"type": "Point"}), "coordinates"),
            (
                json!({"type": "Point", "coordinates": [4, 51], "radius": 3}),
                "radius",
            ),
            (json!({"type": "GeometryCollection"}), "geometries"),
            (
                json!({"type": "GeometryCollection", "geometries": [{"type": "GeometryCollection", "geometries": []}]}),
                "nested",
            ),
            (
                json!({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [4, 91]}]}),
                "latitude",
            ),
            (
                json!({"type": "LineString", "coordinates": [[4, 51]]}),
                "at least 2",
            ),
            (
                json!({"type": "Polygon", "coordinates": [ring(false)]}),
                "ends where it starts",
            ),
            (
                json!({"type": "Polygon", "coordinates": [[[4, 51], [5, 51], [4, 51]]]}),
                "at least 4",
            ),
            (json!({"type": "Polygon", "coordinates": []}), "at least 1"),
            (
                json!({"type": "MultiPolygon", "coordinates": [ring(true)]}),
                "linear ring",
            ),
            (
                json!({"type": "MultiPoint", "coordinates": [4, 51]}),
                "position",
            ),
        ];
        // Every position of every kind, broken in every way a position breaks.
        let broken = [
            (json!(["NaN", 51]), "position"),
            (json!([4, "51"]), "position"),
            (json!([4]), "position"),
            (json!([4, 51, 0, 1]), "position"),
            (json!([null, 51]), "position"),
            (json!([180.0001, 51]), "longitude"),
            (json!([-181, 51]), "longitude"),
            (json!([4, 90.5]), "latitude"),
            (json!([4, -1e9]), "latitude"),
            (json!({"lon": 4, "lat": 51}), "position"),
        ];
        for (position, word) in broken {
            let mut ring = ring(true);
            ring[1] = position.clone();
            cases.extend([
                (json!({"type": "Point", "coordinates": position.clone()}), word),
                (json!({"type": "MultiPoint", "coordinates": [[4, 51], position.clone()]}), word),
                (json!({"type": "LineString", "coordinates": [[4, 51], position.clone()]}), word),
                (json!({"type": "MultiLineString", "coordinates": [[[4, 51], position.clone()]]}), word),
                (json!({"type": "Polygon", "coordinates": [ring.clone()]}), word),
                (json!({"type": "MultiPolygon", "coordinates": [[ring]]}), word),
            ]);
        }
        cases
    }

    #[test]
    fn every_kind_of_geometry_is_accepted_well_formed_and_refused_otherwise() {
        for geometry in good() {
            assert_eq!(
                check_geometry(&geometry, "geometry", 0),
                Ok(()),
                "{geometry}"
            );
        }
        for (geometry, word) in bad() {
            let error = check_geometry(&geometry, "geometry", 0)
                .expect_err(&format!("accepted {geometry}"));
            assert!(error.contains(word), "{geometry}: {error}");
            assert!(error.starts_with("geometry"), "{error}");
        }
    }

    #[test]
    fn a_geometry_holds_a_bounded_number_of_positions() {
        let many: Vec<Json> = (0..MAX_POSITIONS + 1).map(|_| json!([4, 51])).collect();
        let line = json!({"type": "LineString", "coordinates": many});
        let error = check_geometry(&line, "geometry", 0).unwrap_err();
        assert!(error.contains("positions"), "{error}");
    }
}
