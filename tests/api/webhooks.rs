//! Webhooks: endpoints for admins only, on public addresses only (unless allowed); every
//! change of a subscribed type delivered, signed per Standard Webhooks, retried with the same
//! `webhook-id` until the receiver takes it; secrets rotated without a gap; an endpoint that
//! never answers is disabled and recovers; two instances never deliver one message twice.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, spawn_app, spawn_configured, spawn_instance};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    answered: u16,
}

/// Decides the answer to each request, given how many came before.
type Plan = Box<dyn Fn(usize, &Delivery) -> (u16, Duration) + Send + Sync>;

/// A webhook receiver on a free local port that logs what it gets and answers by its plan.
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Delivery>>>,
    plan: Arc<Mutex<Plan>>,
}

impl Receiver {
    async fn start(plan: Plan) -> Self {
        let log = Arc::new(Mutex::new(Vec::<Delivery>::new()));
        let plan = Arc::new(Mutex::new(plan));
        let (handler_log, handler_plan) = (log.clone(), plan.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (log, plan) = (handler_log.clone(), handler_plan.clone());
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let mut delivery = Delivery {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body,
                        answered: 0,
                    };
                    let count = log.lock().unwrap().len();
                    let (status, delay) = (plan.lock().unwrap())(count, &delivery);
                    delivery.answered = status;
                    log.lock().unwrap().push(delivery);
                    tokio::time::sleep(delay).await;
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, log, plan }
    }

    fn always(status: u16) -> Plan {
        Box::new(move |_, _| (status, Duration::ZERO))
    }

    fn set_plan(&self, plan: Plan) {
        *self.plan.lock().unwrap() = plan;
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received (at most 30 seconds).
    async fn wait_for(&self, what: &str, done: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        for _ in 0..600 {
            let deliveries = self.deliveries();
            if done(&deliveries) {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}: {:#?}", self.deliveries());
    }
}

/// HMAC-SHA256, written out from its definition (RFC 2104), to check the service's
/// signatures independently of the library that makes them.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Whether one of the delivery's signatures is the secret's (Standard Webhooks, v1).
fn signed_by(delivery: &Delivery, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("a base64 secret");
    let signed = format!("{}.{}.{}", delivery.id, delivery.timestamp, delivery.body);
    let expected = format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, signed.as_bytes()))
    );
    delivery.signature.split(' ').any(|s| s == expected)
}

/// A server that delivers webhooks to local receivers, retrying after `retry_base_ms`.
async fn webhook_app(retry_base_ms: u64) -> TestApp {
    spawn_configured(true, |serve| {
        serve.webhooks_allow_internal = true;
        serve.webhook_retry_base_ms = retry_base_ms;
        serve.webhook_poll_ms = 50;
        serve.webhook_timeout_secs = 2;
    })
    .await
}

const CREATE: &str = r#"mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { webhookEndpoint { id version secretPrefix eventTypes enabled } secret userErrors { field message code } } }"#;

/// Registers an endpoint; returns its ID and secret.
async fn register(app: &TestApp, admin: &str, url: &str, types: Value) -> (String, String) {
    let reply = app
        .graphql_as(
            admin,
            CREATE,
            json!({"input": {"url": url, "eventTypes": types, "description": "test receiver"}}),
        )
        .await;
    let payload = &reply.ok()["createWebhookEndpoint"];
    assert_eq!(payload["userErrors"], json!([]), "{}", reply.body);
    (
        payload["webhookEndpoint"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        payload["secret"].as_str().unwrap().to_owned(),
    )
}

async fn create_theme(app: &TestApp, admin: &str, code: &str) {
    let reply = app
        .graphql_as(admin, r#"mutation($c: String!) { createTheme(input: {code: $c, label: [{locale: "en", text: $c}]}) { userErrors { message } } }"#, json!({"c": code}))
        .await;
    assert_eq!(reply.ok()["createTheme"]["userErrors"], json!([]));
}

fn body(delivery: &Delivery) -> Value {
    serde_json::from_str(&delivery.body).expect("a JSON body")
}

#[tokio::test]
async fn endpoints_are_for_admins_and_go_to_public_addresses_only() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let input = json!({"input": {"url": "https://hooks.example.org/stroom"}});
    let anonymous = app.graphql(CREATE, input.clone()).await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    for key in [
        app.partner_key().await,
        app.editor_key("Editor", "Mechelen").await,
    ] {
        let reply = app.graphql_as(&key, CREATE, input.clone()).await;
        assert_eq!(reply.code(), "FORBIDDEN", "{}", reply.body);
    }
    let list = app
        .graphql("{ webhookEndpoints { nodes { id } } }", json!({}))
        .await;
    assert_eq!(list.code(), "UNAUTHENTICATED");

    // Internal addresses of every kind are refused (SSRF), as are other schemes and names
    // that do not resolve; nothing is stored.
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://[::ffff:192.168.1.1]/hook",
        "ftp://example.org/hook",
        "https://user:secret@example.org/hook",
        "https://nowhere.invalid/hook",
        "not a url",
    ] {
        let reply = app
            .graphql_as(&admin, CREATE, json!({"input": {"url": url}}))
            .await;
        let errors = &reply.ok()["createWebhookEndpoint"]["userErrors"];
        assert_eq!(
            errors[0]["field"],
            json!(["input", "url"]),
            "{url}: {}",
            reply.body
        );
        assert!(!errors[0]["message"].as_str().unwrap().is_empty());
    }
    let reply = app
        .graphql_as(
            &admin,
            CREATE,
            json!({"input": {"url": "http://127.0.0.1/h", "eventTypes": ["initiative.deleted"]}}),
        )
        .await;
    let fields: Vec<Value> = reply.ok()["createWebhookEndpoint"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert!(
        fields.contains(&json!(["input", "eventTypes"])),
        "{fields:?}"
    );
    let listed = app
        .graphql_as(&admin, "{ webhookEndpoints { totalCount } }", json!({}))
        .await;
    assert_eq!(listed.ok()["webhookEndpoints"]["totalCount"], 0);
}

#[tokio::test]
async fn changes_are_delivered_signed_and_retried_with_the_same_id() {
    let app = webhook_app(20).await;
    let admin = app.admin_key().await;
    // Each message's first two attempts fail; the third is taken.
    let tries = Mutex::new(HashMap::<String, usize>::new());
    let receiver = Receiver::start(Box::new(move |_, delivery| {
        let mut tries = tries.lock().unwrap();
        let n = tries.entry(delivery.id.clone()).or_default();
        *n += 1;
        (if *n <= 2 { 500 } else { 204 }, Duration::ZERO)
    }))
    .await;
    let (endpoint, secret) = register(&app, &admin, &receiver.url, json!(["theme.*"])).await;
    assert!(secret.starts_with("whsec_"));

    for code in ["hook_a", "hook_b", "hook_c"] {
        create_theme(&app, &admin, code).await;
    }
    // A change of a type the endpoint did not ask for.
    let initiative = app.find_id("initiatives", "Klusbib").await;
    let version = app
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Initiative { version } } }"#,
            json!({"id": initiative}),
        )
        .await
        .ok()["node"]["version"]
        .clone();
    let reply = app
        .graphql_as(&admin, r#"mutation($id: ID!, $v: Int!) { updateInitiative(input: {id: $id, version: $v, website: "https://klusbib.example"}) { userErrors { message } } }"#, json!({"id": initiative, "v": version}))
        .await;
    assert_eq!(reply.ok()["updateInitiative"]["userErrors"], json!([]));

    let deliveries = receiver
        .wait_for("three themes delivered", |d| {
            d.iter().filter(|d| d.answered == 204).count() == 3
        })
        .await;
    for delivery in &deliveries {
        assert!(signed_by(delivery, &secret), "{delivery:?}");
        let age = chrono::Utc::now().timestamp() - delivery.timestamp.parse::<i64>().unwrap();
        assert!((0..60).contains(&age), "a current timestamp");
        let payload = body(delivery);
        assert_eq!(payload["type"], "theme.created");
        assert_eq!(payload["data"]["objectType"], "Theme");
        assert_eq!(payload["data"]["operation"], "created");
    }
    // Every message was retried under its own ID until it was taken, and taken once.
    let mut per_id: HashMap<&str, Vec<u16>> = HashMap::new();
    for delivery in &deliveries {
        per_id
            .entry(&delivery.id)
            .or_default()
            .push(delivery.answered);
    }
    assert_eq!(per_id.len(), 3, "{per_id:?}");
    assert!(
        per_id.values().all(|answers| answers == &[500, 500, 204]),
        "{per_id:?}"
    );

    // The endpoint's log, as admins read it.
    let reply = app
        .graphql_as(&admin, r#"query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { failingSince messages(first: 10) { nodes { webhookId eventType status attempts deliveredAt lastResponseStatus event { objectType } attemptLog { nodes { responseStatus } } } } } } }"#, json!({"id": endpoint}))
        .await;
    let messages = reply.ok()["node"]["messages"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(messages.len(), 3);
    assert!(
        messages
            .iter()
            .all(|m| m["status"] == "DELIVERED" && m["lastResponseStatus"] == 204)
    );
    let first = messages.last().unwrap();
    assert_eq!(first["attempts"], 3);
    assert_eq!(
        first["attemptLog"]["nodes"],
        json!([{"responseStatus": 204}, {"responseStatus": 500}, {"responseStatus": 500}])
    );
    assert_eq!(first["event"]["objectType"], "Theme");
    assert_eq!(reply.ok()["node"]["failingSince"], Value::Null);

    // The audit trail and the change feed never show the secret.
    let audit = app
        .graphql_as(&admin, r#"{ auditEntries(filter: {mutations: ["createWebhookEndpoint"]}) { nodes { changes { field after } } } }"#, json!({}))
        .await;
    let text = audit.body.to_string();
    assert!(
        !text.contains(&secret[6..]),
        "the secret leaked into the audit trail"
    );
    assert!(text.contains("(secret)"));
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one() {
    let app = webhook_app(20).await;
    let admin = app.admin_key().await;
    let receiver = Receiver::start(Receiver::always(200)).await;
    let (endpoint, old) = register(&app, &admin, &receiver.url, json!([])).await;
    let reply = app
        .graphql_as(&admin, r#"mutation($id: ID!) { rotateWebhookSecret(input: {id: $id, version: 1}) { secret webhookEndpoint { previousSecretExpiresAt } userErrors { message } } }"#, json!({"id": endpoint}))
        .await;
    let payload = &reply.ok()["rotateWebhookSecret"];
    let new = payload["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(payload["webhookEndpoint"]["previousSecretExpiresAt"].is_string());
    create_theme(&app, &admin, "rotated").await;
    let deliveries = receiver
        .wait_for("a delivery after the rotation", |d| {
            d.iter().any(|d| body(d)["type"] == "theme.created")
        })
        .await;
    let delivery = deliveries
        .iter()
        .find(|d| body(d)["type"] == "theme.created")
        .unwrap();
    assert_eq!(delivery.signature.split(' ').count(), 2);
    assert!(signed_by(delivery, &new) && signed_by(delivery, &old));
}

/// An endpoint's and a message's state, as `{e: {…}, m: {…}}`.
async fn endpoint_state(app: &TestApp, admin: &str, endpoint: &str, message: &str) -> Value {
    app.graphql_as(admin, r#"query($e: ID!, $m: ID!) { e: node(id: $e) { ... on WebhookEndpoint { enabled disabledReason version } } m: node(id: $m) { ... on WebhookMessage { status attempts } } }"#, json!({"e": endpoint, "m": message}))
        .await
        .ok()
        .clone()
}

#[tokio::test]
async fn an_endpoint_failing_through_every_retry_is_disabled_then_recovers() {
    // Retries at once: the whole schedule runs in moments.
    let app = webhook_app(0).await;
    let admin = app.admin_key().await;
    let receiver = Receiver::start(Receiver::always(503)).await;
    let (endpoint, secret) = register(&app, &admin, &receiver.url, json!(["theme.created"])).await;
    let reply = app
        .graphql_as(&admin, r#"mutation($e: ID!) { sendTestWebhook(input: {endpoint: $e}) { webhookMessage { id eventType status } userErrors { message } } }"#, json!({"e": endpoint}))
        .await;
    let message = reply.ok()["sendTestWebhook"]["webhookMessage"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.wait_for("every attempt", |d| d.len() >= 9).await;
    let mut seen = Value::Null;
    // The endpoint and the message are two statements, not one snapshot: wait until both
    // show the last attempt's commit.
    for _ in 0..100 {
        seen = endpoint_state(&app, &admin, &endpoint, &message).await;
        if seen["e"]["enabled"] == false && seen["m"]["status"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen["m"]["status"], "FAILED", "{seen}");
    assert_eq!(seen["m"]["attempts"], 9);
    assert_eq!(seen["e"]["enabled"], false, "{seen}");
    let reason = seen["e"]["disabledReason"].as_str().unwrap();
    assert!(reason.contains("503"), "{reason}");
    assert_eq!(receiver.deliveries().len(), 9, "no attempt after the last");
    assert!(receiver.deliveries().iter().all(|d| signed_by(d, &secret)));

    // The receiver is fixed; the endpoint is enabled and the message redelivered.
    receiver.set_plan(Receiver::always(200));
    let version = seen["e"]["version"].as_i64().unwrap();
    let reply = app
        .graphql_as(&admin, r#"mutation($e: ID!, $v: Int!) { updateWebhookEndpoint(input: {id: $e, version: $v, enabled: true}) { webhookEndpoint { enabled disabledReason } userErrors { message } } }"#, json!({"e": endpoint, "v": version}))
        .await;
    assert_eq!(
        reply.ok()["updateWebhookEndpoint"]["webhookEndpoint"],
        json!({"enabled": true, "disabledReason": null})
    );
    let reply = app
        .graphql_as(&admin, r#"mutation($m: ID!) { redeliverWebhookMessage(input: {id: $m}) { webhookMessage { status attempts } userErrors { message } } }"#, json!({"m": message}))
        .await;
    assert_eq!(
        reply.ok()["redeliverWebhookMessage"]["webhookMessage"],
        json!({"status": "PENDING", "attempts": 0})
    );
    receiver
        .wait_for("the redelivery", |d| d.iter().any(|d| d.answered == 200))
        .await;
    for _ in 0..100 {
        seen = endpoint_state(&app, &admin, &endpoint, &message).await;
        if seen["m"]["status"] == "DELIVERED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen["m"]["status"], "DELIVERED");
}

#[tokio::test]
async fn two_instances_never_deliver_the_same_message_twice() {
    let app = webhook_app(20).await;
    let other = spawn_instance(&app, None, |serve| {
        serve.webhooks_allow_internal = true;
        serve.webhook_retry_base_ms = 20;
        serve.webhook_poll_ms = 50;
        serve.webhook_timeout_secs = 2;
    })
    .await;
    let admin = app.admin_key().await;
    let receiver = Receiver::start(Box::new(|_, _| (200, Duration::from_millis(30)))).await;
    register(&app, &admin, &receiver.url, json!(["theme.created"])).await;
    const CHANGES: usize = 24;
    futures_util::future::join_all((0..CHANGES).map(|i| {
        let (target, admin) = (if i % 2 == 0 { &app } else { &other }, admin.clone());
        async move { create_theme(target, &admin, &format!("twice_{i}")).await }
    }))
    .await;
    receiver
        .wait_for("every change", |d| {
            d.iter()
                .map(|d| d.id.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len()
                == CHANGES
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for delivery in receiver.deliveries() {
        *per_id.entry(delivery.id).or_default() += 1;
    }
    assert_eq!(per_id.len(), CHANGES);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
    drop(other);
}

/// A message whose lease ran out (its instance died mid-delivery) goes again under the same
/// ID; one whose lease still runs (another instance is delivering it) is left alone.
#[tokio::test]
async fn a_lease_that_ran_out_is_delivered_again_and_a_live_one_is_not() {
    use sea_orm::ConnectionTrait;
    let app = webhook_app(20).await;
    let admin = app.admin_key().await;
    let receiver = Receiver::start(Receiver::always(204)).await;
    register(&app, &admin, &receiver.url, json!(["theme.created"])).await;
    create_theme(&app, &admin, "leased_a").await;
    create_theme(&app, &admin, "leased_b").await;
    let first = receiver.wait_for("both changes", |d| d.len() == 2).await;
    let backend = app.db.get_database_backend();
    // The receiver answers before the deliverer records the delivery: wait for that record,
    // or it would overwrite the state set below.
    for _ in 0..600 {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                "SELECT COUNT(*) AS n FROM webhook_message WHERE status = 'delivered'",
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // As a dead instance and a live one would leave them: both pending, claimed, unanswered.
    let past = chrono::Utc::now() - chrono::Duration::seconds(5);
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    for (id, lease) in [(1, past), (2, future)] {
        let placeholders = match backend {
            sea_orm::DbBackend::Postgres => ("$1", "$2"),
            _ => ("?1", "?2"),
        };
        app.db
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE webhook_message SET status = 'pending', delivered_at = NULL, \
                     lease_until = {} WHERE id = {}",
                    placeholders.0, placeholders.1
                ),
                [lease.into(), sea_orm::Value::BigInt(Some(id))],
            ))
            .await
            .unwrap();
    }
    let again = receiver
        .wait_for("the message whose lease ran out", |d| d.len() == 3)
        .await;
    // The message whose lease ran out (row 1) goes again under the id it was first sent with.
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT uid FROM webhook_message WHERE id = 1",
        ))
        .await
        .unwrap()
        .unwrap();
    let uid: String = row.try_get("", "uid").unwrap();
    assert!(
        first.iter().any(|d| d.id == uid),
        "{uid} was not sent first"
    );
    assert_eq!(again[2].id, uid);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        receiver.deliveries().len(),
        3,
        "a message under a live lease was taken"
    );
}

/// Endpoints stored while internal addresses were allowed, in every form an address takes,
/// get nothing from a server that does not allow them: each attempt is refused before any
/// connection, with the reason in the message's last error.
#[tokio::test]
async fn deliveries_check_every_form_of_address_under_the_servers_setting_now() {
    // Registered where internal addresses are allowed (and nothing is delivered)…
    let app = spawn_configured(true, |serve| {
        serve.webhooks_allow_internal = true;
        serve.webhooks_deliver = false;
    })
    .await;
    // …delivered by an instance that does not allow them.
    let deliverer = spawn_instance(&app, None, |serve| {
        serve.webhooks_allow_internal = false;
        serve.webhook_poll_ms = 50;
        serve.webhook_retry_base_ms = 60_000;
        serve.webhook_timeout_secs = 2;
    })
    .await;
    let admin = app.admin_key().await;
    let receiver = Receiver::start(Receiver::always(200)).await;
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let forms = [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://[::ffff:7f00:1]:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
        format!("http://0x7f.1:{port}/hook"),
        format!("http://127.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
    ];
    let mut endpoints = Vec::new();
    for url in &forms {
        let (id, _) = register(&app, &admin, url, json!(["theme.created"])).await;
        endpoints.push((url.clone(), id));
    }
    create_theme(&app, &admin, "no_inside_delivery").await;
    for (url, endpoint) in &endpoints {
        let mut last = Value::Null;
        for _ in 0..200 {
            last = admin_messages(&deliverer, &admin, endpoint).await;
            if last["attempts"].as_i64().unwrap_or(0) >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(last["attempts"], 1, "{url}: {last}");
        assert_ne!(last["status"], "DELIVERED", "{url}: {last}");
        let error = last["lastError"].as_str().unwrap_or_default();
        assert!(error.contains("internal"), "{url}: {last}");
    }
    assert!(
        receiver.deliveries().is_empty(),
        "an internal address was delivered to: {:?}",
        receiver.deliveries()
    );
    drop(deliverer);
}

/// The first message of an endpoint, as an admin sees it.
async fn admin_messages(app: &TestApp, admin: &str, endpoint: &str) -> Value {
    app.graphql_as(
        admin,
        r#"query($e: ID!) { node(id: $e) { ... on WebhookEndpoint { messages(first: 1) { nodes { status attempts lastError } } } } }"#,
        json!({"e": endpoint}),
    )
    .await
    .ok()["node"]["messages"]["nodes"][0]
        .clone()
}

/// An endpoint acts for the admin key that registered it: revoked, expired or no longer an
/// admin's, the key's endpoints get nothing more, on every instance, and say why.
#[tokio::test]
async fn an_endpoint_stops_when_the_key_that_registered_it_stops_admitting() {
    use entity::enums::KeyRole;
    use sea_orm::{ConnectionTrait, Statement};
    let app = webhook_app(60_000).await;
    let other = spawn_instance(&app, None, |serve| {
        serve.webhooks_allow_internal = true;
        serve.webhook_poll_ms = 50;
    })
    .await;
    let writer = app.admin_key().await;
    let backend = app.db.get_database_backend();
    for (case, loss) in ["revoked", "expired", "demoted"].into_iter().enumerate() {
        let expires =
            (loss == "expired").then(|| chrono::Utc::now() + chrono::Duration::seconds(2));
        let (key, token) = stroom_api::api_key::create_key(
            &app.db,
            &format!("Hook admin {case}"),
            KeyRole::Admin,
            None,
            expires,
        )
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
        let receiver = Receiver::start(Receiver::always(200)).await;
        let (endpoint, _) = register(&app, &token, &receiver.url, json!(["theme.created"])).await;
        create_theme(&app, &writer, &format!("hook_before_{case}")).await;
        receiver
            .wait_for("the change before", |d| d.len() == 1)
            .await;
        match loss {
            "revoked" => {
                stroom_api::api_key::revoke_key(&app.db, key.id)
                    .await
                    .unwrap_or_else(|e| panic!("{}", e.message));
            }
            "expired" => {
                let left = expires.unwrap() - chrono::Utc::now();
                tokio::time::sleep(left.to_std().unwrap_or_default()).await;
            }
            _ => {
                app.db
                    .execute_raw(Statement::from_string(
                        backend,
                        format!("UPDATE api_key SET role = 'partner' WHERE id = {}", key.id),
                    ))
                    .await
                    .unwrap();
            }
        }
        // Made through the other instance, right after the loss.
        create_theme(&other, &writer, &format!("hook_after_{case}")).await;
        let mut state = Value::Null;
        for _ in 0..100 {
            state = app
                .graphql_as(&writer, r#"query($e: ID!) { node(id: $e) { ... on WebhookEndpoint { enabled disabledReason } } }"#, json!({"e": endpoint}))
                .await
                .ok()["node"]
                .clone();
            if state["enabled"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(state["enabled"], false, "{loss}: {state}");
        let reason = state["disabledReason"].as_str().unwrap_or_default();
        let expected = match loss {
            "revoked" => "was revoked",
            "expired" => "has expired",
            _ => "no longer an admin key",
        };
        assert!(reason.contains(expected), "{loss}: {reason}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let bodies: Vec<String> = receiver
            .deliveries()
            .iter()
            .map(|d| d.body.clone())
            .collect();
        assert_eq!(
            bodies.len(),
            1,
            "{loss}: delivered after the loss: {bodies:?}"
        );
    }
    drop(other);
}

/// Two deployments (two databases) sending to one receiver: every message has an id of its own,
/// though both number their messages from 1, and the id has 128 random bits.
#[tokio::test]
async fn two_deployments_never_send_two_messages_under_one_id() {
    let receiver = Receiver::start(Box::new(|_, _| (200, Duration::from_millis(0)))).await;
    let mut sent = 0;
    for deployment in 0..2 {
        let app = webhook_app(20).await;
        let admin = app.admin_key().await;
        register(&app, &admin, &receiver.url, json!(["theme.created"])).await;
        for i in 0..5 {
            create_theme(&app, &admin, &format!("deployment_{deployment}_{i}")).await;
        }
        sent += 5;
        receiver
            .wait_for("this deployment's changes", |d| d.len() == sent)
            .await;
    }
    let ids: Vec<String> = receiver.deliveries().iter().map(|d| d.id.clone()).collect();
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "ids shared across deployments: {ids:?}"
    );
    for id in &ids {
        let hex = id.strip_prefix("msg_").unwrap_or_default();
        assert!(
            hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
    }
}
