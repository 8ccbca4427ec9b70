//! The steps of a request (lists, loaders, writes, statistics) logged under the request's own
//! span: with `--log-spans`, every step's line carries the ID of the request it served, also
//! for steps that run in a task of their own (the loaders' batches) and when requests overlap.
use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

/// A step line of the text log: `… DEBUG request{request_id=ID …}:…:step{…}: target: close …`,
/// as (step, the request ID of its outermost span, if any).
fn step_line(line: &str) -> Option<(String, Option<String>)> {
    if !line.contains(": close time.busy=") {
        return None;
    }
    let (_, after_level) = line
        .split_once(" DEBUG ")
        .or_else(|| line.split_once(" INFO "))?;
    let (context, _) = after_level.split_once(": stroom_api::")?;
    let spans = split_spans(context.trim());
    let step = spans.last()?.split('{').next()?.to_string();
    let request = spans
        .first()?
        .strip_prefix("request{request_id=")
        .and_then(|r| r.split([' ', '}']).next())
        .map(str::to_string);
    Some((step, request))
}

/// `a{x=1 y="p:q"}:b{…}:c` into its spans, ignoring colons inside braces.
fn split_spans(context: &str) -> Vec<&str> {
    let (mut spans, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in context.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                spans.push(&context[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    spans.push(&context[start..]);
    spans
}

use crate::helpers::ServerProcess;

#[tokio::test]
async fn every_step_of_a_request_logs_under_its_request_id() {
    let log = tempfile::NamedTempFile::new().expect("test setup: a log file");
    let server = ServerProcess::start_with(
        true,
        &[],
        &[
            ("RUST_LOG", "warn,stroom_api=debug"),
            ("STROOM_LOG_SPANS", "true"),
            ("STROOM_LOG_FORMAT", "text"),
        ],
        log.reopen().expect("test setup: the log file").into(),
    )
    .await;
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["keys", "create", "--role", "admin", "--name", "tracer"])
        .args(["--database-url", &server.database_url()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("test setup: create a key");
    let stdout = String::from_utf8_lossy(&created.stdout);
    let key = stdout
        .lines()
        .last()
        .expect("the key's token")
        .trim()
        .to_string();

    let send = |id: &'static str, body: Value, authorized: bool| {
        let mut request = server
            .client
            .post(server.url("/graphql"))
            .header("x-request-id", id)
            .json(&body);
        if authorized {
            request = request.bearer_auth(&key);
        }
        async move {
            let reply: Value = request.send().await.unwrap().json().await.unwrap();
            assert!(reply.get("errors").is_none(), "{id}: {reply}");
        }
    };
    let nested = json!({"query": "{ initiatives(first: 5) { nodes { name themes(first: 3) { nodes { code } } partners(first: 2) { totalCount } } } }"});
    // Not the same request twice: the second would be answered from the first's kept answer.
    let nested_other = json!({"query": "{ initiatives(first: 4) { nodes { name themes(first: 3) { nodes { code } } partners(first: 2) { totalCount } } } }"});
    let stats = json!({"query": "{ needStats(groupBy: [THEME]) { groups { count } } }"});
    let write = json!({"query": "mutation { createTheme(input: {code: \"traced\", label: [{locale: \"en\", text: \"Traced\"}]}) { theme { id } userErrors { message } } }"});
    // Overlapping requests, so that a step logged under the wrong request would show.
    tokio::join!(
        send("trace-list-1", nested.clone(), false),
        send("trace-list-2", nested_other, false),
        send("trace-stats", stats, false),
        send("trace-write", write, true),
    );
    drop(server);

    let text = std::fs::read_to_string(log.path()).expect("the log");
    let mut steps: HashMap<String, HashSet<String>> = HashMap::new();
    for line in text.lines() {
        let Some((step, request)) = step_line(line) else {
            continue;
        };
        if step == "request" || step == "rebuild_with_progress" {
            continue; // the request itself; the search index built at start
        }
        let id = request.unwrap_or_else(|| panic!("a step outside any request: {line}"));
        assert!(
            id.starts_with("trace-"),
            "a step under an unknown request: {line}"
        );
        steps.entry(step).or_default().insert(id);
    }
    let expect = |step: &str, ids: &[&str]| {
        let seen = steps.get(step).cloned().unwrap_or_default();
        for id in ids {
            assert!(seen.contains(*id), "no `{step}` step under {id}: {steps:?}");
        }
    };
    let lists = ["trace-list-1", "trace-list-2"];
    expect(
        "authenticate",
        &["trace-list-1", "trace-stats", "trace-write"],
    );
    expect("list", &lists);
    expect("fetch_page", &lists);
    expect("load_child_pages", &lists);
    expect("fetch_partitioned", &lists);
    expect("load_child_counts", &lists);
    expect("run_groups", &["trace-stats"]);
    expect("run", &["trace-write"]);
    expect("write", &["trace-write"]);
    expect("commit", &["trace-write"]);
    expect("reindex", &["trace-write"]);
}

/// Operation names are the client's to choose: a flood of distinct ones adds no series beyond
/// the first few dozen names (the rest are counted as `other`).
#[tokio::test]
async fn a_flood_of_operation_names_keeps_the_metrics_bounded() {
    let app = crate::helpers::spawn_app().await;
    let labels = |text: &str| -> HashSet<String> {
        text.lines()
            .filter(|l| l.starts_with("stroom_graphql_requests_total{"))
            .filter_map(|l| l.split("operation=\"").nth(1))
            .filter_map(|l| l.split('"').next())
            .map(str::to_owned)
            .collect()
    };
    for round in 0..2 {
        use futures_util::StreamExt;
        futures_util::stream::iter(0..500)
            .map(|i| {
                let query =
                    format!("query Flood{round}x{i} {{ themes(first: 1) {{ totalCount }} }}");
                let app = &app;
                async move { app.graphql(&query, json!({})).await }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        // (The metrics page is the process's: other tests' servers add their own names.)
        let text = app.metrics_text().await;
        let flood: HashSet<String> = labels(&text)
            .into_iter()
            .filter(|l| l.starts_with("Flood"))
            .collect();
        assert!(
            flood.len() <= 64,
            "{} operation labels: {flood:?}",
            flood.len()
        );
        let series = text
            .lines()
            .filter(|l| l.starts_with("stroom_graphql_request") && l.contains("operation=\"Flood"))
            .count();
        assert!(series <= 64 * 17, "{series} series of GraphQL requests");
        assert!(
            text.contains("operation=\"other\""),
            "the rest count as other"
        );
    }
}

/// `/metrics` shows operation names, pool sizes and traffic: on the service's address it is
/// for admin keys; with an address of its own (`--metrics-listen`) it is served there only.
#[tokio::test]
async fn metrics_are_for_admin_keys_or_on_an_address_of_their_own() {
    let app = crate::helpers::spawn_configured(true, |serve| serve.metrics_listen = None).await;
    let get = |key: Option<String>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        request.send()
    };
    let anonymous = get(None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body = anonymous.text().await.unwrap();
    assert!(
        body.contains("admin key") && !body.contains("stroom_"),
        "{body}"
    );
    let unknown = get(Some("stroom_nonsense".into())).await.unwrap();
    assert_eq!(unknown.status(), 401);
    let partner = get(Some(app.partner_key().await)).await.unwrap();
    assert_eq!(partner.status(), 403);
    let editor = app.editor_key("Metrics editor", "Mechelen").await;
    assert_eq!(get(Some(editor)).await.unwrap().status(), 403);
    let admin = get(Some(app.admin_key().await)).await.unwrap();
    assert_eq!(admin.status(), 200);
    assert!(
        admin
            .text()
            .await
            .unwrap()
            .contains("stroom_db_statements_total")
    );

    // With an address of their own: there, without a key; not on the service's address.
    let app = crate::helpers::spawn_app().await;
    let elsewhere = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(elsewhere.status(), 404);
    assert!(elsewhere.text().await.unwrap().contains("--metrics-listen"));
    assert!(
        app.metrics_text()
            .await
            .contains("stroom_db_statements_total")
    );
    let address = app.metrics_address.clone().unwrap();
    let other = app
        .client
        .get(format!("{address}/graphql"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        404,
        "the metrics address serves the metrics only"
    );
}
