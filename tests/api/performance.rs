//! What the benchmark relies on, checked without timing anything: each canonical operation
//! (`bench/operations/*.graphql`) runs a fixed number of SQL statements — one for its list and
//! one per relation field — and, on PostgreSQL, none of them reads a record table with a
//! sequential scan.
use serde_json::{Value, json};
use stroom_seed::Scale;

use crate::helpers::*;

const DASHBOARD: &str = include_str!("../../bench/operations/dashboard.graphql");
const NODE: &str = include_str!("../../bench/operations/node.graphql");
const DEEP_PAGING: &str = include_str!("../../bench/operations/deep-paging.graphql");
const AGGREGATE: &str = include_str!("../../bench/operations/aggregate.graphql");
const SEARCH: &str = include_str!("../../bench/operations/search.graphql");
const UPDATE: &str = include_str!("../../bench/operations/update.graphql");

/// Big enough for PostgreSQL's planner to prefer indexes where they exist (a sequential scan
/// is cheapest on a table of a few pages), small enough to generate in seconds.
const SCALE: Scale = Scale {
    municipalities: 2,
    organisations: 100,
    needs: 6_000,
    initiatives: 2_000,
    outcomes: 20_000,
    learnings: 400,
};

/// A table this big must be reached through an index.
const LARGE: f64 = 1_000.0;

/// Tables that grow with a city's use. Link tables (`initiative_theme`…) are left out: a hash
/// join over a two-column table is the right plan when a large part of it is needed.
const RECORD_TABLES: &[&str] = &[
    "municipality",
    "area",
    "organisation",
    "contact_person",
    "programme",
    "partnership",
    "need",
    "initiative",
    "support_request",
    "outcome",
    "learning",
    "learning_endorsement",
    "audit_entry",
    "search_document",
];

/// The tables of a PostgreSQL plan document read by sequential scan.
fn sequential_scans(plan: &Value, found: &mut Vec<String>) {
    match plan {
        Value::Object(node) => {
            if node.get("Node Type") == Some(&json!("Seq Scan"))
                && let Some(table) = node.get("Relation Name").and_then(Value::as_str)
            {
                found.push(table.to_owned());
            }
            for value in node.values() {
                sequential_scans(value, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                sequential_scans(item, found);
            }
        }
        _ => {}
    }
}

/// The record tables holding at least [`LARGE`] rows, by the planner's own statistics.
async fn large_tables(app: &TestApp) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT relname::text AS name, reltuples::float8 AS n FROM pg_class WHERE relkind = 'r'",
        ))
        .await
        .expect("table statistics");
    rows.iter()
        .filter_map(|row| {
            let name: String = row.try_get("", "name").ok()?;
            let n: f64 = row.try_get("", "n").ok()?;
            (n >= LARGE && RECORD_TABLES.contains(&name.as_str())).then_some(name)
        })
        .collect()
}

#[tokio::test]
async fn canonical_operations_run_fixed_statements_and_use_indexes() {
    // Without the result cache, so that every operation runs its own statements.
    let app = spawn_generated(SCALE, |serve| {
        serve.explain = true;
        serve.result_cache_entries = 0;
        serve.response_cache_entries = 0;
    })
    .await;
    let explain = [("x-stroom-explain", "true")];

    // What the operations need, found as the benchmark finds it.
    let setup = app
        .graphql(
            "{ initiatives(first: 1) { nodes { id } }
               indicators(filter: {codes: [\"devices_fixed\"]}) { nodes { id } } }",
            json!({}),
        )
        .await;
    let initiative = setup.ok()["initiatives"]["nodes"][0]["id"].clone();
    let indicator = setup.ok()["indicators"]["nodes"][0]["id"].clone();
    let mut cursor = Value::Null;
    for _ in 1..50 {
        let page = app.graphql(DEEP_PAGING, json!({"after": cursor})).await;
        cursor = page.ok()["needs"]["pageInfo"]["endCursor"].clone();
    }
    let key = app.editor_key("benchmark", "Mechelen").await;
    let mechelen = app.municipality_id("Mechelen").await;
    let own = app
        .graphql(
            "query($m: ID!) { initiatives(first: 1, filter: {municipalities: [$m]}) {
               nodes { id version } } }",
            json!({"m": stroom_api::ids::NodeKind::Municipality.id(mechelen).0}),
        )
        .await;
    let target = own.ok()["initiatives"]["nodes"][0].clone();

    // (name, document, variables, statements field by field — one per list or relation
    // field —, statements compiled: one, where the planner compiles the operation)
    let operations = [
        // initiatives; themes, areas, needs, partners, outcomes; organisation, indicator
        ("dashboard", DASHBOARD, json!({}), 8, 1),
        ("node", NODE, json!({"id": initiative}), 1, 1),
        ("deep paging", DEEP_PAGING, json!({"after": cursor}), 1, 1),
        // the series; the themes' labels (an aggregate is not compiled)
        (
            "aggregate",
            AGGREGATE,
            json!({"indicator": indicator}),
            2,
            2,
        ),
        // search ranks its results itself: not compiled
        ("search", SEARCH, json!({"query": "repair"}), 1, 1),
    ];
    let large = if postgres_url().is_some() {
        large_tables(&app).await
    } else {
        Vec::new()
    };
    let mut scans = Vec::new();
    for (name, document, variables, executed, compiled) in operations {
        // The first request of a document is executed (and validates it); later ones are
        // compiled where the planner can.
        for (run, expected) in [("executed", executed), ("compiled", compiled)] {
            let reply = app
                .graphql_with(document, variables.clone(), &explain)
                .await;
            reply.ok();
            assert_eq!(
                reply.statements, expected,
                "{name} ({run}): {} SQL statements, expected {expected}",
                reply.statements
            );
            // (The deep paging document was run, and validated, above.)
            let planned = (run == "compiled" || name == "deep paging")
                && ["dashboard", "node", "deep paging"].contains(&name);
            assert_eq!(reply.compiled, planned, "{name} ({run}): compiled or not");
            let explained = reply.body["extensions"]["explain"]
                .as_array()
                .unwrap_or_else(|| {
                    panic!("{name} ({run}): no extensions.explain in {}", reply.body)
                });
            assert_eq!(
                explained.len() as u64,
                expected,
                "{name} ({run}): one plan per statement"
            );
            if postgres_url().is_some() {
                for statement in explained {
                    let mut found = Vec::new();
                    sequential_scans(&statement["plan"], &mut found);
                    for table in found.into_iter().filter(|t| large.contains(t)) {
                        scans.push(format!(
                            "{name} ({run}): Seq Scan on {table} in {}",
                            statement["sql"]
                        ));
                    }
                }
            }
        }
    }
    if postgres_url().is_some() {
        for table in ["initiative", "need", "outcome", "search_document"] {
            assert!(
                large.iter().any(|t| t == table),
                "{table} is not large: {large:?}"
            );
        }
    }
    assert!(
        scans.is_empty(),
        "sequential scans of large tables:\n{}",
        scans.join("\n")
    );

    // The write of the write mix: a fixed number of statements too (transaction, version
    // check, audit entry, search index and its words, the change feed's numbering and event),
    // whatever the data.
    let update = app
        .graphql_as(
            &key,
            UPDATE,
            json!({"input": {
                "id": target["id"],
                "version": target["version"],
                "website": "https://example.org/benchmark",
            }}),
        )
        .await;
    let payload = &update.ok()["updateInitiative"];
    assert_eq!(payload["userErrors"], json!([]), "{}", update.body);
    assert!(
        update.statements <= 15,
        "an update ran {} statements",
        update.statements
    );
}

#[tokio::test]
async fn explain_is_off_unless_the_server_enables_it() {
    let app = spawn_app().await;
    let reply = app
        .graphql_with(
            "{ themes(first: 1) { nodes { code } } }",
            json!({}),
            &[("x-stroom-explain", "true")],
        )
        .await;
    reply.ok();
    assert!(
        reply.body["extensions"].get("explain").is_none(),
        "SQL must not be shown by default: {}",
        reply.body
    );
}

#[tokio::test]
async fn aggregates_and_search_are_reused_until_the_data_changes() {
    // The results of the fields themselves, so whole answers are not kept.
    let app = spawn_configured(true, |serve| serve.response_cache_entries = 0).await;
    let indicator = app
        .graphql(
            "{ indicators(filter: {codes: [\"devices_fixed\"]}) { nodes { id } } }",
            json!({}),
        )
        .await
        .ok()["indicators"]["nodes"][0]["id"]
        .clone();
    let series = "query($i: ID!) { outcomeSeries(indicators: [$i], from: \"2020-01-01\",
        to: \"2026-12-31\", interval: YEAR, groupBy: THEME) {
        series { key { label } total points { periodStart count sum } } } }";
    let variables = json!({"i": indicator});
    let search = "{ search(query: \"fietsherstel\") { totalCount nodes { title } } }";

    let computed = app.graphql(series, variables.clone()).await;
    let found = app.graphql(search, json!({})).await;
    let reused = app.graphql(series, variables.clone()).await;
    let found_again = app.graphql(search, json!({})).await;
    assert_eq!(reused.ok(), computed.ok(), "the same answer");
    assert_eq!(found_again.ok(), found.ok());
    // Computed: the change stamps, the series, the theme labels. Reused: the stamps and the
    // labels (resolved per request, in the request's language).
    assert_eq!((computed.statements, reused.statements), (3, 2));
    // Nothing is found: the search, then the look for misspelt words (the change stamps
    // first); reused, the stamps alone.
    assert_eq!(found.ok()["search"]["totalCount"], 0);
    assert_eq!((found.statements, found_again.statements), (3, 1));
    // Another language is another entry.
    let dutch = app
        .graphql_with(series, variables.clone(), &[("accept-language", "nl")])
        .await;
    assert_eq!(dutch.statements, 3);

    // A change to a table the series did not read leaves it kept.
    let key = app.editor_key("Sustainability", "Mechelen").await;
    let area = app
        .graphql(
            "query($m: ID!) { areas(first: 1, filter: {municipalities: [$m]}) { nodes { id version } } }",
            json!({"m": stroom_api::ids::NodeKind::Municipality
                .id(app.municipality_id("Mechelen").await).0}),
        )
        .await
        .ok()["areas"]["nodes"][0]
        .clone();
    let translated = app
        .graphql_as(
            &key,
            "mutation($id: ID!, $v: Int!) { addTranslation(input: {id: $id, version: $v,
               field: \"name\", locale: \"fr\", text: \"Quartier\"}) { userErrors { message } } }",
            json!({"id": area["id"], "v": area["version"]}),
        )
        .await;
    assert_eq!(translated.ok()["addTranslation"]["userErrors"], json!([]));
    let still = app.graphql(series, variables.clone()).await;
    assert_eq!(still.ok(), computed.ok());
    assert_eq!(
        still.statements, 2,
        "an area's name is not what the series read"
    );

    // A change to what each read makes it stale.
    let initiative = app.find_id("initiatives", "Repair caf").await;
    let recorded = app
        .graphql_as(
            &key,
            "mutation($input: RecordOutcomeInput!) { recordOutcome(input: $input) {
               userErrors { message } } }",
            json!({"input": {"indicator": indicator, "unit": "ITEMS", "value": "1000",
                "periodStart": "2026-01-01", "periodEnd": "2026-03-31", "initiative": initiative,
                "method": [{"locale": "en", "text": "Counted."}]}}),
        )
        .await;
    assert_eq!(recorded.ok()["recordOutcome"]["userErrors"], json!([]));
    let created = app
        .graphql_as(
            &key,
            "mutation($input: CreateInitiativeInput!) { createInitiative(input: $input) {
               userErrors { message } } }",
            json!({"input": {"municipality": stroom_api::ids::NodeKind::Municipality
                    .id(app.municipality_id("Mechelen").await).0,
                "name": [{"locale": "nl", "text": "Fietsherstelpunt Nekkerspoel"}],
                "initiatorKind": "CITIZENS", "stage": "PILOT", "businessModel": "VOLUNTEER",
                "affordability": "FREE"}}),
        )
        .await;
    assert_eq!(created.ok()["createInitiative"]["userErrors"], json!([]));

    let recomputed = app.graphql(series, variables).await;
    assert_eq!(recomputed.statements, 3, "computed again");
    let total = |reply: &Reply| -> f64 {
        reply.ok()["outcomeSeries"]["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["total"].as_str().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    // Grouped by theme, the outcome counts once in each theme of its initiative.
    let themes = app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Initiative { themes { totalCount } } } }",
            json!({"id": initiative}),
        )
        .await
        .ok()["node"]["themes"]["totalCount"]
        .as_f64()
        .unwrap();
    assert_eq!(total(&recomputed), total(&computed) + 1000.0 * themes);
    let found_now = app.graphql(search, json!({})).await;
    assert_eq!(
        found_now.ok()["search"]["totalCount"].as_i64().unwrap(),
        found.ok()["search"]["totalCount"].as_i64().unwrap() + 1
    );
}
