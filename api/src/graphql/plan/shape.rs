//! The response from the statement's JSON: each slot turned into its field's value as the
//! resolver would give it (global IDs, enumerations and scalars through the same
//! conversions, texts through the same fallback, pages and cursors as `Page` makes them).
//! Anything unexpected hands the query back to the executor.
use async_graphql::indexmap::IndexMap;
use async_graphql::{Name, Value};
use entity::LocalizedText;
use serde_json::Value as Json;

use super::compile::{EdgeField, Item, List, Object, PageField, Part, Root, TranslationField};
use crate::graphql::context::RequestContext;
use crate::kernel::i18n::pick;
use crate::kernel::sort::{Cursor, CursorKey, SortKind, SortValue};

pub fn response(
    roots: &[(Name, Root)],
    columns: &[Json],
    request: &RequestContext,
) -> Option<Value> {
    let mut shaper = Shaper::default();
    let mut data = IndexMap::with_capacity(roots.len());
    for ((key, root), json) in roots.iter().zip(columns) {
        let value = match root {
            Root::Typename => Value::String("Query".to_owned()),
            Root::Node { object, .. } => match json {
                Json::Null => Value::Null,
                json => shaper.object(object, json)?,
            },
            Root::Nodes(records) => {
                let found = json.as_array()?;
                let mut nodes = Vec::with_capacity(records.len());
                for ((_, object), json) in records.iter().zip(found) {
                    nodes.push(match json {
                        Json::Null => Value::Null,
                        json => shaper.object(object, json)?,
                    });
                }
                Value::List(nodes)
            }
            Root::List(list) => shaper.list(list, json)?,
        };
        data.insert(key.clone(), value);
    }
    // Only now, as the answer stands: a query handed back leaves no trace.
    for locale in &shaper.served {
        request.served_locales.note(locale);
    }
    Some(Value::Object(data))
}

#[derive(Default)]
struct Shaper {
    served: Vec<String>,
}

impl Shaper {
    fn object(&mut self, object: &Object, json: &Json) -> Option<Value> {
        let slots = json.as_array()?;
        let mut slot = slots.iter();
        let mut fields = IndexMap::with_capacity(object.items.len());
        for (key, item) in &object.items {
            let value = match item {
                Item::Typename(name) => Value::String(name.clone()),
                Item::Id => Value::String(object.ty.kind.id(slot.next()?.as_i64()?).0),
                Item::Pure { convert, .. } => convert(slot.next()?)?,
                Item::Text {
                    required, chain, ..
                } => {
                    let text = text(slot.next()?)?;
                    match pick(&text, chain) {
                        Some((served, value)) => {
                            if !self.served.iter().any(|s| s == served) {
                                self.served.push(served.to_owned());
                            }
                            Value::String(value.to_owned())
                        }
                        None if *required => Value::String(String::new()),
                        None => Value::Null,
                    }
                }
                Item::TextLocale { chain, .. } => {
                    let text = text(slot.next()?)?;
                    pick(&text, chain)
                        .map_or(Value::Null, |(served, _)| Value::String(served.to_owned()))
                }
                Item::Translations { fields: chosen, .. } => {
                    let text = text(slot.next()?)?;
                    let mut translations = Vec::new();
                    for (locale, value) in text.iter() {
                        let mut translation = IndexMap::with_capacity(chosen.len());
                        for (key, field) in chosen {
                            let value = match field {
                                TranslationField::Typename => "Translation",
                                TranslationField::Locale => locale,
                                TranslationField::Text => value,
                            };
                            translation.insert(key.clone(), Value::String(value.to_owned()));
                        }
                        translations.push(Value::Object(translation));
                    }
                    Value::List(translations)
                }
                Item::Reference {
                    required, object, ..
                } => match slot.next()? {
                    // A record the schema promises but the viewer may not see: the executor
                    // reports that as it does.
                    Json::Null if *required => return None,
                    Json::Null => Value::Null,
                    json => self.object(object, json)?,
                },
                Item::List(list) => self.list(list, slot.next()?)?,
            };
            fields.insert(key.clone(), value);
        }
        Some(Value::Object(fields))
    }

    /// A connection from `[rows, count]`, paged as `Page::from_fetched` pages.
    fn list(&mut self, list: &List, json: &Json) -> Option<Value> {
        let parts = json.as_array()?;
        let mut rows: Vec<&Vec<Json>> = match parts.first()? {
            Json::Array(rows) => rows.iter().map(Json::as_array).collect::<Option<_>>()?,
            _ => return None,
        };
        let page = &list.page;
        let (has_next, has_previous) = if page.limit == 0 {
            rows.clear();
            (page.before.is_some(), page.after.is_some())
        } else {
            let more = rows.len() as u64 > page.limit;
            rows.truncate(page.limit as usize);
            if page.backward {
                rows.reverse();
                (page.before.is_some(), more)
            } else {
                (more, page.after.is_some())
            }
        };
        let width = list.objects.len();
        let cursor = |row: &Vec<Json>| -> Option<Value> {
            let value = sort_value(list.key.kind, row.get(width)?)?;
            let id = row.get(width + 1)?.as_i64()?;
            let cursor = Cursor::Row {
                ordering: list.key.name,
                key: CursorKey { value, id },
            };
            Some(Value::String(cursor.encode()))
        };
        let mut fields = IndexMap::with_capacity(list.parts.len());
        for (key, part) in &list.parts {
            let value = match part {
                Part::Typename(name) => Value::String(name.clone()),
                Part::TotalCount => Value::Number(parts.get(1)?.as_i64()?.into()),
                Part::Nodes(at) => {
                    let mut nodes = Vec::with_capacity(rows.len());
                    for row in &rows {
                        nodes.push(self.object(&list.objects[*at], row.get(*at)?)?);
                    }
                    Value::List(nodes)
                }
                Part::Edges(edge_fields) => {
                    let mut edges = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let mut edge = IndexMap::with_capacity(edge_fields.len());
                        for (key, field) in edge_fields {
                            let value = match field {
                                EdgeField::Typename(name) => Value::String(name.clone()),
                                EdgeField::Cursor => cursor(row)?,
                                EdgeField::Node(at) => {
                                    self.object(&list.objects[*at], row.get(*at)?)?
                                }
                            };
                            edge.insert(key.clone(), value);
                        }
                        edges.push(Value::Object(edge));
                    }
                    Value::List(edges)
                }
                Part::PageInfo(info) => {
                    let mut fields = IndexMap::with_capacity(info.len());
                    for (key, field) in info {
                        let value = match field {
                            PageField::Typename => Value::String("PageInfo".to_owned()),
                            PageField::HasNext => Value::Boolean(has_next),
                            PageField::HasPrevious => Value::Boolean(has_previous),
                            PageField::StartCursor => match rows.first() {
                                Some(row) => cursor(row)?,
                                None => Value::Null,
                            },
                            PageField::EndCursor => match rows.last() {
                                Some(row) => cursor(row)?,
                                None => Value::Null,
                            },
                        };
                        fields.insert(key.clone(), value);
                    }
                    Value::Object(fields)
                }
            };
            fields.insert(key.clone(), value);
        }
        Some(Value::Object(fields))
    }
}

/// A stored text (`LocalizedText`): PostgreSQL embeds it as JSON; NULL is no text at all.
fn text(json: &Json) -> Option<LocalizedText> {
    match json {
        Json::Null => Some(LocalizedText::default()),
        Json::String(stored) => serde_json::from_str(stored).ok(),
        json => serde_json::from_value(json.clone()).ok(),
    }
}

/// A row's sort value as the executor reads it; timestamps come as each database writes
/// them in JSON (`2026-12-05T10:00:00+00:00`, or with a space on SQLite).
fn sort_value(kind: SortKind, json: &Json) -> Option<SortValue> {
    if let (SortKind::DateTime, Json::String(text)) = (kind, json)
        && text.as_bytes().get(10) == Some(&b' ')
    {
        let mut text = text.clone();
        text.replace_range(10..11, "T");
        return SortValue::from_json(kind, &Json::String(text));
    }
    SortValue::from_json(kind, json)
}
