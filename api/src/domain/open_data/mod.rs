//! Open data: every public data set as CSV and as NDJSON, in a chosen locale, streamed page by
//! page (constant memory whatever the size), with a Frictionless Data Package descriptor, and
//! the areas as GeoJSON (`http::open_data` serves them). Only public data: no contact people, no partner-only learnings, no
//! archived records unless asked for (`?archived=include`).
mod datasets;

use chrono::{DateTime, NaiveDate, Utc};
use entity::LocalizedText;
use futures_util::{Stream, StreamExt, stream};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement, Value as SqlValue};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};
use serde_json::{Map, Value, json};

pub use datasets::{DATASETS, Dataset, Field, Key, Kind, META_FIELDS, Scope, find};

use crate::kernel::i18n::{Locale, pick};
use crate::kernel::ids::NodeKind;
use crate::kernel::record::{col, column_of};

/// Rows read per statement while streaming.
const PAGE: u64 = 1_000;
/// Locales the index offers (any valid locale works).
pub const OFFERED_LOCALES: &[&str] = &["nl", "en", "fr", "de"];

/// What `GET /open-data/` lists: every data set and the files of each.
pub fn index_document() -> Value {
    let datasets: Vec<Value> = DATASETS
        .iter()
        .map(|d| {
            json!({
                "name": d.name,
                "title": d.title,
                "description": d.description,
                "csv": format!("/open-data/{{locale}}/{}.csv", d.name),
                "ndjson": format!("/open-data/{{locale}}/{}.ndjson", d.name),
            })
        })
        .collect();
    let body = json!({
        "title": "Stroom API open data",
        "description": "Every public data set of the API as CSV and NDJSON, in the locale of the path (texts fall back to other languages where a translation is missing). Add ?archived=include for archived records too.",
        "license": LICENSE,
        "locales": OFFERED_LOCALES,
        "datapackage": "/open-data/{locale}/datapackage.json",
        "defaultDatapackage": "/open-data/datapackage.json",
        "geojson": "/open-data/{locale}/areas.geojson",
        "examples": OFFERED_LOCALES.iter().map(|l| format!("/open-data/{l}/datapackage.json")).collect::<Vec<_>>(),
        "datasets": datasets,
    });
    body
}

pub const LICENSE: &str = "CC-BY-4.0";

/// The locale of the descriptor at `/open-data/datapackage.json` (the first of the API's
/// fallback chain).
pub const DEFAULT_LOCALE: &str = "en";

/// The formats of a data set's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

/// Where streaming a table has got to: the key of the last row sent.
#[derive(Clone)]
enum Position {
    Start,
    After(Vec<SqlValue>),
    Done,
}

/// The public rows of a data set after `position`, one page.
fn page_query(dataset: &Dataset, position: &Position, include_archived: bool) -> SelectStatement {
    let table = dataset.table;
    let mut select = Query::select();
    select.from(table);
    for field in dataset.fields {
        select.expr_as(column_of(table, field.kind.column()), field.kind.column());
    }
    let mut aliases = 0;
    select.and_where(Expr::cust(published(
        dataset,
        table,
        include_archived,
        true,
        &mut aliases,
    )));
    let keys: Vec<&'static str> = match dataset.key {
        Key::Id => vec!["id"],
        Key::Pair(a, b) => vec![a, b],
    };
    if let Position::After(last) = position {
        let columns = Expr::tuple(keys.iter().map(|k| column_of(table, k)));
        let values = Expr::tuple(last.iter().cloned().map(Expr::val));
        select.and_where(columns.gt(values));
    }
    for key in &keys {
        select.order_by_expr(column_of(table, key), Order::Asc);
    }
    select.limit(PAGE);
    select
}

/// SQL: whether the row of `dataset` at `alias` is published. Beyond its own scope (not
/// archived unless asked for, learnings public), every record it refers to must be published
/// too, so that every file agrees with the others whatever the state of the data: an outcome
/// of an archived initiative, a partnership of an archived organisation, a link to a
/// partners-only learning is left out with what it refers to. In a nested table (areas,
/// themes, organisations) a row is published when it and every row above it are (through the
/// table's lineage view). Only static names go into the text.
fn published(
    dataset: &Dataset,
    alias: &str,
    include_archived: bool,
    with_parents: bool,
    aliases: &mut usize,
) -> String {
    let mut conditions = Vec::new();
    let archived_hidden =
        !include_archived && matches!(dataset.scope, Scope::Records | Scope::PublicLearnings);
    if archived_hidden {
        conditions.push(format!("\"{alias}\".\"archived_at\" IS NULL"));
    }
    if matches!(dataset.scope, Scope::PublicLearnings) {
        conditions.push(format!("\"{alias}\".\"audience\" = 'public'"));
    }
    if matches!(dataset.scope, Scope::Records | Scope::PublicLearnings) {
        // Copies of the records of instances this one follows are theirs to publish.
        *aliases += 1;
        let copy = format!("c{aliases}");
        let table = dataset.table;
        conditions.push(format!(
            "NOT EXISTS (SELECT 1 FROM \"remote_copy\" AS \"{copy}\" WHERE \"{copy}\".\"subject_type\" = '{table}' \
             AND \"{copy}\".\"subject_id\" = \"{alias}\".\"id\")"
        ));
    }
    for field in dataset.fields {
        let Kind::Ref(column, kind) = field.kind else {
            continue;
        };
        let Some(target) = resource_of(kind).and_then(find) else {
            continue;
        };
        *aliases += 1;
        let inner = format!("p{aliases}");
        if target.name == dataset.name {
            if !with_parents {
                continue;
            }
            // Left out: the rows with a row above them (or themselves) that is not published.
            let table = dataset.table;
            *aliases += 1;
            let lineage = format!("l{aliases}");
            let own = published(dataset, &inner, include_archived, false, aliases);
            conditions.push(format!(
                "\"{alias}\".\"id\" NOT IN (SELECT \"{lineage}\".\"{table}_id\" FROM \"{table}_lineage\" AS \"{lineage}\" \
                 WHERE \"{lineage}\".\"ancestor_id\" NOT IN (SELECT \"{inner}\".\"id\" FROM \"{table}\" AS \"{inner}\" WHERE {own}))"
            ));
        } else {
            let condition = published(target, &inner, include_archived, true, aliases);
            conditions.push(format!(
                "(\"{alias}\".\"{column}\" IS NULL OR \"{alias}\".\"{column}\" IN (SELECT \"{inner}\".\"id\" FROM \"{}\" AS \"{inner}\" WHERE {condition}))",
                target.table
            ));
        }
    }
    if conditions.is_empty() {
        "1 = 1".to_owned()
    } else {
        conditions.join(" AND ")
    }
}

fn key_of(dataset: &Dataset, row: &QueryResult) -> Vec<SqlValue> {
    let keys: Vec<&'static str> = match dataset.key {
        Key::Id => vec!["id"],
        Key::Pair(a, b) => vec![a, b],
    };
    keys.iter()
        .map(|k| match row.try_get::<i64>("", k) {
            Ok(v) => SqlValue::from(v),
            Err(_) => SqlValue::from(row.try_get::<String>("", k).unwrap_or_default()),
        })
        .collect()
}

/// A decimal as a JSON number when it survives the trip exactly, else as a string.
fn decimal_json(text: &str) -> Value {
    match text.parse::<f64>() {
        Ok(number) if number.is_finite() && format!("{number}") == text => json!(number),
        _ => json!(text),
    }
}

/// One field of a row as JSON.
fn value(row: &QueryResult, field: &Field, chain: &[String]) -> Value {
    let column = field.kind.column();
    match field.kind {
        Kind::Id(kind) => row
            .try_get::<i64>("", column)
            .map(|id| json!(kind.id(id).0))
            .unwrap_or(Value::Null),
        Kind::Ref(_, kind) => row
            .try_get::<Option<i64>>("", column)
            .ok()
            .flatten()
            .map(|id| json!(kind.id(id).0))
            .unwrap_or(Value::Null),
        Kind::Text(_) => row
            .try_get::<Option<String>>("", column)
            .ok()
            .flatten()
            .map(Value::String)
            .unwrap_or(Value::Null),
        Kind::Enum(_) => row
            .try_get::<Option<String>>("", column)
            .ok()
            .flatten()
            .map(|v| json!(v.to_ascii_uppercase()))
            .unwrap_or(Value::Null),
        Kind::Localized(_) => {
            let text: LocalizedText = row
                .try_get::<Option<Value>>("", column)
                .ok()
                .flatten()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            pick(&text, chain)
                .map(|(_, t)| json!(t))
                .unwrap_or(Value::Null)
        }
        Kind::Integer(_) => row
            .try_get::<Option<i64>>("", column)
            .ok()
            .flatten()
            .map(|v| json!(v))
            .unwrap_or(Value::Null),
        Kind::Boolean(_) => row
            .try_get::<Option<bool>>("", column)
            .ok()
            .flatten()
            .map(|v| json!(v))
            .unwrap_or(Value::Null),
        Kind::Date(_) => row
            .try_get::<Option<NaiveDate>>("", column)
            .ok()
            .flatten()
            .map(|d| json!(d.to_string()))
            .unwrap_or(Value::Null),
        Kind::DateTime(_) => row
            .try_get::<Option<DateTime<Utc>>>("", column)
            .ok()
            .flatten()
            .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
            .unwrap_or(Value::Null),
        Kind::Micro(_) => row
            .try_get::<Option<i64>>("", column)
            .ok()
            .flatten()
            .map(|v| {
                decimal_json(
                    &rust_decimal::Decimal::new(v, crate::domain::outcome::VALUE_SCALE)
                        .normalize()
                        .to_string(),
                )
            })
            .unwrap_or(Value::Null),
    }
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, quote or line break.
fn csv_cell(value: &Value, out: &mut String) {
    let text = match value {
        Value::Null => return,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

fn encode(dataset: &Dataset, rows: &[QueryResult], chain: &[String], format: Format) -> String {
    let mut out = String::with_capacity(rows.len() * 200);
    for row in rows {
        match format {
            Format::Csv => {
                for (i, field) in dataset.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_cell(&value(row, field, chain), &mut out);
                }
                out.push_str("\r\n");
            }
            Format::Ndjson => {
                let object: Map<String, Value> = dataset
                    .fields
                    .iter()
                    .map(|f| (f.name.to_owned(), value(row, f, chain)))
                    .collect();
                out.push_str(&Value::Object(object).to_string());
                out.push('\n');
            }
        }
    }
    out
}

/// The rows of a data set as a body that reads the database one page at a time.
/// The rows of a data set as chunks of text, read from the database one page at a time.
pub fn rows(
    db: DatabaseConnection,
    dataset: &'static Dataset,
    chain: Vec<String>,
    include_archived: bool,
    format: Format,
) -> impl Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    let header = match format {
        Format::Csv => Some(format!(
            "{}\r\n",
            dataset
                .fields
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(",")
        )),
        Format::Ndjson => None,
    };
    let pages = stream::unfold((Position::Start, header), move |(position, header)| {
        let db = db.clone();
        let chain = chain.clone();
        async move {
            if let Some(header) = header {
                return Some((Ok::<String, std::io::Error>(header), (position, None)));
            }
            if matches!(position, Position::Done) {
                return None;
            }
            let select = page_query(dataset, &position, include_archived);
            match db.query_all(&select).await {
                Ok(rows) => {
                    let next = match rows.last() {
                        Some(last) if rows.len() as u64 == PAGE => {
                            Position::After(key_of(dataset, last))
                        }
                        _ => Position::Done,
                    };
                    Some((Ok(encode(dataset, &rows, &chain, format)), (next, None)))
                }
                Err(error) => {
                    // The status is sent already: cut the stream, so the client sees it is incomplete.
                    tracing::error!(%error, dataset = dataset.name, "open data stream failed");
                    Some((
                        Err(std::io::Error::other("database error")),
                        (Position::Done, None),
                    ))
                }
            }
        }
    });
    // Fused: a compressing body polls once more after the end, which `unfold` must not see.
    pages.fuse()
}

/// The areas as a GeoJSON FeatureCollection, streamed.
/// The areas as a GeoJSON FeatureCollection, in chunks of text, streamed.
pub fn geojson(
    db: DatabaseConnection,
    chain: Vec<String>,
    include_archived: bool,
) -> impl Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    // The areas dataset's own fields, in the order features have always listed them.
    let areas = find("areas").map(|areas| Dataset {
        name: "areas.geojson",
        fields: areas.fields.split_at(areas.fields.len() - META_FIELDS).0,
        ..*areas
    });
    let properties_order = [
        "id",
        "name",
        "kind",
        "municipality_id",
        "parent_id",
        "households",
        "residents",
    ];
    let state = (Position::Start, true, false);
    let pages = stream::unfold(state, move |(position, first, closed)| {
        let db = db.clone();
        let chain = chain.clone();
        async move {
            if closed {
                return None;
            }
            let Some(areas) = areas else {
                return Some((
                    Err(std::io::Error::other("the areas dataset is not declared")),
                    (Position::Done, first, true),
                ));
            };
            if matches!(position, Position::Done) {
                return Some((
                    Ok::<String, std::io::Error>("]}\n".to_owned()),
                    (position, first, true),
                ));
            }
            let mut select = page_query(&areas, &position, include_archived);
            select.expr_as(col(entity::area::Column::Geometry), "geometry");
            match db.query_all(&select).await {
                Ok(rows) => {
                    let mut out = String::new();
                    if matches!(position, Position::Start) {
                        out.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
                    }
                    let mut first = first;
                    for row in &rows {
                        let properties: Map<String, Value> = properties_order
                            .iter()
                            .filter_map(|name| areas.fields.iter().find(|f| f.name == *name))
                            .map(|f| (f.name.to_owned(), value(row, f, &chain)))
                            .collect();
                        // A geometry stored before writes were checked, and not valid
                        // GeoJSON, is left out rather than published.
                        let geometry = row
                            .try_get::<Option<Value>>("", "geometry")
                            .ok()
                            .flatten()
                            .filter(|g| {
                                crate::graphql::scalars::check_geometry(g, "geometry", 0)
                                    .inspect_err(|error| tracing::warn!(%error, "open data: an area's geometry is not valid GeoJSON; left out"))
                                    .is_ok()
                            })
                            .unwrap_or(Value::Null);
                        let id = properties.get("id").cloned().unwrap_or(Value::Null);
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        out.push_str(&json!({"type": "Feature", "id": id, "geometry": geometry, "properties": properties}).to_string());
                    }
                    let next = match rows.last() {
                        Some(last) if rows.len() as u64 == PAGE => {
                            Position::After(key_of(&areas, last))
                        }
                        _ => Position::Done,
                    };
                    Some((Ok(out), (next, first, false)))
                }
                Err(error) => {
                    tracing::error!(%error, "open data stream failed");
                    Some((
                        Err(std::io::Error::other("database error")),
                        (Position::Done, first, true),
                    ))
                }
            }
        }
    });
    // Fused: a compressing body polls once more after the end, which `unfold` must not see.
    pages.fuse()
}

/// The dataset of a kind's records.
fn resource_of(kind: NodeKind) -> Option<&'static str> {
    DATASETS
        .iter()
        .find(|d| matches!(d.fields.first(), Some(Field { kind: Kind::Id(k), .. }) if *k == kind))
        .map(|d| d.name)
}

/// The Frictionless Data Package descriptor of a locale's CSV files; `prefix` leads from the descriptor's place to the
/// locale's files.
pub fn datapackage(locale: &Locale, prefix: &str) -> Value {
    let resources: Vec<Value> = DATASETS
        .iter()
        .map(|d| {
            let fields: Vec<Value> = d
                .fields
                .iter()
                .map(|f| {
                    let mut field = json!({"name": f.name, "type": f.kind.frictionless(), "description": f.description});
                    if matches!(f.kind, Kind::Id(_)) {
                        field["constraints"] = json!({"required": true, "unique": true});
                    }
                    field
                })
                .collect();
            let primary_key: Vec<&str> = match d.key {
                Key::Id => vec!["id"],
                Key::Pair(a, b) => vec![a, b],
            };
            let foreign_keys: Vec<Value> = d
                .fields
                .iter()
                .filter_map(|f| match f.kind {
                    Kind::Ref(_, kind) => resource_of(kind).map(|resource| {
                        json!({"fields": f.name, "reference": {"resource": if resource == d.name { "" } else { resource }, "fields": "id"}})
                    }),
                    _ => None,
                })
                .collect();
            json!({
                "profile": "tabular-data-resource",
                "name": d.name,
                "path": format!("{prefix}{}.csv", d.name),
                "title": d.title,
                "description": d.description,
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {"fields": fields, "primaryKey": primary_key, "foreignKeys": foreign_keys},
            })
        })
        .collect();
    json!({
        "profile": "tabular-data-package",
        "name": format!("stroom-open-data-{}", locale.as_str().to_ascii_lowercase()),
        "title": format!("Stroom API open data ({locale})"),
        "description": "Circular initiatives, residents' needs, partners, outcomes and learnings of cities' circular-economy citizen programmes. Texts are in the package's locale, falling back to other languages where a translation is missing. Records with provenance ILLUSTRATIVE are made up, not facts.",
        "licenses": [{"name": LICENSE, "path": "https://creativecommons.org/licenses/by/4.0/", "title": "Creative Commons Attribution 4.0"}],
        "resources": resources,
    })
}
