//! Puts a response's `data` in the shape the GraphQL specification describes: fields in the
//! order the query asked for them, and `null` where a field failed.
//!
//! The executor resolves sibling fields concurrently and returns them in completion order, and
//! leaves a failed field out of its parent instead of setting it to null. The fix works on the
//! executor's own value, so the response is serialised once, straight from it.
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{Name, PathSegment, ServerError, Value};

/// Fixes `data` in place. `errors` are the response's errors (their `path`s).
pub fn normalize(
    data: &mut Value,
    errors: &[ServerError],
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) {
    for error in errors {
        null_at(data, &error.path);
    }
    let operation = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op),
        (DocumentOperations::Multiple(ops), None) => ops.values().next(),
    };
    if let Some(operation) = operation {
        reorder(data, &[&operation.node.selection_set.node], doc, 0);
    }
}

/// Sets the field a failed path points at to null, if its parent is there and it is not.
fn null_at(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = data;
    for segment in parents {
        let next = match (segment, current) {
            (PathSegment::Field(key), Value::Object(map)) => map.get_mut(key.as_str()),
            (PathSegment::Index(index), Value::List(items)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(value) => current = value,
            None => return,
        }
    }
    if let (PathSegment::Field(key), Value::Object(map)) = (last, current) {
        map.entry(Name::new(key)).or_insert(Value::Null);
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
        normalize(&mut data, &[error], &doc, None);
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"b":3,"a":{"y":2,"x":1},"c":null}"#
        );
    }
}
