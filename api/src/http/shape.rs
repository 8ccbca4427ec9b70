//! Puts a response's `data` in the shape the GraphQL specification describes: fields in the
//! order the query asked for them, and a failed field's null propagated to its nearest nullable
//! ancestor (a non-null field that fails nulls its parent, and so on up to `data`).
//!
//! The executor resolves sibling fields concurrently and returns them in completion order, and
//! leaves a failed field out of its parent (or null in place) whatever its type. The fix works
//! on the executor's own value, so the response is serialised once, straight from it.
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, PathSegment, ServerError, Value};

use super::introspection::{SchemaShape, TypeRef};

/// Fixes `data` in place. `errors` are the response's errors (their `path`s). Returns, for
/// each error, whether its null reached `data` itself.
pub fn normalize(
    data: &mut Value,
    errors: &[ServerError],
    doc: &ExecutableDocument,
    operation: Option<&OperationDefinition>,
    shape: &SchemaShape,
) -> Vec<bool> {
    let Some(operation) = operation else {
        return vec![false; errors.len()];
    };
    let root = shape.root(operation.ty);
    // The executor makes an object whose every selected field failed `null` (the root too):
    // the failed fields are put back first, so that each null lands where the spec puts it.
    for error in errors {
        restore_objects(data, &error.path);
    }
    let mut beyond = Vec::with_capacity(errors.len());
    for error in errors {
        beyond.push(
            !error.path.is_empty()
                && propagate_null(
                    data,
                    &error.path,
                    &operation.selection_set.node,
                    doc,
                    root,
                    shape,
                ),
        );
    }
    if *data != Value::Null {
        reorder(data, &[&operation.selection_set.node], doc, 0);
    }
    beyond
}

/// Turns each `null` on the way to a failed field into the object it stands for: on a field's
/// path, a `null` that has fields below it is an object all of whose fields failed.
fn restore_objects(data: &mut Value, path: &[PathSegment]) {
    let mut current = data;
    for (at, segment) in path.iter().enumerate() {
        if *current == Value::Null && matches!(segment, PathSegment::Field(_)) {
            *current = Value::Object(IndexMap::new());
        }
        if at + 1 == path.len() {
            return;
        }
        match child(current, segment) {
            Some(value) => current = value,
            None => return,
        }
    }
}

/// The value at one step of a path, if it is there.
fn child<'a>(value: &'a mut Value, segment: &PathSegment) -> Option<&'a mut Value> {
    match (segment, value) {
        (PathSegment::Field(key), Value::Object(map)) => map.get_mut(key.as_str()),
        (PathSegment::Index(index), Value::List(items)) => items.get_mut(*index),
        _ => None,
    }
}

/// Nulls the nearest nullable position at or above a failed field (or `data` itself).
/// Returns whether it was `data`.
fn propagate_null(
    data: &mut Value,
    path: &[PathSegment],
    selection: &SelectionSet,
    doc: &ExecutableDocument,
    root: Option<&str>,
    shape: &SchemaShape,
) -> bool {
    let mut nullable = Vec::with_capacity(path.len());
    let mut sets: Vec<&SelectionSet> = vec![selection];
    let mut owner: Option<&str> = root;
    let mut current: Option<TypeRef> = None;
    for segment in path {
        match segment {
            PathSegment::Field(key) => {
                let found = find_field(&sets, key, doc);
                let typed = found
                    .as_ref()
                    .and_then(|field| shape.field_type(field.condition.or(owner)?, field.name));
                match (found, typed) {
                    (Some(field), Some((ty, named))) => {
                        nullable.push(ty.is_nullable());
                        current = Some(ty);
                        owner = Some(named);
                        sets = field.selections;
                    }
                    // Unknown (`__typename`, a field the executor refused): nullable.
                    _ => {
                        nullable.push(true);
                        current = None;
                        owner = None;
                        sets = Vec::new();
                    }
                }
            }
            PathSegment::Index(_) => {
                let item = current.and_then(|t| t.item());
                nullable.push(item.is_none_or(|t| t.is_nullable()));
                current = item;
            }
        }
    }
    match (0..path.len()).rev().find(|&k| nullable[k]) {
        Some(k) => {
            set_null(data, &path[..=k]);
            false
        }
        None => {
            *data = Value::Null;
            true
        }
    }
}

/// Sets the value at `path` to null, if its parent is there.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = data;
    for segment in parents {
        match child(current, segment) {
            Some(value) => current = value,
            None => return,
        }
    }
    match (last, current) {
        (PathSegment::Field(key), Value::Object(map)) => {
            map.insert(Name::new(key), Value::Null);
        }
        (PathSegment::Index(index), Value::List(items)) => {
            if let Some(item) = items.get_mut(*index) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}

/// A field of a selection, found by its response key.
struct FoundField<'a> {
    name: &'a str,
    /// The type condition of the fragment it stands in, if any.
    condition: Option<&'a str>,
    /// Its sub-selections, from every place the key is selected.
    selections: Vec<&'a SelectionSet>,
}

fn find_field<'a>(
    sets: &[&'a SelectionSet],
    key: &str,
    doc: &'a ExecutableDocument,
) -> Option<FoundField<'a>> {
    let mut found: Option<FoundField<'a>> = None;
    for set in sets {
        find_in(set, key, doc, None, &mut found, 0);
    }
    found
}

fn find_in<'a>(
    set: &'a SelectionSet,
    key: &str,
    doc: &'a ExecutableDocument,
    condition: Option<&'a str>,
    found: &mut Option<FoundField<'a>>,
    depth: usize,
) {
    if depth > MAX_FRAGMENT_DEPTH {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                if field.node.response_key().node.as_str() != key {
                    continue;
                }
                let sub = &field.node.selection_set.node;
                match found {
                    Some(found) => found.selections.push(sub),
                    None => {
                        *found = Some(FoundField {
                            name: field.node.name.node.as_str(),
                            condition,
                            selections: vec![sub],
                        })
                    }
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    find_in(
                        &fragment.node.selection_set.node,
                        key,
                        doc,
                        Some(on),
                        found,
                        depth + 1,
                    );
                }
            }
            Selection::InlineFragment(inline) => {
                let on = inline
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| c.node.on.node.as_str())
                    .or(condition);
                find_in(
                    &inline.node.selection_set.node,
                    key,
                    doc,
                    on,
                    found,
                    depth + 1,
                );
            }
        }
    }
}

/// Deepest fragment nesting followed (validation already refused cycles).
const MAX_FRAGMENT_DEPTH: usize = 32;

/// The response keys of selection sets in first-appearance order, each with the sub-selections
/// asked for under it (a key may be selected several times, through fragments).
fn collect<'a>(
    set: &'a SelectionSet,
    doc: &'a ExecutableDocument,
    out: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
    depth: usize,
) {
    if depth > MAX_FRAGMENT_DEPTH {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.as_str();
                let sub = &field.node.selection_set.node;
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, subs)) => subs.push(sub),
                    None => out.push((key, vec![sub])),
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    collect(&fragment.node.selection_set.node, doc, out, depth + 1);
                }
            }
            Selection::InlineFragment(inline) => {
                collect(&inline.node.selection_set.node, doc, out, depth + 1);
            }
        }
    }
}

fn reorder(value: &mut Value, sets: &[&SelectionSet], doc: &ExecutableDocument, depth: usize) {
    // The keys of a selection are collected once for a whole list, not once per item.
    let mut fields = None;
    reorder_with(value, sets, &mut fields, doc, depth);
}

type Fields<'a> = Vec<(&'a str, Vec<&'a SelectionSet>)>;

fn reorder_with<'a>(
    value: &mut Value,
    sets: &[&'a SelectionSet],
    fields: &mut Option<Fields<'a>>,
    doc: &'a ExecutableDocument,
    depth: usize,
) {
    match value {
        Value::List(items) => {
            for item in items {
                reorder_with(item, sets, fields, doc, depth);
            }
        }
        Value::Object(map) => {
            let fields = fields.get_or_insert_with(|| {
                let mut fields = Vec::new();
                for set in sets {
                    collect(set, doc, &mut fields, 0);
                }
                fields
            });
            // Most objects come out in order (fields that resolve at once finish in the order
            // they started): those are only walked, not rebuilt.
            let mut asked = fields.iter().map(|(key, _)| *key);
            let in_order = map.keys().all(|name| asked.any(|key| key == name.as_str()));
            if in_order {
                if depth < 256 {
                    for (name, child) in map.iter_mut() {
                        if let Some((_, subs)) =
                            fields.iter().find(|(key, _)| *key == name.as_str())
                        {
                            reorder(child, subs, doc, depth + 1);
                        }
                    }
                }
                return;
            }
            let mut old = std::mem::take(map);
            let mut ordered = IndexMap::with_capacity(old.len());
            for (key, subs) in fields.iter() {
                if let Some((name, mut child)) = old.swap_remove_entry(*key) {
                    if depth < 256 {
                        reorder(&mut child, subs, doc, depth + 1);
                    }
                    ordered.insert(name, child);
                }
            }
            ordered.extend(old);
            *map = ordered;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_fields_as_asked_and_nulls_failed_ones() {
        let doc = async_graphql::parser::parse_query(
            "query { b a { y ...F } c } fragment F on T { x y }",
        )
        .unwrap();
        let mut data =
            Value::from_json(serde_json::json!({"a": {"x": 1, "y": 2}, "b": 3})).unwrap();
        let mut error = ServerError::new("boom", None);
        error.path = vec![PathSegment::Field("c".into())];
        let async_graphql::parser::types::DocumentOperations::Single(operation) = &doc.operations
        else {
            panic!("one operation");
        };
        normalize(
            &mut data,
            &[error],
            &doc,
            Some(&operation.node),
            &SchemaShape::default(),
        );
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"b":3,"a":{"y":2,"x":1},"c":null}"#
        );
    }
}
