//! `Idempotency-Key` on mutations: a retry under the same key gets the first answer again and
//! changes nothing, whichever instance it reaches and however many arrive at once; the same key
//! with another request is refused; keys belong to the API key that sent them and last a day.
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::*;

const CREATE_THEME: &str = "mutation Create($code: String!) { createTheme(input: {code: $code, label: [{locale: \"en\", text: \"Repair\"}]}) { theme { id code } userErrors { code message } } }";

struct Answer {
    status: StatusCode,
    replayed: bool,
    retry_after: bool,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

async fn send(app: &TestApp, key: &str, idempotency_key: &str, body: &Value) -> Answer {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", ACCEPT)
        .bearer_auth(key)
        .header("idempotency-key", idempotency_key)
        .json(body)
        .send()
        .await
        .expect("the server answers");
    Answer {
        status: response.status(),
        replayed: response.headers().contains_key("idempotent-replayed"),
        retry_after: response.headers().contains_key("retry-after"),
        body: response.text().await.expect("a body"),
    }
}

fn create(code: &str) -> Value {
    json!({"query": CREATE_THEME, "operationName": "Create", "variables": {"code": code}})
}

async fn themes_with_code(app: &TestApp, code: &str) -> usize {
    app.all_nodes("themes", "code", json!({}))
        .await
        .iter()
        .filter(|t| t["code"] == code)
        .count()
}

async fn audit_entries(app: &TestApp) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM audit_entry",
        ))
        .await
        .expect("a count")
        .expect("a row");
    row.try_get("", "n").expect("n")
}

#[tokio::test]
async fn a_retried_mutation_is_carried_out_once_and_answered_the_same_on_every_instance() {
    let a = spawn_app().await;
    let b = spawn_instance(&a, None, |_| {}).await;
    let admin = a.admin_key().await;
    // Keys as the draft writes them (sf-strings) and as clients often send them (bare).
    for (n, idempotency_key) in [
        "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
        "retry-1",
        "01JBZ6X2V3Q8M7K5N4P3R2S1T0",
    ]
    .into_iter()
    .enumerate()
    {
        let code = format!("repair_{n}");
        let audit_before = audit_entries(&a).await;
        let first = send(&a, &admin, idempotency_key, &create(&code)).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert!(!first.replayed);
        assert!(first.json()["data"]["createTheme"]["theme"]["id"].is_string());
        for app in [&a, &b, &a] {
            let again = send(app, &admin, idempotency_key, &create(&code)).await;
            assert_eq!(again.status, StatusCode::OK);
            assert!(again.replayed, "a retry says it is a replay");
            assert_eq!(again.body, first.body, "the first answer, byte for byte");
        }
        assert_eq!(themes_with_code(&a, &code).await, 1, "one theme made");
        assert_eq!(
            audit_entries(&a).await,
            audit_before + 1,
            "one change audited"
        );
    }
}

#[tokio::test]
async fn a_key_used_for_another_request_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let first = send(&app, &admin, "k-1", &create("sharing")).await;
    assert_eq!(first.status, StatusCode::OK);
    let before = app.fingerprint().await;
    // Another variable, another document, another operation name, another mutation.
    let other_document = json!({"query": CREATE_THEME.replace("Repair", "Reuse"), "operationName": "Create", "variables": {"code": "sharing"}});
    let other_name = json!({"query": CREATE_THEME.replace("Create", "Make"), "operationName": "Make", "variables": {"code": "sharing"}});
    for body in [create("lending"), other_document, other_name] {
        let refused = send(&app, &admin, "k-1", &body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        let json = refused.json();
        assert_eq!(
            json["errors"][0]["extensions"]["code"],
            "IDEMPOTENCY_KEY_REUSED"
        );
        assert!(
            json["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("different request")
        );
    }
    assert_eq!(app.fingerprint().await, before, "nothing changed");
    // The first request still gets its answer.
    let again = send(&app, &admin, "k-1", &create("sharing")).await;
    assert_eq!(again.body, first.body);
}

#[tokio::test]
async fn concurrent_retries_make_one_change() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let body = create("swap_shop");
    let answers =
        futures_util::future::join_all((0..12).map(|_| send(&app, &admin, "burst", &body))).await;
    assert_eq!(themes_with_code(&app, "swap_shop").await, 1);
    let settled = send(&app, &admin, "burst", &body).await;
    assert_eq!(settled.status, StatusCode::OK);
    for answer in &answers {
        match answer.status {
            StatusCode::OK => assert_eq!(answer.body, settled.body),
            StatusCode::CONFLICT => {
                assert!(answer.retry_after, "a 409 says when to retry");
                assert_eq!(
                    answer.json()["errors"][0]["extensions"]["code"],
                    "IDEMPOTENCY_KEY_IN_USE"
                );
            }
            other => panic!("unexpected {other}: {}", answer.body),
        }
    }
}

#[tokio::test]
async fn keys_belong_to_the_api_key_that_sent_them_and_last_a_day() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let other_admin = app
        .key("Second admin", entity::enums::KeyRole::Admin, None)
        .await;
    let first = send(&app, &admin, "shared-name", &create("fix_cafe")).await;
    assert!(first.json()["data"]["createTheme"]["theme"]["id"].is_string());
    // Another API key with the same Idempotency-Key is another request: it runs (and is told
    // the code is taken).
    let other = send(&app, &other_admin, "shared-name", &create("fix_cafe")).await;
    assert!(!other.replayed);
    assert_ne!(other.body, first.body);

    // A day later the key is free again: the same request runs again.
    let backend = app.db.get_database_backend();
    let day_ago = chrono::Utc::now() - chrono::Duration::hours(25);
    let age = sea_orm::sea_query::Query::update()
        .table("idempotency_record")
        .value("created_at", day_ago)
        .to_owned();
    app.db
        .execute_raw(backend.build(&age))
        .await
        .expect("the records age");
    let later = send(&app, &admin, "shared-name", &create("fix_cafe")).await;
    assert!(!later.replayed);
    assert_eq!(
        later.json()["data"]["createTheme"]["userErrors"][0]["code"],
        "CONFLICT",
        "{}",
        later.body
    );
}

#[tokio::test]
async fn a_first_request_still_running_holds_its_key_until_it_is_abandoned() {
    let app = spawn_configured(false, |serve| serve.request_timeout_ms = 2_000).await;
    let admin = app.admin_key().await;
    // Take a key as a running request would, by answering one and then emptying its answer.
    let first = send(&app, &admin, "slow", &create("running")).await;
    assert_eq!(first.status, StatusCode::OK);
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_string(
            backend,
            "UPDATE idempotency_record SET status = NULL, body = NULL",
        ))
        .await
        .expect("the answer is emptied");
    let before = app.fingerprint().await;
    let waiting = send(&app, &admin, "slow", &create("running")).await;
    assert_eq!(waiting.status, StatusCode::CONFLICT, "{}", waiting.body);
    assert!(waiting.retry_after);
    assert_eq!(app.fingerprint().await, before);
    // After twice the request timeout the first request cannot still run: the key is freed
    // and the retry runs (the theme exists, so it is told the code is taken).
    tokio::time::sleep(std::time::Duration::from_millis(4_200)).await;
    let freed = send(&app, &admin, "slow", &create("running")).await;
    assert_eq!(freed.status, StatusCode::OK);
    assert!(!freed.replayed);
    assert_eq!(
        freed.json()["data"]["createTheme"]["userErrors"][0]["code"],
        "CONFLICT",
        "{}",
        freed.body
    );
}

#[tokio::test]
async fn malformed_keys_are_refused_before_anything_runs() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let before = app.fingerprint().await;
    for bad in ["\"\"", "two words", &"k".repeat(256), "caf\u{e9}"] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("accept", ACCEPT)
            .bearer_auth(&admin)
            .header("idempotency-key", bad.as_bytes())
            .json(&create("never"))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "{body}"
        );
    }
    assert_eq!(app.fingerprint().await, before, "nothing changed");
    // Queries are safe to repeat: a key on one is ignored.
    let query = json!({"query": "{ themes { totalCount } }"});
    let answer = send(&app, &admin, "q", &query).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(!answer.replayed);
}
