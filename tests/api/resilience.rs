//! Operating the service: graceful shutdown, a database outage and recovery, several
//! instances sharing Redis, health, readiness and metrics.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::helpers::{TestApp, postgres_url, spawn_app, spawn_configured, spawn_instance};

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_and_takes_no_new_ones() {
    let mut app = spawn_app().await;
    let body = json!({"query": "{ themes { totalCount } }"}).to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", app.port())).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // SIGTERM arrives while the request is half sent.
    app.shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = TcpStream::connect(("127.0.0.1", app.port())).await;
    assert!(
        refused.is_err(),
        "no new connections after the shutdown signal"
    );

    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"totalCount\":19"), "{response}");
    tokio::time::timeout(Duration::from_secs(10), app.stopped())
        .await
        .expect("the server stops");
}

/// A TCP proxy between the server and PostgreSQL that a test can cut and restore.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    _accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (cut, links) = (cut.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let target = target.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().await.push(link);
                }
            })
        };
        Self {
            port,
            cut,
            links,
            _accept: accept,
        }
    }

    /// The database goes away: open connections break, new ones are refused.
    async fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_database_outage_fails_fast_and_the_service_recovers_by_itself() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: the outage test needs PostgreSQL (set TEST_DATABASE_URL)");
        return;
    };
    let app = spawn_app().await;
    let target = {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
        let host_port = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
        let host_port = host_port.split('/').next().unwrap_or("127.0.0.1:5432");
        let (host, port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
        (host.to_owned(), port.parse::<u16>().unwrap_or(5432))
    };
    let proxy = Proxy::start(target).await;
    let via_proxy = {
        let own = app.database_url();
        let (scheme_user, rest) = own.rsplit_once('@').unwrap();
        let database = rest.split_once('/').map(|(_, d)| d).unwrap();
        format!("{scheme_user}@127.0.0.1:{}/{database}", proxy.port)
    };
    let server = spawn_instance(&app, Some(via_proxy), |_| {}).await;
    let query = "{ initiatives { totalCount } }";
    assert_eq!(
        server.graphql(query, json!({})).await.ok()["initiatives"]["totalCount"],
        13
    );

    proxy.cut().await;
    // The first requests wait for the pool to give up on the database…
    let first: Vec<_> =
        futures_util::future::join_all((0..3).map(|_| server.graphql(query, json!({})))).await;
    for reply in &first {
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.code(), "SERVICE_UNAVAILABLE");
        assert!(
            !reply.body.to_string().contains("Connection"),
            "no driver errors reach the client"
        );
    }
    // … after which everyone gets a 503 at once, without waiting out the pool's timeout.
    let started = Instant::now();
    for _ in 0..20 {
        let reply = server.graphql(query, json!({})).await;
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.code(), "SERVICE_UNAVAILABLE");
        assert!(reply.message().contains("for a moment"), "{}", reply.body);
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "twenty refusals took {:?}",
        started.elapsed()
    );
    // Introspection needs no database.
    server
        .graphql("{ __schema { queryType { name } } }", json!({}))
        .await
        .ok();
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let alive = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200, "the process itself is fine");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = server.graphql(query, json!({})).await;
        if reply.status == 200 {
            assert_eq!(reply.ok()["initiatives"]["totalCount"], 13);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not recover: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        server
            .client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Redis for the multi-instance tests: `TEST_REDIS_URL`, else the machine's usual one if it answers.
async fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url.as_str()).ok()?;
    let mut connection = tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()?;
    let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut connection).await;
    pong.ok().map(|_| url)
}

#[tokio::test]
async fn two_instances_share_rate_limits_and_persisted_queries_through_redis() {
    let Some(redis) = redis_url().await else {
        eprintln!("skipped: no Redis answers (set TEST_REDIS_URL)");
        return;
    };
    let prefix = format!(
        "stroom-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let configure = |s: &mut stroom_api::config::ServeArgs| {
        s.redis_url = Some(redis.clone());
        s.redis_prefix = prefix.clone();
        s.rate_limit_points = 6;
    };
    let first = spawn_configured(true, configure).await;
    let second = spawn_instance(&first, None, configure).await;
    let key = first.partner_key().await;
    let query = "{ themes { totalCount } }";
    for _ in 0..3 {
        first.graphql_as(&key, query, json!({})).await.ok();
        second.graphql_as(&key, query, json!({})).await.ok();
    }
    // Six points spent across the two instances: the seventh request is refused by either.
    assert_eq!(first.graphql_as(&key, query, json!({})).await.status, 429);
    assert_eq!(second.graphql_as(&key, query, json!({})).await.status, 429);

    // A query persisted through one instance is served by hash by the other.
    let persisted = "{ areas { totalCount } }";
    let hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(persisted.as_bytes()))
    };
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}}).to_string();
    let stored = first
        .client
        .get(first.url("/graphql"))
        .query(&[("query", persisted), ("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    let served = second
        .client
        .get(second.url("/graphql"))
        .query(&[("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(TestApp::reply(served).await.ok()["areas"]["totalCount"], 4);
}

#[tokio::test]
async fn metrics_show_latency_per_operation_errors_and_the_pool() {
    let app = spawn_app().await;
    app.graphql(
        "query DashboardInitiatives { initiatives { totalCount } }",
        json!({}),
    )
    .await
    .ok();
    app.graphql("{ node(id: \"bad\") { id } }", json!({})).await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .contains("stroom_graphql_request_seconds_bucket{operation=\"DashboardInitiatives\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("stroom_graphql_errors_total{code=\"BAD_USER_INPUT\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("stroom_db_pool_connections{state=\"idle\"}"));
    assert!(metrics.contains("stroom_db_statement_seconds"));
}

#[test]
fn logs_can_be_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("log.db").display());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["migrate", "--database-url", &url, "--log-format", "json"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains("migrations applied"))
        .expect("a log line");
    let parsed: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    assert_eq!(parsed["level"], "INFO");
}

#[tokio::test]
async fn shutdown_ends_the_process_by_the_grace_deadline_and_loses_nothing() {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let mut server =
        crate::helpers::ServerProcess::start(true, &["--shutdown-grace-secs", "1"]).await;
    let db = Database::connect(server.database_url()).await.unwrap();
    let key =
        stroom_api::api_key::create_key(&db, "Admin", entity::enums::KeyRole::Admin, None, None)
            .await
            .unwrap_or_else(|e| panic!("{}", e.message))
            .1;
    let themes_before = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM theme",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    // Another client holds the theme table, so the server's write waits on the database.
    let hold = db.begin().await.unwrap();
    let lock = if postgres_url().is_some() {
        "LOCK TABLE theme IN ACCESS EXCLUSIVE MODE"
    } else {
        "UPDATE theme SET version = version WHERE id = (SELECT MIN(id) FROM theme)"
    };
    hold.execute_unprepared(lock).await.unwrap();
    let request = {
        let client = server.client.clone();
        let url = server.url("/graphql");
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"query": "mutation { createTheme(input: {code: \"blocked\", label: [{locale: \"en\", text: \"Blocked\"}]}) { theme { id } userErrors { message } } }"}))
                .timeout(Duration::from_secs(30))
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    server.terminate();
    let status = server
        .exited_within(Duration::from_secs(5))
        .await
        .expect("the process ends soon after its grace period, though a request is blocked");
    assert!(status.success(), "{status:?}");
    assert!(stopping.elapsed() >= Duration::from_millis(900));
    assert!(
        request.await.unwrap().is_err(),
        "the cut-off request gets no answer"
    );
    hold.rollback().await.unwrap();
    let themes_after = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM theme",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(
        themes_before, themes_after,
        "the cut-off write left nothing behind"
    );
}

#[tokio::test]
async fn connections_terminated_by_the_database_give_503s_never_internal_errors() {
    use sea_orm::{ConnectionTrait, Database};
    if postgres_url().is_none() {
        eprintln!("skipped: terminating connections needs PostgreSQL (set TEST_DATABASE_URL)");
        return;
    }
    let app = spawn_app().await;
    let key = app.partner_key().await;
    let admin = Database::connect(app.database_url()).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // An administrator (or a failover) keeps terminating the service's connections.
    let terminator = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut rounds = 0;
            while !stop.load(Ordering::SeqCst) {
                admin
                    .execute_unprepared(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    )
                    .await
                    .ok();
                rounds += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            rounds
        })
    };
    let queries = [
        "{ initiatives(first: 5) { totalCount nodes { name themes { nodes { code } } } } }",
        "{ needStats(groupBy: [AREA]) { total } }",
        "{ learnings { totalCount } }",
    ];
    let mut statuses = std::collections::BTreeMap::new();
    let load_until = Instant::now() + Duration::from_secs(3);
    let mut round = 0;
    while Instant::now() < load_until {
        round += 1;
        let replies = futures_util::future::join_all(queries.iter().map(|q| async {
            if round % 2 == 0 {
                app.graphql(q, json!({})).await
            } else {
                app.graphql_as(&key, q, json!({})).await
            }
        }))
        .await;
        for reply in replies {
            assert!(
                reply.status == 200 || reply.status == 503,
                "{} {}",
                reply.status,
                reply.body
            );
            if let Some(errors) = reply.body["errors"].as_array() {
                for error in errors {
                    assert_eq!(
                        error["extensions"]["code"], "SERVICE_UNAVAILABLE",
                        "{}",
                        reply.body
                    );
                }
            }
            *statuses.entry(reply.status.as_u16()).or_insert(0) += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let rounds = terminator.await.unwrap();
    assert!(
        rounds >= 10,
        "the connections were terminated {rounds} times"
    );
    // Afterwards every request is served again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = app.graphql(queries[0], json!({})).await;
        if reply.status == 200 && reply.body.get("errors").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("statuses while terminating: {statuses:?}");
}

/// Redis's address in a `redis://host:port` URL.
fn redis_target(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let host_port = rest.split('/').next().unwrap_or("127.0.0.1:6379");
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "6379"));
    (host.to_owned(), port.parse().unwrap_or(6379))
}

fn redis_prefix() -> String {
    format!(
        "stroom-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn without_redis_an_instance_starts_serves_and_limits_on_its_own_then_rejoins() {
    let Some(redis) = redis_url().await else {
        eprintln!("skipped: no Redis answers (set TEST_REDIS_URL)");
        return;
    };
    // Redis will live behind a proxy that is down when the instances start.
    let proxy = Proxy::start(redis_target(&redis)).await;
    proxy.cut().await;
    let via_proxy = format!("redis://127.0.0.1:{}", proxy.port);
    let prefix = redis_prefix();
    let configure = |s: &mut stroom_api::config::ServeArgs| {
        s.redis_url = Some(via_proxy.clone());
        s.redis_prefix = prefix.clone();
        s.rate_limit_points = 4;
    };
    let first = spawn_configured(true, configure).await;
    let second = spawn_instance(&first, None, configure).await;
    let key = first.partner_key().await;
    let query = "{ themes { totalCount } }";

    // Served at once, and each instance counts on its own: four each.
    let started = Instant::now();
    for _ in 0..4 {
        first.graphql_as(&key, query, json!({})).await.ok();
        second.graphql_as(&key, query, json!({})).await.ok();
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "eight requests took {:?} without Redis",
        started.elapsed()
    );
    assert_eq!(first.graphql_as(&key, query, json!({})).await.status, 429);
    let ready = first.client.get(first.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "an instance without Redis is ready");
    let details: serde_json::Value = ready.json().await.unwrap();
    assert!(
        details["redis"]
            .as_str()
            .unwrap()
            .starts_with("unreachable"),
        "{details}"
    );
    let metrics = first.metrics_text().await;
    assert!(
        metrics.contains("stroom_rate_limit_local_fallbacks_total"),
        "{metrics}"
    );

    // Redis comes back: the instances find it by themselves and share counts again.
    proxy.restore();
    for instance in [&first, &second] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The readiness check probes Redis, as a load balancer's health checks do.
            let ready: serde_json::Value = instance
                .client
                .get(instance.url("/readyz"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if ready["redis"] == "ok" {
                break;
            }
            assert!(Instant::now() < deadline, "Redis not rejoined: {ready}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let fresh = first
        .key("Third partner", entity::enums::KeyRole::Partner, None)
        .await;
    for _ in 0..2 {
        first.graphql_as(&fresh, query, json!({})).await.ok();
        second.graphql_as(&fresh, query, json!({})).await.ok();
    }
    assert_eq!(
        second.graphql_as(&fresh, query, json!({})).await.status,
        429,
        "the budget is shared again"
    );

    // Redis goes away mid-run: requests are still served at once.
    proxy.cut().await;
    let last = first
        .key("Last partner", entity::enums::KeyRole::Partner, None)
        .await;
    let started = Instant::now();
    for _ in 0..4 {
        second.graphql_as(&last, query, json!({})).await.ok();
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "four requests took {:?} while Redis was cut",
        started.elapsed()
    );
}

/// Whatever is open when the service is told to stop — a slow reader, a slow writer, a
/// WebSocket and an event stream, a webhook delivery waiting on its receiver, a write blocked
/// on a lock — the process ends by the grace period and its margin (3 s).
#[tokio::test]
async fn the_exit_deadline_is_absolute_whatever_is_open() {
    use futures_util::SinkExt;
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let mut server = crate::helpers::ServerProcess::start(
        true,
        &[
            "--shutdown-grace-secs",
            "1",
            "--webhooks-allow-internal",
            "--webhook-poll-ms",
            "50",
            "--webhook-timeout-secs",
            "120",
        ],
    )
    .await;
    let host = server.address.trim_start_matches("http://").to_owned();
    let db = Database::connect(server.database_url()).await.unwrap();
    let admin =
        stroom_api::api_key::create_key(&db, "Admin", entity::enums::KeyRole::Admin, None, None)
            .await
            .unwrap_or_else(|e| panic!("{}", e.message))
            .1;
    let graphql = |query: String| {
        let (client, url, admin) = (server.client.clone(), server.url("/graphql"), admin.clone());
        async move {
            client
                .post(url)
                .bearer_auth(admin)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };

    // A webhook receiver that takes the request and never answers.
    let receiver = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}/hook", receiver.local_addr().unwrap());
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = receiver.accept().await {
            held.push(stream);
        }
    });
    let registered = graphql(format!(
        r#"mutation {{ createWebhookEndpoint(input: {{url: "{receiver_url}", eventTypes: ["theme.created"]}}) {{ userErrors {{ message }} }} }}"#
    ))
    .await;
    assert!(registered.contains("\"userErrors\":[]"), "{registered}");
    let created =
        graphql(r#"mutation { createTheme(input: {code: "deadline", label: [{locale: "en", text: "Deadline"}]}) { userErrors { message } } }"#.into())
            .await;
    assert!(created.contains("\"userErrors\":[]"), "{created}");

    // A slow writer: a body announced and dribbled.
    let mut writer = TcpStream::connect(&host).await.unwrap();
    writer
        .write_all(format!("POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{").as_bytes())
        .await
        .unwrap();
    let dribbling = tokio::spawn(async move {
        while writer.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    // A slow reader: a large download it never reads.
    let mut reader = TcpStream::connect(&host).await.unwrap();
    reader
        .write_all(
            format!("GET /open-data/en/outcomes.csv HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    // A WebSocket with a subscription, and an event stream.
    let mut request = format!("ws://{host}/graphql")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::Text(
            json!({"type": "connection_init"}).to_string().into(),
        ))
        .await
        .unwrap();
    socket
        .send(Message::Text(json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { changes { id } }"}}).to_string().into()))
        .await
        .unwrap();
    let events = server
        .client
        .post(server.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({"query": "subscription { changes { id } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    // A write blocked on a lock another client holds.
    let hold = db.begin().await.unwrap();
    let lock = if postgres_url().is_some() {
        "LOCK TABLE theme IN ACCESS EXCLUSIVE MODE"
    } else {
        "UPDATE theme SET version = version WHERE id = (SELECT MIN(id) FROM theme)"
    };
    hold.execute_unprepared(lock).await.unwrap();
    let blocked = tokio::spawn(graphql(
        r#"mutation { createTheme(input: {code: "blocked_at_exit", label: [{locale: "en", text: "Blocked"}]}) { userErrors { message } } }"#.into(),
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;

    let stopping = Instant::now();
    server.terminate();
    let status = server.exited_within(Duration::from_secs(8)).await;
    let took = stopping.elapsed();
    assert!(status.is_some(), "still running {took:?} after SIGTERM");
    assert!(
        took <= Duration::from_millis(4_500),
        "the process took {took:?} to exit (grace 1 s + margin 3 s)"
    );
    hold.rollback().await.unwrap();
    dribbling.abort();
    holding.abort();
    blocked.abort();
    drop((socket, events, reader));
}
/// A request that ends (its client leaves, or its timeout cuts it off) does not leave its
/// statement holding a connection: with a table locked and a flood of requests waiting on it,
/// an unrelated query still gets a connection, and PostgreSQL no longer runs their statements.
#[tokio::test]
async fn requests_that_end_give_their_connections_back_and_their_statements_stop() {
    if postgres_url().is_none() {
        eprintln!(
            "skipped: a table lock that blocks readers needs PostgreSQL (set TEST_DATABASE_URL)"
        );
        return;
    }
    // Clients that leave: the server's own timeout (10 s, statements 11 s) is far off.
    let app = spawn_configured(true, |serve| serve.request_timeout_ms = 10_000).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    flood_a_locked_table(&app, &impatient, None).await;
    // Requests cut off by their timeout (1 s, statements 2 s).
    let app = spawn_configured(true, |serve| serve.request_timeout_ms = 1_000).await;
    flood_a_locked_table(&app, &app.client, Some(503)).await;
}

/// Floods `initiative`, locked, with more requests than the pool has connections (4 in tests),
/// through `client`; once they ended, an unrelated query must find a connection, and none of
/// their statements may still wait on the lock.
async fn flood_a_locked_table(app: &TestApp, client: &reqwest::Client, status: Option<u16>) {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let hold = app.db.begin().await.unwrap();
    hold.execute_unprepared("LOCK TABLE initiative IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let flood: Vec<_> = (0..12)
        .map(|i| {
            let (client, url) = (client.clone(), app.url("/graphql"));
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&json!({"query": format!("{{ initiatives(first: {}) {{ totalCount }} }}", i + 1)}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    for request in flood {
        let answer = request.await.unwrap();
        match status {
            Some(status) => assert_eq!(answer.ok(), Some(status), "a request on the locked table"),
            None => assert!(answer.is_err(), "a client that left got {answer:?}"),
        }
    }
    let started = Instant::now();
    let reply = app
        .graphql("{ programmes(first: 1) { totalCount } }", json!({}))
        .await;
    let took = started.elapsed();
    assert!(
        reply.body.to_string().contains("\"totalCount\""),
        "an unrelated query found no connection after the flood ended: {}",
        reply.body
    );
    // Waiting for a connection gives up after 5 s; the statements' own limit is further off
    // for the clients that left.
    assert!(took < Duration::from_secs(3), "it waited {took:?}");
    // PostgreSQL stops the abandoned statements (it checks their clients every second).
    let waiting = "SELECT count(*) AS n FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let mut left = i64::MAX;
    for _ in 0..30 {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                waiting,
            ))
            .await
            .unwrap()
            .unwrap();
        left = row.try_get("", "n").unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        left, 0,
        "statements still wait on the lock 3 s after their requests ended"
    );
    hold.rollback().await.unwrap();
}
