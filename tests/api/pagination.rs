//! Relay pagination: both directions, the page-info flags, stable orders and the size limits.
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const PAGE: &str = r#"query($first: Int, $after: String, $last: Int, $before: String, $order: OutcomeOrder) {
  outcomes(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes { id }
  }
}"#;

async fn page(app: &TestApp, variables: Value) -> Value {
    app.graphql(PAGE, variables).await.ok()["outcomes"].clone()
}

fn ids(page: &Value) -> Vec<String> {
    page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn paging_forward_and_backward_visits_every_record_once_in_order() {
    let app = spawn_app().await;
    for order in [
        json!(null),
        json!({"field": "VALUE", "direction": "DESC"}),
        json!({"field": "PERIOD_START", "direction": "ASC"}),
        json!({"field": "CREATED_AT"}),
    ] {
        let everything = page(&app, json!({"first": 100, "order": order})).await;
        let total = everything["totalCount"].as_u64().unwrap() as usize;
        let mut all = ids(&everything);
        let mut after = everything["pageInfo"]["endCursor"].clone();
        while all.len() < total {
            let next = page(&app, json!({"first": 100, "after": after, "order": order})).await;
            all.extend(ids(&next));
            after = next["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(all.len(), total);

        // Forward by 7: same records, same order; the flags tell where the page sits.
        let mut forward = Vec::new();
        let mut after = Value::Null;
        loop {
            let p = page(&app, json!({"first": 7, "after": after, "order": order})).await;
            assert_eq!(p["pageInfo"]["hasPreviousPage"], json!(!after.is_null()));
            assert_eq!(p["edges"][0]["cursor"], p["pageInfo"]["startCursor"]);
            forward.extend(ids(&p));
            if p["pageInfo"]["hasNextPage"] == json!(false) {
                break;
            }
            after = p["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(forward, all, "forward paging with {order}");

        // Backward by 9 from the end.
        let mut backward: Vec<String> = Vec::new();
        let mut before = Value::Null;
        loop {
            let p = page(&app, json!({"last": 9, "before": before, "order": order})).await;
            assert_eq!(p["pageInfo"]["hasNextPage"], json!(!before.is_null()));
            let mut chunk = ids(&p);
            chunk.extend(backward);
            backward = chunk;
            if p["pageInfo"]["hasPreviousPage"] == json!(false) {
                break;
            }
            before = p["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(backward, all, "backward paging with {order}");

        // `after` and `before` together select the records strictly between them.
        let window = page(&app, json!({"first": 100, "after": everything["edges"][2]["cursor"], "before": everything["edges"][6]["cursor"], "order": order})).await;
        assert_eq!(ids(&window), all[3..6].to_vec());
    }
}

#[tokio::test]
async fn nullable_sort_keys_put_missing_values_last_in_both_directions() {
    let app = spawn_app().await;
    for direction in ["ASC", "DESC"] {
        let query = format!(
            r#"query($after: String) {{ initiatives(first: 4, after: $after, orderBy: {{field: START_DATE, direction: {direction}}}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ startDate }} }} }}"#
        );
        let mut dates: Vec<Value> = Vec::new();
        let mut after = Value::Null;
        loop {
            let reply = app.graphql(&query, json!({"after": after})).await;
            let page = &reply.ok()["initiatives"];
            dates.extend(
                page["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n["startDate"].clone()),
            );
            if page["pageInfo"]["hasNextPage"] == json!(false) {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(dates.len(), 13);
        let first_null = dates.iter().position(Value::is_null).unwrap();
        assert!(
            dates[first_null..].iter().all(Value::is_null),
            "{direction}: {dates:?}"
        );
        let known: Vec<&str> = dates[..first_null]
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        let mut sorted = known.clone();
        sorted.sort();
        if direction == "DESC" {
            sorted.reverse();
        }
        assert_eq!(known, sorted);
    }
}

#[tokio::test]
async fn nested_lists_page_per_parent() {
    let app = spawn_app().await;
    let reply = app
        .graphql(
            r#"{ initiatives(first: 100) { nodes { name(locale: "en") outcomes(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { periodStart } } } } }"#,
            json!({}),
        )
        .await;
    let initiatives = reply.ok()["initiatives"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let klusbib = initiatives
        .iter()
        .find(|i| i["name"] == "Klusbib tool library")
        .unwrap();
    let outcomes = &klusbib["outcomes"];
    assert_eq!(outcomes["totalCount"], 56);
    assert_eq!(outcomes["pageInfo"]["hasNextPage"], true);
    assert_eq!(outcomes["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(outcomes["nodes"][0]["periodStart"], "2025-10-01");
    let empty = initiatives
        .iter()
        .find(|i| i["name"] == "Makerspace")
        .unwrap();
    assert_eq!(
        empty["outcomes"],
        json!({"totalCount": 0, "pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": []})
    );
}

#[tokio::test]
async fn page_sizes_outside_the_limits_are_refused_with_a_clear_error() {
    let app = spawn_app().await;
    for (variables, field) in [
        (json!({"first": 101}), "first"),
        (json!({"first": -1}), "first"),
        (json!({"last": 1000}), "last"),
        (json!({"first": 5, "last": 5}), "last"),
    ] {
        let reply = app.graphql(PAGE, variables.clone()).await;
        assert_eq!(reply.code(), "BAD_USER_INPUT", "{variables}");
        assert_eq!(reply.errors()[0]["extensions"]["field"], field);
        assert!(
            reply.message().contains(&format!("`{field}`")),
            "{}",
            reply.message()
        );
    }
    let max = app.graphql(PAGE, json!({"first": 100})).await;
    assert_eq!(ids(&max.ok()["outcomes"]).len(), 100);
    let none = app.graphql(PAGE, json!({"first": 0})).await;
    assert!(ids(&none.ok()["outcomes"]).is_empty());
    let default = app.graphql(PAGE, json!({})).await;
    assert_eq!(ids(&default.ok()["outcomes"]).len(), 20);
}

#[tokio::test]
async fn cursors_are_checked() {
    let app = spawn_app().await;
    let by_value = page(&app, json!({"first": 1, "order": {"field": "VALUE"}})).await;
    let cursor = by_value["pageInfo"]["endCursor"].clone();
    let reply = app
        .graphql(
            PAGE,
            json!({"first": 1, "after": cursor, "order": {"field": "PERIOD_START"}}),
        )
        .await;
    assert_eq!(reply.code(), "BAD_USER_INPUT");
    assert!(
        reply.message().contains("ordered by VALUE"),
        "{}",
        reply.message()
    );
    for garbage in ["nonsense", "W10", "WyJWQUxVRSIsInRleHQiLDFd"] {
        let reply = app
            .graphql(
                PAGE,
                json!({"first": 1, "after": garbage, "order": {"field": "VALUE"}}),
            )
            .await;
        assert_eq!(reply.code(), "BAD_USER_INPUT", "{garbage}");
        assert_eq!(reply.errors()[0]["extensions"]["field"], "after");
    }
}
