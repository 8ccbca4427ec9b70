//! Puts a response's `data` in the shape the GraphQL specification describes: fields in the
//! order the query asked for them, and `null` where a field failed.
//!
//! The executor resolves sibling fields concurrently and returns them in completion order, and
//! leaves a failed field out of its parent instead of setting it to null.
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use serde_json::{Map, Value};

/// Fixes `data` in place. `errors` are the response's errors (their `path` arrays).
pub fn normalize(
    data: &mut Value,
    errors: &[Value],
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) {
    for error in errors {
        if let Some(path) = error.get("path").and_then(Value::as_array) {
            null_at(data, path);
        }
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
fn null_at(data: &mut Value, path: &[Value]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = data;
    for segment in parents {
        let next = match (segment, current) {
            (Value::String(key), Value::Object(map)) => map.get_mut(key),
            (Value::Number(index), Value::Array(items)) => index
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| items.get_mut(i)),
            _ => None,
        };
        match next {
            Some(value) => current = value,
            None => return,
        }
    }
    if let (Value::String(key), Value::Object(map)) = (last, current) {
        map.entry(key.clone()).or_insert(Value::Null);
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
    match value {
        Value::Array(items) => {
            for item in items {
                reorder(item, sets, doc, depth);
            }
        }
        Value::Object(map) => {
            let mut fields = Vec::new();
            for set in sets {
                collect(set, doc, &mut fields, 0);
            }
            let mut old = std::mem::take(map);
            let mut ordered = Map::with_capacity(old.len());
            for (key, subs) in fields {
                if let Some(mut child) = old.remove(key) {
                    if depth < 256 {
                        reorder(&mut child, &subs, doc, depth + 1);
                    }
                    ordered.insert(key.to_owned(), child);
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
    use serde_json::json;

    #[test]
    fn orders_fields_as_asked_and_nulls_failed_ones() {
        let doc = async_graphql::parser::parse_query(
            "query { b a { y ...F } c } fragment F on T { x y }",
        )
        .unwrap();
        let mut data = json!({"a": {"x": 1, "y": 2}, "b": 3});
        let errors = vec![json!({"message": "boom", "path": ["c"]})];
        normalize(&mut data, &errors, &doc, None);
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"b":3,"a":{"y":2,"x":1},"c":null}"#
        );
    }
}
