//! The committed SDL matches the code, and introspection documents everything.
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = stroom_api::schema::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql` and commit it"
    );
}

#[test]
fn every_record_kind_is_in_the_schema() {
    // A kind declared for IDs but missing from the schema would encode IDs no client can
    // fetch: each is an object type that implements `Node`.
    let sdl = stroom_api::schema::sdl();
    let missing: Vec<&str> = stroom_api::ids::NodeKind::all()
        .iter()
        .map(|kind| kind.type_name())
        .filter(|name| !sdl.contains(&format!("\ntype {name} implements Node {{")))
        .collect();
    assert!(
        missing.is_empty(),
        "kinds missing from the schema: {missing:?}"
    );
}

const INTROSPECTION: &str = r#"{ __schema { types {
    name kind description
    fields(includeDeprecated: true) { name description args { name description } }
    inputFields { name description }
    enumValues(includeDeprecated: true) { name description }
} } }"#;

fn missing(value: &Value) -> bool {
    value.as_str().is_none_or(|d| d.trim().is_empty())
}

#[tokio::test]
async fn every_type_field_argument_and_enum_value_is_described() {
    let app = spawn_app().await;
    let reply = app.graphql(INTROSPECTION, json!({})).await;
    let mut undocumented = Vec::new();
    for ty in reply.ok()["__schema"]["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap();
        // Introspection types and the specification's own scalars are documented by the spec.
        if name.starts_with("__") || ["ID", "String", "Int", "Float", "Boolean"].contains(&name) {
            continue;
        }
        if missing(&ty["description"]) {
            undocumented.push(name.to_owned());
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            let field_name = field["name"].as_str().unwrap();
            if missing(&field["description"]) {
                undocumented.push(format!("{name}.{field_name}"));
            }
            for arg in field["args"].as_array().into_iter().flatten() {
                if missing(&arg["description"]) {
                    undocumented.push(format!("{name}.{field_name}({})", arg["name"]));
                }
            }
        }
        for field in ty["inputFields"].as_array().into_iter().flatten() {
            if missing(&field["description"]) {
                undocumented.push(format!("{name}.{}", field["name"]));
            }
        }
        for value in ty["enumValues"].as_array().into_iter().flatten() {
            if missing(&value["description"]) {
                undocumented.push(format!("{name}.{}", value["name"]));
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:#?}");
}

const FIELDS: &str = r#"{ __schema { queryType { name } types { name kind
    fields { name args { type { kind } defaultValue } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
} } }"#;

/// The named type under any list and non-null wrappers, and whether it has fields.
fn named(ty: &Value) -> (&str, bool) {
    let mut ty = ty;
    while ty["name"].is_null() && !ty["ofType"].is_null() {
        ty = &ty["ofType"];
    }
    let kind = ty["kind"].as_str().unwrap_or_default();
    (
        ty["name"].as_str().unwrap_or_default(),
        matches!(kind, "OBJECT" | "INTERFACE" | "UNION"),
    )
}

/// A selection of `field`: `{ __typename }` below it when it is an object.
fn select(field: &Value) -> String {
    let (_, composite) = named(&field["type"]);
    let name = field["name"].as_str().unwrap_or_default();
    if composite {
        format!("{name} {{ __typename }}")
    } else {
        name.to_owned()
    }
}

fn required_arguments(field: &Value) -> bool {
    field["args"].as_array().is_some_and(|args| {
        args.iter()
            .any(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null())
    })
}

/// Every field a caller may be refused (the class: whatever the access rules gate, now and
/// later) is nullable: selected by a caller without the rights, under a root list and beside
/// another root field, it comes back null with its error, and the rest of the response stays.
/// Generated from the schema: every field without required arguments of every root field and
/// of every record its root connections list, asked by an anonymous and a partner caller.
#[tokio::test]
async fn a_field_refused_to_the_caller_never_wipes_the_response() {
    let app = spawn_app().await;
    let partner = app.partner_key().await;
    let schema = app.graphql(FIELDS, json!({})).await.ok()["__schema"].clone();
    let types: std::collections::HashMap<&str, &Value> = schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap_or_default(), t))
        .collect();
    let fields = |name: &str| -> Vec<Value> {
        types
            .get(name)
            .and_then(|t| t["fields"].as_array())
            .cloned()
            .unwrap_or_default()
    };
    let query_type = schema["queryType"]["name"].as_str().unwrap();
    let mut documents = Vec::new();
    for root in fields(query_type) {
        if required_arguments(&root) {
            continue;
        }
        documents.push(format!("{{ __typename {} }}", select(&root)));
        // The records a root connection lists: each of their fields, under the list.
        let (connection, _) = named(&root["type"]);
        let Some(nodes) = fields(connection)
            .into_iter()
            .find(|f| f["name"] == "nodes")
        else {
            continue;
        };
        let (record, _) = named(&nodes["type"]);
        let root_name = root["name"].as_str().unwrap();
        for field in fields(record) {
            if required_arguments(&field) {
                continue;
            }
            documents.push(format!(
                "{{ __typename list: {root_name}(first: 2) {{ nodes {{ {} }} }} }}",
                select(&field)
            ));
        }
    }
    assert!(documents.len() > 200, "only {} documents", documents.len());
    let mut wiped = Vec::new();
    for (caller, key) in [("anonymous", None), ("partner", Some(&partner))] {
        for document in &documents {
            let reply = match key {
                Some(key) => app.graphql_as(key, document, json!({})).await,
                None => app.graphql(document, json!({})).await,
            };
            if reply.body["data"]["__typename"] != "Query" {
                wiped.push(format!("{caller}: {document} → {}", reply.body));
            }
        }
    }
    assert!(
        wiped.is_empty(),
        "{} responses wiped by a refused field:\n{}",
        wiped.len(),
        wiped.join("\n")
    );
}
