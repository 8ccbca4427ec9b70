//! Bad input gets a clear error with a code, never a 500 nor a leak of internals.
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn bad_global_ids_are_refused() {
    let app = spawn_app().await;
    for bad in ["", "not-an-id", "SW5pdGlhdGl2ZTphYmM", "RmxvcDox"] {
        let reply = app
            .graphql(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({"id": bad}),
            )
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.code(), "BAD_USER_INPUT", "{bad}");
        assert!(reply.message().contains("not a valid ID"));
        assert!(reply.data()["node"].is_null());
    }
    // A well-formed ID that matches nothing is simply null.
    let missing = stroom_api::ids::NodeKind::Initiative.id(999_999).0;
    let reply = app
        .graphql(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({"id": missing}),
        )
        .await;
    assert!(reply.ok()["node"].is_null());
    // An ID of the wrong type in a filter names the field and the types.
    let theme = stroom_api::ids::NodeKind::Theme.id(1).0;
    let reply = app
        .graphql(
            "query($id: ID!) { initiatives(filter: {areas: [$id]}) { totalCount } }",
            json!({"id": theme}),
        )
        .await;
    assert_eq!(reply.code(), "BAD_USER_INPUT");
    assert_eq!(reply.errors()[0]["extensions"]["field"], "filter.areas");
    assert!(
        reply
            .message()
            .contains("is the ID of a Theme, not of an Area"),
        "{}",
        reply.message()
    );
}

#[tokio::test]
async fn node_and_nodes_resolve_every_type() {
    let app = spawn_app().await;
    let reply = app
        .graphql(
            r#"{ municipalities(first: 1) { nodes { id } } areas(first: 1) { nodes { id } } themes(first: 1) { nodes { id } }
                 organisations(first: 1) { nodes { id } } programmes(first: 1) { nodes { id partners(first: 1) { nodes { id } } } }
                 needs(first: 1) { nodes { id } } initiatives(first: 100) { nodes { id supportRequests(first: 1) { nodes { id } } } }
                 indicators(first: 1) { nodes { id } } outcomes(first: 1) { nodes { id } } learnings(first: 1) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    let data = reply.ok();
    let mut ids: Vec<String> = Vec::new();
    for field in [
        "municipalities",
        "areas",
        "themes",
        "organisations",
        "programmes",
        "needs",
        "indicators",
        "outcomes",
        "learnings",
    ] {
        ids.push(data[field]["nodes"][0]["id"].as_str().unwrap().to_owned());
    }
    ids.push(
        data["programmes"]["nodes"][0]["partners"]["nodes"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let request = data["initiatives"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i["supportRequests"]["nodes"][0]["id"].as_str())
        .unwrap();
    ids.push(request.to_owned());
    let reply = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }",
            json!({"ids": ids}),
        )
        .await;
    let nodes = reply.ok()["nodes"].as_array().unwrap().clone();
    let types: Vec<&str> = nodes
        .iter()
        .map(|n| n["__typename"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Municipality",
            "Area",
            "Theme",
            "Organisation",
            "Programme",
            "Need",
            "Indicator",
            "Outcome",
            "Learning",
            "Partnership",
            "SupportRequest"
        ]
    );
    for (node, id) in nodes.iter().zip(&ids) {
        assert_eq!(node["id"], id.as_str(), "nodes keep the order asked");
    }
    let too_many: Vec<String> = (0..101).map(|_| ids[0].clone()).collect();
    let reply = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({"ids": too_many}),
        )
        .await;
    assert_eq!(reply.code(), "BAD_USER_INPUT");
    assert!(reply.message().contains("at most 100"));
}

#[tokio::test]
async fn malformed_queries_get_request_errors() {
    let app = spawn_app().await;
    // Values written in the document that do not fit their types make it invalid, as
    // graphql-js and Apollo say; values from variables that do not fit are bad input.
    for (query, code) in [
        ("{ initiatives { totalCount ", "GRAPHQL_PARSE_FAILED"),
        (
            "{ initiatives { noSuchField } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ initiatives(first: 99999999999) { totalCount } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ initiatives(first: \"ten\") { totalCount } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ initiatives(filter: {stages: [FLOURISHING]}) { totalCount } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ needs(filter: {recorded: {from: \"yesterday\"}}) { totalCount } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "query($n: Int!) { initiatives(first: $n) { totalCount } }",
            "BAD_USER_INPUT",
        ),
    ] {
        let reply = app.graphql(query, json!({})).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.code(), code, "{query}: {}", reply.body);
        assert!(
            reply.body.get("data").is_none(),
            "a request error carries no data: {}",
            reply.body
        );
    }
    for (query, variables) in [
        (
            "query($n: Int) { initiatives(first: $n) { totalCount } }",
            json!({"n": "ten"}),
        ),
        (
            "query($s: [InitiativeStage!]) { initiatives(filter: {stages: $s}) { totalCount } }",
            json!({"s": ["FLOURISHING"]}),
        ),
        (
            "query($d: Date) { needs(filter: {recorded: {from: $d}}) { totalCount } }",
            json!({"d": "yesterday"}),
        ),
    ] {
        let reply = app.graphql(query, variables).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.code(), "BAD_USER_INPUT", "{query}: {}", reply.body);
    }
    // A required variable left out says so.
    let reply = app
        .graphql(
            "query($area: ID!) { needs(filter: {areas: [$area]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(reply.code(), "BAD_USER_INPUT");
    assert_eq!(
        reply.message(),
        "Variable \"$area\" of required type \"ID!\" was not provided."
    );
}

#[tokio::test]
async fn inverted_date_ranges_name_the_field() {
    let app = spawn_app().await;
    let reply = app
        .graphql(r#"{ needs(filter: {recorded: {from: "2020-01-01", to: "2019-01-01"}}) { totalCount } }"#, json!({}))
        .await;
    assert_eq!(reply.code(), "BAD_USER_INPUT");
    assert_eq!(reply.errors()[0]["extensions"]["field"], "filter.recorded");
    let too_long = "x".repeat(201);
    let reply = app
        .graphql(
            "query($s: String) { initiatives(filter: {search: $s}) { totalCount } }",
            json!({"s": too_long}),
        )
        .await;
    assert_eq!(reply.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn queries_nested_too_deep_are_refused() {
    let app = spawn_app().await;
    let mut query = String::from("{ areas { nodes { id ");
    for _ in 0..12 {
        query.push_str("parent { id ");
    }
    query.push_str(&"} ".repeat(12));
    query.push_str("} } }");
    let reply = app.graphql(&query, json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "QUERY_TOO_COMPLEX");
}

#[tokio::test]
async fn a_failed_non_null_field_nulls_its_nearest_nullable_ancestor() {
    let app = spawn_app().await;
    let theme = app
        .graphql(
            "{ themes(filter: {codes: [\"repair\"]}) { nodes { id } } }",
            json!({}),
        )
        .await
        .ok()["themes"]["nodes"][0]["id"]
        .clone();
    assert!(theme.is_string());

    // `label` is `String!`, each theme `Theme!`, the list `[Theme!]!`, the connection
    // `ThemeConnection!`: the null would reach `data`, so the request is refused as invalid
    // (no `data`), as a value of the wrong type is.
    let reply = app
        .graphql(
            "{ themes(first: 2) { nodes { code label(locale: \"!!\") } } }",
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.get("data").is_none(), "{}", reply.body);
    assert_eq!(reply.code(), "BAD_USER_INPUT");
    assert_eq!(
        reply.errors()[0]["path"],
        json!(["themes", "nodes", 0, "label"])
    );

    // `node` is nullable: it becomes null, its siblings stay.
    let reply = app
        .graphql(
            "query($id: ID!) { kind: __typename x: node(id: $id) { ...F } } fragment F on Theme { code l: label(locale: \"!!\") }",
            json!({"id": theme}),
        )
        .await;
    assert_eq!(
        reply.body["data"],
        json!({"kind": "Query", "x": null}),
        "{}",
        reply.body
    );
    assert_eq!(reply.errors()[0]["path"], json!(["x", "l"]));

    // Inside a list of non-null items under a nullable field (`parent: Theme`): the nullable
    // field takes the null, the list around it stays.
    let reply = app
        .graphql(
            "{ themes(first: 100) { nodes { code parent { children { nodes { label(locale: \"!!\") } } } } } }",
            json!({}),
        )
        .await;
    let nodes = reply.body["data"]["themes"]["nodes"].as_array().unwrap();
    assert!(nodes.len() > 10, "{}", reply.body);
    assert!(
        nodes
            .iter()
            .all(|n| n["code"].is_string() && n["parent"].is_null())
    );
    assert!(!reply.errors().is_empty());
    for error in reply.errors() {
        let path = error["path"].as_array().unwrap();
        assert_eq!(path.last().unwrap(), "label");
    }
    // A field that does not fail is unaffected, in the order asked.
    let reply = app
        .graphql(
            "{ themes(first: 1) { totalCount nodes { label code } } }",
            json!({}),
        )
        .await;
    let node = &reply.ok()["themes"]["nodes"][0];
    let keys: Vec<&String> = node.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["label", "code"]);
}

#[tokio::test]
async fn a_bad_argument_never_wipes_unrelated_root_fields() {
    let app = spawn_app().await;
    // Bad argument values of every kind on fields whose null would reach `data`: the request
    // is refused as invalid, with the field and argument named, never answered with the other
    // root fields wiped.
    for (field, argument) in [
        (
            "themes(first: 1) { nodes { label(locale: \"!!\") } }",
            "locale",
        ),
        ("initiatives(first: -1) { totalCount }", "first"),
        ("initiatives(after: \"zzz\") { totalCount }", "after"),
        (
            "initiatives(filter: {themes: [\"garbage\"]}) { totalCount }",
            "filter.themes",
        ),
        (
            "needStats(filter: {recorded: {from: \"2025-01-01\", to: \"2024-01-01\"}}) { total }",
            "filter.recorded",
        ),
    ] {
        let reply = app
            .graphql(
                &format!("{{ a: {field} b: programmes(first: 1) {{ totalCount }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(reply.status, 400, "{field}: {}", reply.body);
        assert!(reply.body.get("data").is_none(), "{}", reply.body);
        assert_eq!(reply.code(), "BAD_USER_INPUT");
        assert_eq!(
            reply.errors()[0]["extensions"]["field"],
            argument,
            "{field}"
        );
    }
    // Under a nullable field the null stops there, with its error; siblings stay.
    let reply = app
        .graphql(
            "{ a: node(id: \"garbage\") { id } b: programmes(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["data"]["a"].is_null());
    assert!(reply.body["data"]["b"]["totalCount"].is_number());
}

#[tokio::test]
async fn failed_fields_are_null_where_the_specification_puts_them() {
    let app = spawn_app().await;
    // Every selected field of an object refused: the object stays, its fields are null.
    let reply = app
        .graphql(
            "{ organisations(first: 2) { nodes { contacts { totalCount } history { totalCount } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reply.body["data"],
        json!({"organisations": {"nodes": [
            {"contacts": null, "history": null},
            {"contacts": null, "history": null}
        ]}}),
        "{}",
        reply.body
    );
    assert_eq!(reply.errors().len(), 4);
    // Every root field failing, each nullable: `data` holds each as null.
    let reply = app
        .graphql(
            "{ node(id: \"garbage\") { id } auditEntries(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reply.body["data"],
        json!({"node": null, "auditEntries": null}),
        "{}",
        reply.body
    );
}
