//! One harness for every end-to-end test: a real server on a free port, over a fresh database
//! (an SQLite file, or a new PostgreSQL database when `TEST_DATABASE_URL` or `DATABASE_URL`
//! points at a PostgreSQL server), and a client that speaks GraphQL over HTTP.
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use stroom_api::Application;
use stroom_api::config::{GlobalArgs, LogFormat, ServeArgs};
use tokio::sync::oneshot;

/// The PostgreSQL server to test against, if any.
pub fn postgres_url() -> Option<String> {
    ["TEST_DATABASE_URL", "DATABASE_URL"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|url| url.starts_with("postgres"))
}

/// A fresh database, removed when the guard drops.
enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another instance's database: that instance removes it.
    Shared,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async code; a small runtime of its own does the cleanup.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        if let Ok(db) = Database::connect(&admin_url).await {
                            let _ = db
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

async fn fresh_database() -> (String, TestDatabase) {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    match postgres_url() {
        Some(admin_url) => {
            let name = format!(
                "stroom_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0)
            );
            let admin = Database::connect(&admin_url)
                .await
                .expect("test setup: connect to the PostgreSQL server");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("test setup: create a test database");
            admin.close().await.ok();
            let base = match admin_url.rfind('/') {
                Some(i) if i > "postgres://".len() => &admin_url[..i],
                _ => admin_url.as_str(),
            };
            let url = format!("{base}/{name}");
            (url, TestDatabase::Postgres { admin_url, name })
        }
        None => {
            let dir = tempfile::tempdir().expect("test setup: temporary directory");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("stroom.db").display()
            );
            (url, TestDatabase::Sqlite(dir))
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// Where its `/metrics` is served, when on an address of its own.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    /// A connection of the test's own to the same database, to set up and check data.
    pub db: DatabaseConnection,
    database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _database: TestDatabase,
}

impl TestApp {
    /// Sends the server its shutdown signal, as SIGTERM would.
    pub fn shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// Waits for the server task to end (after `shutdown`).
    pub async fn stopped(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A server with the Stroom demo data.
pub async fn spawn_app() -> TestApp {
    spawn_configured(true, |_| {}).await
}

/// The settings every test server starts from: a free port, the statement-count header, and
/// budgets no ordinary test reaches.
fn test_settings(demo: bool) -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().expect("a literal address"),
        // Tests read the metrics on their own address, where reading them costs no SQL (the
        // service's address checks an admin key first).
        metrics_listen: Some("127.0.0.1:0".parse().expect("a literal address")),
        demo: Some(demo),
        sql_statements_header: true,
        rate_limit_points: 1_000_000,
        rate_limit_anonymous_points: 1_000_000,
        ..ServeArgs::default()
    }
}

/// A server with settings of the test's choosing, over a fresh database.
pub async fn spawn_configured(demo: bool, configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let (database_url, database) = fresh_database().await;
    let mut serve = test_settings(demo);
    configure(&mut serve);
    start(database_url.clone(), database_url, database, serve).await
}

/// A demo server over an SQLite file, whatever database the other tests use: for comparing
/// the two databases' answers.
pub async fn spawn_demo_on_sqlite() -> TestApp {
    let dir = tempfile::tempdir().expect("test setup: temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("stroom.db").display()
    );
    start(
        url.clone(),
        url,
        TestDatabase::Sqlite(dir),
        test_settings(true),
    )
    .await
}

/// A server over the demo data and a generated synthetic data set of the given size.
pub async fn spawn_generated(
    scale: stroom_seed::Scale,
    configure: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let (database_url, database) = fresh_database().await;
    let connected = stroom_api::db::connect(&database_url, Some(2))
        .await
        .expect("test setup: connect");
    stroom_api::db::migrate(&connected.db)
        .await
        .expect("test setup: migrate");
    stroom_seed::generate(&connected.db, scale, 7)
        .await
        .expect("test setup: generate data");
    connected.db.close().await.ok();
    let mut serve = test_settings(false);
    configure(&mut serve);
    start(database_url.clone(), database_url, database, serve).await
}

/// Another instance of the same service, over the same database (as behind a load balancer),
/// optionally reaching the database at another address (through a proxy).
pub async fn spawn_instance(
    app: &TestApp,
    server_database_url: Option<String>,
    configure: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let mut serve = test_settings(false);
    configure(&mut serve);
    let server_url = server_database_url.unwrap_or_else(|| app.database_url.clone());
    start(
        server_url,
        app.database_url.clone(),
        TestDatabase::Shared,
        serve,
    )
    .await
}

async fn start(
    server_database_url: String,
    database_url: String,
    database: TestDatabase,
    serve: ServeArgs,
) -> TestApp {
    let global = GlobalArgs {
        database_url: Some(server_database_url),
        log_format: LogFormat::Text,
        log_spans: false,
        otel_endpoint: None,
        db_max_connections: Some(4),
    };
    let app = Application::build_with(&global, &serve, Some(stroom_seed::demo::seeder))
        .await
        .expect("test setup: build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    let db = Database::connect(&database_url)
        .await
        .expect("test setup: connect to the test database");
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::new(),
        db,
        database_url,
        shutdown: Some(tx),
        server: Some(server),
        _database: database,
    }
}

/// The `Accept` header of GraphQL-over-HTTP clients (graphql-http's, Apollo's).
pub const ACCEPT: &str = "application/graphql-response+json, application/json;q=0.9";

/// A GraphQL response as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// SQL statements the server ran for the request.
    pub statements: u64,
    /// Whether the read planner answered it (one compiled statement).
    pub compiled: bool,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The data, after asserting there were no errors.
    pub fn ok(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        &self.body["data"]
    }

    pub fn errors(&self) -> &Vec<Value> {
        self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("expected errors, got {}", self.body))
    }

    /// The `extensions.code` of the first error.
    pub fn code(&self) -> &str {
        self.errors()[0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without a code: {}", self.body))
    }

    pub fn message(&self) -> &str {
        self.errors()[0]["message"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    /// The URL of the test's database, for running the command line against it.
    pub fn database_url(&self) -> String {
        self.database_url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The Prometheus page (`/metrics`). It is the process's: every test server in it adds
    /// its series.
    pub async fn metrics_text(&self) -> String {
        let url = match &self.metrics_address {
            Some(address) => format!("{address}/metrics"),
            None => self.url("/metrics"),
        };
        self.client
            .get(url)
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the metrics page")
    }

    pub async fn graphql(&self, query: &str, variables: Value) -> Reply {
        self.graphql_with(query, variables, &[]).await
    }

    pub async fn graphql_with(
        &self,
        query: &str,
        variables: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        // What GraphQL-over-HTTP clients send: the spec's media type first.
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", ACCEPT)
            .json(&json!({"query": query, "variables": variables}));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        Self::reply(response).await
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let statements = response
            .headers()
            .get("x-stroom-sql-statements")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let compiled = response
            .headers()
            .get("x-stroom-compiled")
            .is_some_and(|v| v == "true");
        let text = response.text().await.expect("a response body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("a JSON body, got {status}: {text}"));
        Reply {
            status,
            body,
            statements,
            compiled,
        }
    }

    /// Every node of a list, paging through it with `first`/`after`.
    pub async fn all_nodes(&self, field: &str, selection: &str, filter: Value) -> Vec<Value> {
        let query = format!(
            "query($after: String, $filter: {filter_type}) {{ {field}(first: 100, after: $after, filter: $filter) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {selection} }} }} }}",
            filter_type = filter_type(field),
        );
        let mut nodes = Vec::new();
        let mut after = Value::Null;
        loop {
            let reply = self
                .graphql(&query, json!({"after": after, "filter": filter}))
                .await;
            let page = &reply.ok()[field];
            nodes.extend(page["nodes"].as_array().cloned().unwrap_or_default());
            if page["pageInfo"]["hasNextPage"] != json!(true) {
                return nodes;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
    }
}

/// The filter input type of a root list field.
pub fn filter_type(field: &str) -> String {
    let singular = match field {
        "municipalities" => "Municipality".to_owned(),
        "areas" => "Area".to_owned(),
        "themes" => "Theme".to_owned(),
        "organisations" => "Organisation".to_owned(),
        "programmes" => "Programme".to_owned(),
        "needs" => "Need".to_owned(),
        "initiatives" => "Initiative".to_owned(),
        "indicators" => "Indicator".to_owned(),
        "outcomes" => "Outcome".to_owned(),
        "learnings" => "Learning".to_owned(),
        other => panic!("no list {other}"),
    };
    format!("{singular}Filter")
}

/// The strings of a JSON array of strings.
pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl TestApp {
    /// A new API key; returns its token.
    pub async fn key(
        &self,
        name: &str,
        role: entity::enums::KeyRole,
        municipality: Option<i64>,
    ) -> String {
        stroom_api::api_key::create_key(&self.db, name, role, municipality, None)
            .await
            .unwrap_or_else(|e| panic!("test setup: create key: {}", e.message))
            .1
    }

    /// An editor key for the municipality with this name.
    pub async fn editor_key(&self, name: &str, municipality: &str) -> String {
        let id = self.municipality_id(municipality).await;
        self.key(name, entity::enums::KeyRole::Editor, Some(id))
            .await
    }

    pub async fn admin_key(&self) -> String {
        self.key("Test admin", entity::enums::KeyRole::Admin, None)
            .await
    }

    pub async fn partner_key(&self) -> String {
        self.key("Test partner city", entity::enums::KeyRole::Partner, None)
            .await
    }

    /// The row ID of a municipality, by its English name.
    pub async fn municipality_id(&self, name: &str) -> i64 {
        use sea_orm::EntityTrait;
        entity::municipality::Entity::find()
            .all(&self.db)
            .await
            .expect("municipalities")
            .into_iter()
            .find(|m| m.name.get("en") == Some(name))
            .unwrap_or_else(|| panic!("no municipality {name}"))
            .id
    }

    /// A GraphQL request with an API key.
    pub async fn graphql_as(&self, key: &str, query: &str, variables: Value) -> Reply {
        let bearer = format!("Bearer {key}");
        self.graphql_with(query, variables, &[("authorization", bearer.as_str())])
            .await
    }

    /// A summary of everything stored: rows and version sums per table, link rows, audit
    /// entries. Any change through the API alters it.
    pub async fn fingerprint(&self) -> Vec<(String, i64, i64)> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        let mut out = Vec::new();
        for table in [
            "municipality",
            "area",
            "theme",
            "organisation",
            "contact_person",
            "programme",
            "partnership",
            "need",
            "initiative",
            "support_request",
            "indicator",
            "outcome",
            "learning",
        ] {
            let row = self
                .db
                .query_one_raw(Statement::from_string(
                    backend,
                    format!(
                        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(version), 0) AS BIGINT) AS v, \
                         CAST(COUNT(archived_at) AS BIGINT) AS a FROM {table}"
                    ),
                ))
                .await
                .expect("fingerprint")
                .expect("a row");
            let n: i64 = row.try_get("", "n").expect("n");
            let v: i64 = row.try_get("", "v").expect("v");
            let a: i64 = row.try_get("", "a").expect("a");
            out.push((table.to_owned(), n, v * 1000 + a));
        }
        for table in [
            "programme_theme",
            "need_target_group",
            "initiative_area",
            "initiative_theme",
            "initiative_need",
            "learning_theme",
            "audit_entry",
            "api_key",
        ] {
            let row = self
                .db
                .query_one_raw(Statement::from_string(
                    backend,
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await
                .expect("fingerprint")
                .expect("a row");
            out.push((table.to_owned(), row.try_get("", "n").expect("n"), 0));
        }
        out
    }

    /// The global ID of the first record of a list that matches a search.
    pub async fn find_id(&self, field: &str, search: &str) -> String {
        let nodes = self.all_nodes(field, "id", json!({"search": search})).await;
        nodes
            .first()
            .unwrap_or_else(|| panic!("no {field} matches {search}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The service as its own process (the `stroom` binary) over a fresh database: for what an
/// in-process server cannot show, such as a crash, the process's memory or its exit.
pub struct ServerProcess {
    child: std::process::Child,
    pub address: String,
    /// Its `/metrics` address.
    metrics_address: String,
    pub client: reqwest::Client,
    database_url: String,
    _database: TestDatabase,
    /// How it was started, to start it again.
    command: Vec<String>,
    env: Vec<(String, String)>,
}

/// `stroom` with these arguments and environment.
fn spawn_stroom(
    command: &[String],
    env: &[(String, String)],
    log: std::process::Stdio,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(command)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("test setup: start the stroom binary")
}

impl ServerProcess {
    /// Starts `stroom serve` with the demo data (when asked) and extra arguments, and waits
    /// until it is ready.
    pub async fn start(demo: bool, args: &[&str]) -> Self {
        Self::start_with(
            demo,
            args,
            &[("RUST_LOG", "warn")],
            std::process::Stdio::null(),
        )
        .await
    }

    /// As `start`, with its environment (`RUST_LOG`, `STROOM_…`) and its log going to `log`.
    pub async fn start_with(
        demo: bool,
        args: &[&str],
        env: &[(&str, &str)],
        log: std::process::Stdio,
    ) -> Self {
        let (database_url, database) = fresh_database().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("test setup: a free port")
            .port();
        let listen = format!("127.0.0.1:{port}");
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("test setup: a free port")
            .port();
        let metrics_listen = format!("127.0.0.1:{metrics_port}");
        let command: Vec<String> = [
            "serve",
            "--listen",
            &listen,
            "--metrics-listen",
            &metrics_listen,
            "--database-url",
            &database_url,
            "--demo",
            if demo { "true" } else { "false" },
        ]
        .into_iter()
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = spawn_stroom(&command, &env, log);
        let server = Self {
            child,
            address: format!("http://{listen}"),
            metrics_address: format!("http://{metrics_listen}"),
            client: reqwest::Client::new(),
            database_url,
            _database: database,
            command,
            env,
        };
        server.ready().await
    }

    /// Kills the process at once (SIGKILL, as a crash would) and starts it again on the same
    /// address and database, with the demo data left as it is.
    pub async fn kill_and_restart(mut self) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut command = self.command.clone();
        if let Some(demo) = command.iter().position(|a| a == "--demo") {
            command[demo + 1] = "false".to_owned();
        }
        self.child = spawn_stroom(&command, &self.env, std::process::Stdio::null());
        self.ready().await
    }

    async fn ready(mut self) -> Self {
        for _ in 0..300 {
            if let Ok(response) = self.client.get(self.url("/readyz")).send().await
                && response.status() == StatusCode::OK
            {
                return self;
            }
            assert!(self.alive(), "the server process exited at start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the server process did not become ready");
    }

    /// The server's `/metrics` page (on its metrics address).
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the metrics page")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process's resident memory, in bytes.
    pub fn resident_bytes(&self) -> u64 {
        self.memory("VmRSS:")
    }

    /// The most resident memory the process has had, in bytes.
    pub fn peak_resident_bytes(&self) -> u64 {
        self.memory("VmHWM:")
    }

    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// Sends SIGTERM, as an orchestrator stopping the service does.
    pub fn terminate(&self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits for the process to exit, up to `limit`; `None` if it is still running.
    pub async fn exited_within(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
