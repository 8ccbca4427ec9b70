//! The response cache: a repeated query is answered from memory while the tables it read keep
//! their change stamps, and never after a write has replaced what it read — whatever path the
//! answer took to the data (a list, a link table, a nested list, a reference, an aggregate, a
//! search, a translation), whichever instance answers, for the writer and for everyone else.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Whether the server answered from the cache (`hit`), kept a fresh answer (`miss`), or
/// neither (no header).
async fn ask(
    app: &TestApp,
    key: Option<&str>,
    query: &str,
    variables: Value,
) -> (Option<String>, Value) {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("accept", ACCEPT)
        .json(&json!({"query": query, "variables": variables}));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("the server answers");
    let outcome = response
        .headers()
        .get("x-stroom-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.expect("a JSON body");
    assert!(body.get("errors").is_none(), "{body}");
    (outcome, body["data"].clone())
}

async fn initiative(app: &TestApp, name: &str) -> (String, i64) {
    let found = app
        .graphql(
            "query($q: String!) { initiatives(first: 1, filter: {search: $q}) { nodes { id version } } }",
            json!({"q": name}),
        )
        .await;
    let node = &found.ok()["initiatives"]["nodes"][0];
    (
        node["id"].as_str().expect("an initiative").to_owned(),
        node["version"].as_i64().expect("a version"),
    )
}

async fn mutate(app: &TestApp, key: &str, mutation: &str, variables: Value) {
    let reply = app.graphql_as(key, mutation, variables).await;
    let data = reply.ok();
    let payload = data
        .as_object()
        .and_then(|o| o.values().next())
        .expect("a payload");
    assert_eq!(payload["userErrors"], json!([]), "{}", reply.body);
}

const RECORD_OUTCOME: &str = "mutation($input: RecordOutcomeInput!) { recordOutcome(input: $input) { userErrors { message } } }";

/// The variables of an outcome of `initiative` recorded for a period (its value differs with
/// the version it is recorded at, so every recording changes the totals).
fn outcome(
    initiative: &str,
    indicator: &Value,
    base: i64,
    start: &'static str,
    end: &'static str,
) -> Box<dyn Fn(i64) -> Value> {
    let (initiative, indicator) = (initiative.to_owned(), indicator.clone());
    Box::new(move |version| {
        json!({"input": {"indicator": indicator, "unit": "ITEMS",
            "value": format!("{}", base + version), "periodStart": start, "periodEnd": end,
            "initiative": initiative, "method": [{"locale": "en", "text": "Counted."}]}})
    })
}

#[tokio::test]
async fn a_kept_answer_never_outlives_a_write_to_what_it_read() {
    let app = spawn_app().await;
    let editor = app.editor_key("Sustainability", "Mechelen").await;
    let (klusbib, _) = initiative(&app, "Klusbib").await;
    let codes = app
        .graphql(
            "{ indicators(filter: {codes: [\"devices_fixed\"]}) { nodes { id } }
               themes(filter: {codes: [\"repair\"]}) { nodes { id } } }",
            json!({}),
        )
        .await;
    let indicator = codes.ok()["indicators"]["nodes"][0]["id"].clone();
    let repair = codes.ok()["themes"]["nodes"][0]["id"].clone();

    // (what the answer reads, the query, its variables, the write that replaces part of it)
    struct Case {
        path: &'static str,
        query: &'static str,
        variables: Value,
        mutation: &'static str,
        mutation_variables: Box<dyn Fn(i64) -> Value>,
    }
    let klusbib_id = klusbib.clone();
    let cases = vec![
        Case {
            path: "a column of a listed record",
            query: "query($id: ID!) { node(id: $id) { ... on Initiative { name website } } }",
            variables: json!({"id": klusbib}),
            mutation: "mutation($id: ID!, $v: Int!, $w: String) { updateInitiative(input: {id: $id, version: $v, website: $w}) { userErrors { message } } }",
            mutation_variables: {
                let id = klusbib_id.clone();
                Box::new(
                    move |v| json!({"id": id, "v": v, "w": format!("https://klusbib.example/{v}")}),
                )
            },
        },
        Case {
            path: "a link table (themes of an initiative)",
            query: "query($id: ID!) { node(id: $id) { ... on Initiative { themes { nodes { code } } } } }",
            variables: json!({"id": klusbib}),
            mutation: "mutation($id: ID!, $v: Int!, $t: [ID!]) { updateInitiative(input: {id: $id, version: $v, themes: $t}) { userErrors { message } } }",
            mutation_variables: {
                let (id, theme) = (klusbib_id.clone(), repair.clone());
                Box::new(move |v| json!({"id": id, "v": v, "t": [theme]}))
            },
        },
        Case {
            path: "an aggregate (kept by the field cache too)",
            query: "query($i: ID!) { outcomeSeries(indicators: [$i], from: \"2020-01-01\", to: \"2026-12-31\", interval: YEAR) { series { total } } }",
            variables: json!({"i": indicator}),
            mutation: RECORD_OUTCOME,
            mutation_variables: outcome(&klusbib_id, &indicator, 1000, "2026-01-01", "2026-03-31"),
        },
        Case {
            path: "a nested list through a column (outcomes of an initiative)",
            query: "query($id: ID!) { node(id: $id) { ... on Initiative { outcomes(first: 50) { totalCount } } } }",
            variables: json!({"id": klusbib}),
            mutation: RECORD_OUTCOME,
            mutation_variables: outcome(&klusbib_id, &indicator, 2000, "2026-04-01", "2026-06-30"),
        },
        Case {
            path: "a search",
            query: "{ search(query: \"cachetest\") { totalCount } }",
            variables: json!({}),
            mutation: "mutation($id: ID!, $v: Int!) { addTranslation(input: {id: $id, version: $v, field: \"name\", locale: \"fr\", text: \"Cachetest Klusbib\"}) { userErrors { message } } }",
            mutation_variables: {
                let id = klusbib_id.clone();
                Box::new(move |v| json!({"id": id, "v": v}))
            },
        },
        Case {
            path: "a translation served in the asked language",
            query: "query($id: ID!) { node(id: $id) { ... on Initiative { name(locale: \"de\") } } }",
            variables: json!({"id": klusbib}),
            mutation: "mutation($id: ID!, $v: Int!) { addTranslation(input: {id: $id, version: $v, field: \"name\", locale: \"de\", text: \"Klusbib Werkzeugbibliothek\"}) { userErrors { message } } }",
            mutation_variables: {
                let id = klusbib_id.clone();
                Box::new(move |v| json!({"id": id, "v": v}))
            },
        },
    ];

    for case in cases {
        let (first, before) = ask(&app, None, case.query, case.variables.clone()).await;
        assert_eq!(first.as_deref(), Some("miss"), "{}: first ask", case.path);
        let (second, again) = ask(&app, None, case.query, case.variables.clone()).await;
        assert_eq!(second.as_deref(), Some("hit"), "{}: asked again", case.path);
        assert_eq!(
            again, before,
            "{}: the kept answer is the answer",
            case.path
        );
        // The writer's own key asks before the write: its answer is kept separately.
        let (_, writer_before) = ask(&app, Some(&editor), case.query, case.variables.clone()).await;
        assert_eq!(writer_before, before, "{}", case.path);

        let (_, version) = initiative(&app, "Klusbib").await;
        mutate(
            &app,
            &editor,
            case.mutation,
            (case.mutation_variables)(version),
        )
        .await;

        for (who, key) in [("the writer", Some(editor.as_str())), ("anyone", None)] {
            let (outcome, after) = ask(&app, key, case.query, case.variables.clone()).await;
            assert_eq!(
                outcome.as_deref(),
                Some("miss"),
                "{}: {who} must get a fresh answer after the write",
                case.path
            );
            assert_ne!(after, before, "{}: {who} sees the write", case.path);
        }
    }
}

#[tokio::test]
async fn a_write_elsewhere_keeps_the_answer_and_callers_do_not_share_answers() {
    let app = spawn_app().await;
    let editor = app.editor_key("Sustainability", "Mechelen").await;
    let query = "{ themes(first: 50) { nodes { code label } } }";
    assert_eq!(
        ask(&app, None, query, json!({})).await.0.as_deref(),
        Some("miss")
    );
    assert_eq!(
        ask(&app, None, query, json!({})).await.0.as_deref(),
        Some("hit")
    );
    // Another caller, another language: answers of their own.
    assert_eq!(
        ask(&app, Some(&editor), query, json!({}))
            .await
            .0
            .as_deref(),
        Some("miss")
    );
    let dutch = app
        .graphql_with(query, json!({}), &[("accept-language", "nl")])
        .await;
    assert_ne!(dutch.ok(), &ask(&app, None, query, json!({})).await.1);

    // A change to initiatives leaves the themes' answer alone.
    let (id, version) = initiative(&app, "Klusbib").await;
    mutate(
        &app,
        &editor,
        "mutation($id: ID!, $v: Int!) { updateInitiative(input: {id: $id, version: $v, website: \"https://klusbib.example/x\"}) { userErrors { message } } }",
        json!({"id": id, "v": version}),
    )
    .await;
    assert_eq!(
        ask(&app, None, query, json!({})).await.0.as_deref(),
        Some("hit")
    );

    // An answer that reads a table the service writes for its own bookkeeping (API keys: their
    // last use) is never kept.
    let admin = app.admin_key().await;
    let keys = "{ apiKeys(first: 10) { nodes { name lastUsedAt } } }";
    for _ in 0..2 {
        assert_eq!(ask(&app, Some(&admin), keys, json!({})).await.0, None);
    }
}

#[tokio::test]
async fn a_polling_client_gets_304_until_the_data_changes() {
    let app = spawn_app().await;
    let editor = app.editor_key("Sustainability", "Mechelen").await;
    let (id, _) = initiative(&app, "Klusbib").await;
    let url = app.url(&format!(
        "/graphql?query={}&variables={}",
        urlencode("query($id: ID!) { node(id: $id) { ... on Initiative { website version } } }"),
        urlencode(&json!({"id": id}).to_string()),
    ));
    let get = |etag: Option<String>| {
        let mut request = app.client.get(&url).header("accept", ACCEPT);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = get(None).await.expect("an answer");
    assert_eq!(first.status(), StatusCode::OK);
    // Browsers and proxies may keep it but must ask again before each reuse.
    assert_eq!(first.headers()["cache-control"], "public, no-cache");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    first.text().await.unwrap();

    // Kept or not, the same data has the same tag: 304 without a body.
    for _ in 0..3 {
        let again = get(Some(etag.clone())).await.expect("an answer");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert!(again.bytes().await.unwrap().is_empty());
    }
    // A tag of other data, or a list without ours: the full answer.
    let other = get(Some("W/\"0000\"".into())).await.expect("an answer");
    assert_eq!(other.status(), StatusCode::OK);
    other.text().await.unwrap();

    let (_, version) = initiative(&app, "Klusbib").await;
    mutate(
        &app,
        &editor,
        "mutation($id: ID!, $v: Int!) { updateInitiative(input: {id: $id, version: $v, website: \"https://klusbib.example/304\"}) { userErrors { message } } }",
        json!({"id": id, "v": version}),
    )
    .await;
    let changed = get(Some(etag.clone())).await.expect("an answer");
    assert_eq!(changed.status(), StatusCode::OK, "the data changed");
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(
        body["data"]["node"]["website"],
        "https://klusbib.example/304"
    );
}

#[tokio::test]
async fn instances_sharing_a_database_never_serve_an_answer_a_write_replaced() {
    let a = spawn_app().await;
    let b = spawn_instance(&a, None, |_| {}).await;
    let editor = a.editor_key("Sustainability", "Mechelen").await;
    let (id, _) = initiative(&a, "Klusbib").await;
    let query = "query($id: ID!) { node(id: $id) { ... on Initiative { website version } } }";
    for round in 0..5 {
        // B keeps the answer…
        ask(&b, None, query, json!({"id": id})).await;
        let (outcome, kept) = ask(&b, None, query, json!({"id": id})).await;
        assert_eq!(outcome.as_deref(), Some("hit"));
        // …A changes it, and B's very next answer has the change.
        let version = kept["node"]["version"].as_i64().unwrap();
        let website = format!("https://klusbib.example/round-{round}");
        mutate(
            &a,
            &editor,
            "mutation($id: ID!, $v: Int!, $w: String) { updateInitiative(input: {id: $id, version: $v, website: $w}) { userErrors { message } } }",
            json!({"id": id, "v": version, "w": website}),
        )
        .await;
        let (outcome, fresh) = ask(&b, None, query, json!({"id": id})).await;
        assert_eq!(outcome.as_deref(), Some("miss"), "round {round}");
        assert_eq!(fresh["node"]["website"], website.as_str(), "round {round}");
    }
}

#[tokio::test]
async fn concurrent_askers_share_stamp_reads_and_all_get_the_answer() {
    let app = spawn_app().await;
    let query = "{ initiatives(first: 5) { nodes { name themes { nodes { code } } } } }";
    let (_, expected) = ask(&app, None, query, json!({})).await;
    let answers =
        futures_util::future::join_all((0..40).map(|_| ask(&app, None, query, json!({})))).await;
    for (outcome, data) in answers {
        assert_eq!(outcome.as_deref(), Some("hit"));
        assert_eq!(data, expected);
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The service's own bookkeeping, written outside the write frame: an answer that reads these
/// is never kept, so they have no change stamp.
const UNSTAMPED: &[&str] = &[
    "api_key",
    "idempotency_record",
    "import_key",
    "seaql_migrations",
    "sqlite_sequence",
    "table_stamp",
    "webhook_attempt",
    "webhook_endpoint",
    "webhook_message",
];

#[tokio::test]
async fn every_table_has_a_change_stamp_or_is_bookkeeping() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let backend = app.db.get_database_backend();
    let tables = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let stamped: Vec<String> = app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT name FROM table_stamp",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("", "name").unwrap())
        .collect();
    let mut missing = Vec::new();
    for row in app
        .db
        .query_all_raw(Statement::from_string(backend, tables))
        .await
        .unwrap()
    {
        let name: String = row.try_get("", "name").unwrap();
        // SQLite's full-text tables and their shadow tables follow `search_document`.
        let follower = ["search_fts", "search_theme_fts", "search_trigram"]
            .iter()
            .any(|f| name.starts_with(f));
        if !stamped.contains(&name) && !follower && !UNSTAMPED.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    // A table without a stamp is silently never cached: a new table gets its `table_stamp`
    // row in its migration, or joins the bookkeeping list above.
    assert!(
        missing.is_empty(),
        "tables without a change stamp: {missing:?}"
    );
}
