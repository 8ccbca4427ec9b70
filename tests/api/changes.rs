//! The change feed: every change as an event in commit order, without gaps or repeats even
//! under concurrent writers; each viewer sees the events of the records it may read; the same
//! feed as NDJSON.
use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const EVENT: &str = "id operation objectType objectId fields version mutation";

/// Every event `key` may see after `after` (an end cursor), paging with `first: 50`; with the
/// end cursor to continue from.
async fn read_feed(
    app: &TestApp,
    key: Option<&str>,
    after: Option<String>,
    extra: &str,
) -> (Vec<Value>, Option<String>) {
    let query = format!(
        "query($after: String) {{ changes(first: 50, after: $after{extra}) {{ nodes {{ {EVENT} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let (mut events, mut cursor) = (Vec::new(), after);
    loop {
        let variables = json!({ "after": cursor });
        let reply = match key {
            Some(key) => app.graphql_as(key, &query, variables).await,
            None => app.graphql(&query, variables).await,
        };
        let page = &reply.ok()["changes"];
        events.extend(page["nodes"].as_array().cloned().unwrap_or_default());
        if let Some(end) = page["pageInfo"]["endCursor"].as_str() {
            cursor = Some(end.to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return (events, cursor);
        }
    }
}

fn ids(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| {
            e["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .expect("a numeric event ID")
        })
        .collect()
}

#[tokio::test]
async fn each_change_is_an_event_naming_its_operation_fields_and_version() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let (before, cursor) = read_feed(&app, Some(&admin), None, "").await;

    let created = app
        .graphql_as(&admin, r#"mutation { createTheme(input: {code: "toy_library", label: [{locale: "en", text: "Toy library"}]}) { theme { id version } } }"#, json!({}))
        .await;
    let theme = created.ok()["createTheme"]["theme"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.graphql_as(&admin, r#"mutation($id: ID!) { updateTheme(input: {id: $id, version: 1, label: [{locale: "en", text: "Toy libraries"}]}) { userErrors { message } } }"#, json!({"id": theme}))
        .await;
    app.graphql_as(&admin, r#"mutation($id: ID!) { archiveTheme(input: {id: $id, version: 2}) { userErrors { message } } }"#, json!({"id": theme}))
        .await;
    app.graphql_as(&admin, r#"mutation($id: ID!) { unarchiveTheme(input: {id: $id, version: 3}) { userErrors { message } } }"#, json!({"id": theme}))
        .await;
    // A refused change leaves no event.
    let refused = app
        .graphql_as(&admin, r#"mutation($id: ID!) { updateTheme(input: {id: $id, version: 1, label: [{locale: "en", text: "Stale"}]}) { userErrors { code } } }"#, json!({"id": theme}))
        .await;
    assert_eq!(
        refused.ok()["updateTheme"]["userErrors"][0]["code"],
        "CONFLICT"
    );

    let initiative = app.find_id("initiatives", "Klusbib").await;
    let need = app
        .all_nodes(
            "needs",
            "id municipality { name(locale: \"en\") }",
            json!({}),
        )
        .await
        .into_iter()
        .find(|n| n["municipality"]["name"] == "Mechelen")
        .expect("a need in Mechelen")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let version = app
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Initiative { version } } }"#,
            json!({"id": initiative}),
        )
        .await
        .ok()["node"]["version"]
        .as_i64()
        .unwrap();
    let link = |mutation: &'static str, version: i64| {
        let (admin, initiative, need) = (admin.clone(), initiative.clone(), need.clone());
        let app = &app;
        async move {
            let reply = app
                .graphql_as(&admin, &format!("mutation($i: ID!, $n: ID!, $v: Int!) {{ {mutation}(input: {{initiative: $i, need: $n, version: $v}}) {{ userErrors {{ message }} }} }}"), json!({"i": initiative, "n": need, "v": version}))
                .await;
            assert_eq!(reply.ok()[mutation]["userErrors"], json!([]), "{mutation}");
        }
    };
    // Whichever way the demo data has it, unlink and link back, or link and unlink.
    let answers = app
        .graphql(r#"query($id: ID!) { node(id: $id) { ... on Initiative { needs(first: 100) { nodes { id } } } } }"#, json!({"id": initiative}))
        .await
        .ok()["node"]["needs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == need.as_str());
    let (first, second) = if answers {
        ("unlinkInitiativeFromNeed", "linkInitiativeToNeed")
    } else {
        ("linkInitiativeToNeed", "unlinkInitiativeFromNeed")
    };
    link(first, version).await;
    link(second, version + 1).await;

    let (events, _) = read_feed(&app, Some(&admin), cursor, "").await;
    let summary: Vec<(String, String, Value, String)> = events
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["objectType"].as_str().unwrap().to_owned(),
                e["version"].clone(),
                e["mutation"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let linked = |m: &str| {
        if m.starts_with("link") {
            "LINKED"
        } else {
            "UNLINKED"
        }
    };
    assert_eq!(
        summary,
        vec![
            (
                "CREATED".into(),
                "Theme".into(),
                json!(1),
                "createTheme".into()
            ),
            (
                "UPDATED".into(),
                "Theme".into(),
                json!(2),
                "updateTheme".into()
            ),
            (
                "ARCHIVED".into(),
                "Theme".into(),
                json!(3),
                "archiveTheme".into()
            ),
            (
                "UNARCHIVED".into(),
                "Theme".into(),
                json!(4),
                "unarchiveTheme".into()
            ),
            (
                linked(first).into(),
                "Initiative".into(),
                json!(version + 1),
                first.into()
            ),
            (
                linked(second).into(),
                "Initiative".into(),
                json!(version + 2),
                second.into()
            ),
        ]
    );
    assert_eq!(events[0]["objectId"], theme.as_str());
    assert_eq!(events[1]["fields"], json!(["label"]));
    assert_eq!(events[2]["fields"], json!(["archivedAt"]));
    assert_eq!(events[4]["fields"], json!(["needs"]));
    // Numbered on from the events before, one by one.
    let numbers = ids(&events);
    let start = ids(&before).last().copied().unwrap_or(0);
    assert_eq!(numbers, ((start + 1)..=(start + 6)).collect::<Vec<_>>());

    // The record behind an event, as it is now.
    let reply = app
        .graphql_as(&admin, "{ changes(last: 6) { nodes { object { __typename ... on Theme { code } } municipality { id } } } }", json!({}))
        .await;
    assert_eq!(
        reply.ok()["changes"]["nodes"][0]["object"]["code"],
        "toy_library"
    );
}

#[tokio::test]
async fn a_viewer_sees_the_events_of_the_records_it_may_read() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let partner = app.partner_key().await;
    let initiative = app.find_id("initiatives", "Klusbib").await;
    let organisation = app
        .find_id("organisations", "strategie en ontwikkeling")
        .await;

    let person = app
        .graphql_as(&admin, r#"mutation($o: ID!) { createContactPerson(input: {organisation: $o, name: "An Example", email: "an@example.org"}) { contactPerson { id } userErrors { message } } }"#, json!({"o": organisation}))
        .await;
    assert_eq!(person.ok()["createContactPerson"]["userErrors"], json!([]));
    let key = app
        .graphql_as(&admin, r#"mutation { createApiKey(input: {name: "CRM sync", role: PARTNER}) { apiKey { id } userErrors { message } } }"#, json!({}))
        .await;
    assert_eq!(key.ok()["createApiKey"]["userErrors"], json!([]));
    let learning = |audience: &str| {
        format!(
            r#"mutation($i: ID!) {{ createLearning(input: {{initiative: $i, kind: SUCCESS_FACTOR, audience: {audience}, title: [{{locale: "en", text: "{audience} lesson"}}], body: [{{locale: "en", text: "Text"}}]}}) {{ learning {{ id }} userErrors {{ message }} }} }}"#
        )
    };
    for audience in ["PUBLIC", "PARTNERS"] {
        let reply = app
            .graphql_as(&admin, &learning(audience), json!({"i": initiative}))
            .await;
        assert_eq!(reply.ok()["createLearning"]["userErrors"], json!([]));
    }

    let types = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["objectType"].as_str().unwrap().to_owned())
            .collect()
    };
    let (everything, _) = read_feed(&app, Some(&admin), None, "").await;
    assert_eq!(
        types(&everything[everything.len() - 4..]),
        ["ContactPerson", "ApiKey", "Learning", "Learning"]
    );
    let (partners, _) = read_feed(&app, Some(&partner), None, "").await;
    let (anonymous, _) = read_feed(&app, None, None, "").await;
    let partner_types = types(&partners);
    let anonymous_types = types(&anonymous);
    // Personal data stays with keys (partners and above), API keys with admins.
    assert!(partner_types.iter().any(|t| t == "ContactPerson"));
    assert!(!partner_types.iter().any(|t| t == "ApiKey"));
    assert!(
        !anonymous_types
            .iter()
            .any(|t| t == "ContactPerson" || t == "ApiKey")
    );
    // Partner-only learnings: partners see them, anonymous callers do not.
    let learnings = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["objectType"] == "Learning")
            .count()
    };
    assert_eq!(learnings(&partners), 2);
    assert_eq!(learnings(&anonymous), 1);
    // What a viewer sees is a subsequence of the whole, in the same order.
    let all: Vec<i64> = ids(&everything);
    for seen in [ids(&partners), ids(&anonymous)] {
        let mut rest = all.iter();
        assert!(
            seen.iter().all(|id| rest.any(|a| a == id)),
            "out of order: {seen:?}"
        );
    }

    // Filters: by type, by municipality, and an empty type list selects nothing.
    let (learning_events, _) = read_feed(&app, Some(&admin), None, ", types: [LEARNING]").await;
    assert_eq!(learning_events.len(), 2);
    let (none, _) = read_feed(&app, Some(&admin), None, ", types: []").await;
    assert!(none.is_empty());
    let mechelen = stroom_api::ids::NodeKind::Municipality
        .id(app.municipality_id("Mechelen").await)
        .0;
    let (local, _) = read_feed(
        &app,
        Some(&admin),
        None,
        &format!(", municipality: \"{mechelen}\""),
    )
    .await;
    assert!(local.iter().all(|e| e["objectType"] != "ApiKey"));
    assert!(local.iter().any(|e| e["objectType"] == "Learning"));
    let bad = app
        .graphql_as(
            &admin,
            r#"{ changes(municipality: "nope") { nodes { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
}

/// Writers commit concurrently while a consumer follows the feed, storing its cursor as it
/// goes: it must see every event once, in order, numbered without gaps.
#[tokio::test]
async fn a_consumer_following_the_feed_under_concurrent_writes_misses_nothing() {
    const WRITERS: usize = 8;
    const WRITES: usize = 40;
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let (_, start) = read_feed(&app, Some(&admin), None, "").await;

    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = futures_util::future::join_all((0..WRITERS).map(|w| {
        let (app, admin) = (&app, admin.clone());
        async move {
            for i in 0..WRITES {
                let code = format!("feed_{w}_{i}");
                let reply = app
                    .graphql_as(&admin, r#"mutation($c: String!) { createTheme(input: {code: $c, label: [{locale: "en", text: $c}]}) { theme { id } userErrors { message } } }"#, json!({"c": code}))
                    .await;
                assert_eq!(reply.ok()["createTheme"]["userErrors"], json!([]));
            }
        }
    }));
    let consumer = async {
        let (mut seen, mut cursor) = (Vec::new(), start.clone());
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let (events, next) = read_feed(&app, Some(&admin), cursor.clone(), "").await;
            seen.extend(events);
            cursor = next;
            if finished {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let consumer_and_writers = async {
        let ((), seen) = tokio::join!(
            async {
                writers.await;
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            },
            consumer
        );
        seen
    };
    let seen = consumer_and_writers.await;

    let numbers = ids(&seen);
    assert_eq!(numbers.len(), WRITERS * WRITES, "every change seen once");
    let first = numbers[0];
    assert_eq!(
        numbers,
        (first..first + (WRITERS * WRITES) as i64).collect::<Vec<_>>(),
        "in order, without gaps"
    );
    let codes: HashSet<&str> = seen
        .iter()
        .map(|e| e["objectId"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), WRITERS * WRITES, "one event per created theme");
}

#[tokio::test]
async fn the_feed_streams_as_ndjson_with_the_same_events() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    for i in 0..3 {
        app.graphql_as(&admin, r#"mutation($c: String!) { createTheme(input: {code: $c, label: [{locale: "en", text: $c}]}) { userErrors { message } } }"#, json!({"c": format!("ndjson_{i}")}))
            .await;
    }
    let (events, _) = read_feed(&app, Some(&admin), None, "").await;
    // A client that asks for gzip and inflates the answer, as browsers and `requests` do.
    let browser = reqwest::Client::builder().gzip(true).build().unwrap();
    let get = |query: &str, key: Option<&str>| {
        let mut request = browser
            .get(app.url(&format!("/changes.ndjson{query}")))
            .header("accept-encoding", "gzip");
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let response = get("", Some(&admin)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), events.len());
    for (line, event) in lines.iter().zip(&events) {
        for field in [
            "id",
            "objectType",
            "objectId",
            "fields",
            "version",
            "mutation",
        ] {
            assert_eq!(line[field], event[field], "{field}");
        }
        assert_eq!(
            line["operation"].as_str().unwrap().to_uppercase(),
            event["operation"].as_str().unwrap()
        );
    }

    // From a cursor, with a type filter and a limit.
    let second = events[1]["id"].as_str().unwrap();
    let text = get(
        &format!("?after={second}&types=Theme&limit=1"),
        Some(&admin),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], events[2]["id"]);

    // Bad parameters are refused with a reason; a bad key is refused.
    for query in [
        "?after=-1",
        "?after=x",
        "?limit=0",
        "?limit=100000",
        "?types=Nothing",
        "?municipality=nope",
    ] {
        let response = get(query, Some(&admin)).await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{query}"
        );
    }
    let response = get("", Some("stroom_not_a_key")).await.unwrap();
    assert_eq!(response.status(), 401);

    // The raw bytes really are gzip.
    let raw = reqwest::Client::builder()
        .gzip(false)
        .build()
        .unwrap()
        .get(app.url("/changes.ndjson"))
        .bearer_auth(&admin)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-encoding"], "gzip");

    // Anonymous callers get the public events only.
    let text = get("", None).await.unwrap().text().await.unwrap();
    assert!(!text.contains("\"ApiKey\""));
}

#[tokio::test]
async fn reading_the_feed_runs_the_same_statements_for_5_and_50_events() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    for i in 0..50 {
        app.graphql_as(&admin, r#"mutation($c: String!) { createTheme(input: {code: $c, label: [{locale: "en", text: $c}]}) { userErrors { message } } }"#, json!({"c": format!("count_{i}")}))
            .await;
    }
    let count = |n: usize| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.graphql_with(
                &format!("{{ changes(last: {n}) {{ nodes {{ id object {{ id ... on Theme {{ code }} }} municipality {{ id }} }} }} }}"),
                json!({}),
                &[("authorization", &format!("Bearer {admin}")), ("x-stroom-sql-statements", "true")],
            )
            .await
            .statements
        }
    };
    let (few, many) = (count(5).await, count(50).await);
    assert!(few > 0, "the server reports its statements");
    assert_eq!(few, many, "statements must not grow with events");
}
