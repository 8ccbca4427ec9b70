//! `stroom-bench`: drives a running Stroom API server over HTTP with a fixed number of
//! concurrent clients, runs each canonical operation (`bench/operations/*.graphql`) on its own
//! and as a mix, and prints throughput, latency percentiles, errors, SQL statements per request
//! and the server's memory, as a table and optionally as JSON.
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

const DASHBOARD: &str = include_str!("../operations/dashboard.graphql");
const NODE: &str = include_str!("../operations/node.graphql");
const DEEP_PAGING: &str = include_str!("../operations/deep-paging.graphql");
const AGGREGATE: &str = include_str!("../operations/aggregate.graphql");
const SEARCH: &str = include_str!("../operations/search.graphql");
const UPDATE: &str = include_str!("../operations/update.graphql");
const SETUP: &str = include_str!("../operations/setup.graphql");
/// The same operations as PostGraphile v4 answers them (`--peer-url`).
const PEER_DASHBOARD: &str = include_str!("../peer/postgraphile/dashboard.graphql");
const PEER_NODE: &str = include_str!("../peer/postgraphile/node.graphql");
const PEER_SETUP: &str = include_str!("../peer/postgraphile/setup.graphql");
/// The same operations as PostGraphile v5 answers them (`--peer5-url`).
const PEER5_DASHBOARD: &str = include_str!("../peer/postgraphile5/dashboard.graphql");
const PEER5_NODE: &str = include_str!("../peer/postgraphile5/node.graphql");
const PEER5_SETUP: &str = include_str!("../peer/postgraphile5/setup.graphql");

/// Load benchmark for a running Stroom API server. Start the server with generous rate limits
/// and `--sql-statements-header` (see the README's Performance section).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's Prometheus page, on its metrics address (`--metrics-listen`). Default:
    /// `/metrics` under `--url`, which the server answers only for admin keys.
    #[arg(long)]
    metrics_url: Option<String>,
    /// Concurrent clients, each sending its next request when the last one is answered.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds each operation runs (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Requests per operation instead of a duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds of unmeasured load before each operation.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The operations to run, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "dashboard,node,deep-paging,aggregate,search,write-mix,mix"
    )]
    operations: Vec<Operation>,
    /// An editor key for the writes of `write-mix` and `mix` (they are skipped without one).
    #[arg(long, env = "STROOM_BENCH_EDITOR_KEY")]
    editor_key: Option<String>,
    /// The word the search operation looks for.
    #[arg(long, default_value = "repair")]
    search: String,
    /// The indicator (by code) of the aggregate operation.
    #[arg(long, default_value = "devices_fixed")]
    indicator: String,
    /// Which page of 100 needs deep paging asks for.
    #[arg(long, default_value_t = 50)]
    page: u32,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Worker threads of the load generator (the server shares the machine).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Exit 0 even when some requests failed.
    #[arg(long)]
    allow_errors: bool,
    /// Side by side with a peer GraphQL server over the same database (PostGraphile v4, see
    /// `bench/peer/`): its base URL. Each operation that has a peer equivalent (dashboard,
    /// node) runs on Stroom and on the peer in turn, `--rounds` times, and the ratio is printed.
    #[arg(long)]
    peer_url: Option<String>,
    /// The server's process ID (on this machine): its CPU time per request is reported.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The peer's process ID (on this machine), for the same.
    #[arg(long)]
    peer_pid: Option<u32>,
    /// A second peer, PostGraphile v5 (`bench/peer/postgraphile5/`): its base URL. It joins
    /// the rounds (Stroom, v4, v5 in turn) and gets its own ratios.
    #[arg(long)]
    peer5_url: Option<String>,
    /// The second peer's process ID.
    #[arg(long)]
    peer5_pid: Option<u32>,
    /// Rounds of the side-by-side comparison.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Also replay each operation's SQL statements through `pgbench` against this PostgreSQL
    /// database (the SQL ceiling: what the database alone sustains). The server must run with
    /// `--explain`, which shows the statements.
    #[arg(long)]
    sql_ceiling: Option<String>,
    /// After the operations, measure what live subscribers cost a write: the editor key's
    /// updates alone, then with this many subscriptions following them over WebSocket (the
    /// server needs caps for them: `--live-subscriptions-per-client`, `--live-connections-per-client` and their `-per-network` twins).
    #[arg(long, default_value_t = 0)]
    live_subscribers: usize,
    /// Concurrent writers of the live measurement.
    #[arg(long, default_value_t = 4)]
    live_writers: usize,
    /// Writes a second of the live measurement, in all.
    #[arg(long, default_value_t = 20.0)]
    live_write_rate: f64,
}

/// What the clients send during one run.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    /// A dashboard page: 20 initiatives with themes, areas, needs, partners, latest outcomes.
    Dashboard,
    /// `node` lookup of one initiative by ID.
    Node,
    /// The 50th page of 100 needs ordered by date, by cursor.
    DeepPaging,
    /// An indicator's quarterly series per theme over 5 years.
    Aggregate,
    /// A search for a common word.
    Search,
    /// Dashboard pages with 10% updates by an editor key.
    WriteMix,
    /// All of them: 35% dashboard, 30% node, 10% deep paging, 5% aggregate, 10% search, 10%
    /// updates.
    Mix,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Node => "node",
            Self::DeepPaging => "deep-paging",
            Self::Aggregate => "aggregate",
            Self::Search => "search",
            Self::WriteMix => "write-mix",
            Self::Mix => "mix",
        }
    }

    /// The requests of the operation with their weights.
    fn requests(self, writes: bool) -> Vec<(Request, u32)> {
        let mut requests = match self {
            Self::Dashboard => vec![(Request::Dashboard, 1)],
            Self::Node => vec![(Request::Node, 1)],
            Self::DeepPaging => vec![(Request::DeepPaging, 1)],
            Self::Aggregate => vec![(Request::Aggregate, 1)],
            Self::Search => vec![(Request::Search, 1)],
            Self::WriteMix => vec![(Request::Dashboard, 90), (Request::Update, 10)],
            Self::Mix => vec![
                (Request::Dashboard, 35),
                (Request::Node, 30),
                (Request::DeepPaging, 10),
                (Request::Aggregate, 5),
                (Request::Search, 10),
                (Request::Update, 10),
            ],
        };
        if !writes {
            requests.retain(|(r, _)| *r != Request::Update);
        }
        requests
    }
}

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Request {
    Dashboard,
    Node,
    DeepPaging,
    Aggregate,
    Search,
    Update,
}

impl Request {
    const ALL: [Request; 6] = [
        Self::Dashboard,
        Self::Node,
        Self::DeepPaging,
        Self::Aggregate,
        Self::Search,
        Self::Update,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Node => "node",
            Self::DeepPaging => "deep-paging",
            Self::Aggregate => "aggregate",
            Self::Search => "search",
            Self::Update => "update",
        }
    }
}

/// What the requests need, read from the server before the runs.
struct Fixture {
    initiatives: Vec<String>,
    page_cursor: Option<String>,
    page_reached: u32,
    indicator: String,
    search: String,
    editor: Option<Editor>,
}

/// An editor key and the initiatives it may update, each lent to one client at a time so
/// that concurrent updates never conflict.
struct Editor {
    key: String,
    pool: Mutex<Vec<(String, i64)>>,
}

/// Which server a client talks to: the documents differ, the rows they read do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Stroom,
    /// PostGraphile v4 over the same database (`bench/peer/postgraphile/`).
    Peer,
    /// PostGraphile v5 over the same database (`bench/peer/postgraphile5/`).
    Peer5,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Self::Stroom => "stroom",
            Self::Peer => "postgraphile-v4",
            Self::Peer5 => "postgraphile-v5",
        }
    }
}

struct Client {
    http: reqwest::Client,
    endpoint: String,
    server: Server,
    /// Read answers for their errors only (under load).
    light: bool,
}

/// A GraphQL response and the statement count the server reported.
struct Answer {
    body: Value,
    statements: Option<u64>,
}

impl Client {
    async fn post(
        &self,
        query: &str,
        operation: Option<&str>,
        variables: Value,
        key: Option<&str>,
    ) -> anyhow::Result<Answer> {
        self.post_with(query, operation, variables, key, &[]).await
    }

    async fn post_with(
        &self,
        query: &str,
        operation: Option<&str>,
        variables: Value,
        key: Option<&str>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("accept", "application/graphql-response+json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.json(&json!({
            "query": query,
            "operationName": operation,
            "variables": variables,
        }));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await?;
        let status = response.status();
        let statements = response
            .headers()
            .get("x-stroom-sql-statements")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response.bytes().await.context("reading the response")?;
        if self.light {
            // Under load only the errors are looked at: the rest of the body is checked for
            // well-formed JSON without being built into a tree, so the load generator's own
            // work stays small next to the server's.
            let light: LightBody = serde_json::from_slice(&bytes).context("a JSON body")?;
            if !status.is_success() {
                bail!("HTTP {status}");
            }
            if let Some(errors) = light.errors.filter(|e| !is_empty(e)) {
                bail!("GraphQL errors: {}", compact(&errors));
            }
            return Ok(Answer {
                body: Value::Null,
                statements,
            });
        }
        let body: Value = serde_json::from_slice(&bytes).context("a JSON body")?;
        if !status.is_success() {
            bail!("HTTP {status}: {}", compact(&body));
        }
        if let Some(errors) = body.get("errors").filter(|e| !is_empty(e)) {
            bail!("GraphQL errors: {}", compact(errors));
        }
        Ok(Answer { body, statements })
    }

    /// The same client, reading answers for their errors only (`light`) or whole.
    fn reading(&self, light: bool) -> Self {
        Self {
            http: self.http.clone(),
            endpoint: self.endpoint.clone(),
            server: self.server,
            light,
        }
    }
}

/// An answer read for its errors only.
#[derive(serde::Deserialize)]
struct LightBody {
    #[serde(default)]
    errors: Option<Value>,
}

fn is_empty(value: &Value) -> bool {
    value.as_array().is_some_and(|a| a.is_empty())
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    text.chars().take(300).collect()
}

fn ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .filter_map(|n| n["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn prepare(client: &Client, args: &Args) -> anyhow::Result<Fixture> {
    let setup = client
        .post(
            SETUP,
            Some("Setup"),
            json!({ "indicator": args.indicator }),
            None,
        )
        .await
        .context("reading initiatives and the indicator")?;
    let initiatives = ids(&setup.body["data"]["initiatives"]["nodes"]);
    if initiatives.is_empty() {
        bail!("the server holds no initiatives: fill it with `stroom generate` first");
    }
    let indicator = ids(&setup.body["data"]["indicators"]["nodes"])
        .into_iter()
        .next()
        .with_context(|| format!("no indicator with code {}", args.indicator))?;

    // Walk to the page before the one deep paging asks for.
    let mut cursor: Option<String> = None;
    let mut page_reached = 1;
    for _ in 1..args.page {
        let page = client
            .post(DEEP_PAGING, None, json!({ "after": cursor }), None)
            .await
            .context("paging through needs")?;
        let info = &page.body["data"]["needs"]["pageInfo"];
        if info["hasNextPage"] != json!(true) {
            break;
        }
        cursor = info["endCursor"].as_str().map(str::to_owned);
        page_reached += 1;
    }

    let editor = match &args.editor_key {
        None => None,
        Some(key) => {
            let viewer = client
                .post(SETUP, Some("Viewer"), json!({}), Some(key))
                .await
                .context("asking who the editor key is")?;
            let municipality = viewer.body["data"]["viewer"]["municipality"]["id"]
                .as_str()
                .context("the editor key has no municipality: create it with --role editor --municipality …")?
                .to_owned();
            let own = client
                .post(
                    SETUP,
                    Some("EditorInitiatives"),
                    json!({ "municipality": municipality }),
                    Some(key),
                )
                .await
                .context("reading the editor's initiatives")?;
            let pool: Vec<(String, i64)> = own.body["data"]["initiatives"]["nodes"]
                .as_array()
                .map(|nodes| {
                    nodes
                        .iter()
                        .filter_map(|n| {
                            Some((n["id"].as_str()?.to_owned(), n["version"].as_i64()?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if pool.is_empty() {
                bail!("the editor's municipality has no initiatives to update");
            }
            Some(Editor {
                key: key.clone(),
                pool: Mutex::new(pool),
            })
        }
    };
    Ok(Fixture {
        initiatives,
        page_cursor: cursor,
        page_reached,
        indicator,
        search: args.search.clone(),
        editor,
    })
}

/// The peer's fixture: only what its operations (dashboard, node) need.
async fn prepare_peer(client: &Client) -> anyhow::Result<Fixture> {
    let setup = client
        .post(
            if client.server == Server::Peer5 {
                PEER5_SETUP
            } else {
                PEER_SETUP
            },
            Some("Setup"),
            json!({}),
            None,
        )
        .await
        .context("reading initiatives from the peer")?;
    let initiatives = ids(&setup.body["data"]["allInitiatives"]["nodes"]);
    if initiatives.is_empty() {
        bail!("the peer sees no initiatives: is it started on the same database?");
    }
    Ok(Fixture {
        initiatives,
        page_cursor: None,
        page_reached: 0,
        indicator: String::new(),
        search: String::new(),
        editor: None,
    })
}

/// Sends one request of a kind; returns the statements the server reported.
async fn send(
    client: &Client,
    fixture: &Fixture,
    request: Request,
    rng: &mut ChaCha8Rng,
    sequence: u64,
) -> anyhow::Result<Option<u64>> {
    let peer = client.server != Server::Stroom;
    let answer = match request {
        Request::Dashboard => {
            let document = match client.server {
                Server::Stroom => DASHBOARD,
                Server::Peer => PEER_DASHBOARD,
                Server::Peer5 => PEER5_DASHBOARD,
            };
            client.post(document, None, json!({}), None).await?
        }
        Request::Node => {
            let id = &fixture.initiatives[rng.random_range(0..fixture.initiatives.len())];
            let document = match client.server {
                Server::Stroom => NODE,
                Server::Peer => PEER_NODE,
                Server::Peer5 => PEER5_NODE,
            };
            client
                .post(document, None, json!({ "id": id }), None)
                .await?
        }
        _ if peer => bail!("{} has no peer equivalent", request.name()),
        Request::DeepPaging => {
            client
                .post(
                    DEEP_PAGING,
                    None,
                    json!({ "after": fixture.page_cursor }),
                    None,
                )
                .await?
        }
        Request::Aggregate => {
            client
                .post(
                    AGGREGATE,
                    None,
                    json!({ "indicator": fixture.indicator }),
                    None,
                )
                .await?
        }
        Request::Search => {
            client
                .post(SEARCH, None, json!({ "query": fixture.search }), None)
                .await?
        }
        Request::Update => return update(client, fixture, sequence).await,
    };
    Ok(answer.statements)
}

async fn update(client: &Client, fixture: &Fixture, sequence: u64) -> anyhow::Result<Option<u64>> {
    let editor = fixture.editor.as_ref().context("no editor key")?;
    // The payload's new version is needed.
    let client = &client.reading(false);
    let (id, version) = loop {
        if let Some(lent) = editor.pool.lock().await.pop() {
            break lent;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let result = client
        .post(
            UPDATE,
            None,
            json!({ "input": {
                "id": id,
                "version": version,
                "website": format!("https://example.org/benchmark/{sequence}"),
            }}),
            Some(&editor.key),
        )
        .await;
    let (next_version, outcome) = match result {
        Ok(answer) => {
            let payload = &answer.body["data"]["updateInitiative"];
            let errors = &payload["userErrors"];
            match payload["initiative"]["version"].as_i64() {
                Some(v) if is_empty(errors) => (v, Ok(answer.statements)),
                _ => {
                    // A conflict carries the current version: continue from it.
                    let current = errors[0]["currentVersion"].as_i64().unwrap_or(version);
                    (
                        current,
                        Err(anyhow::anyhow!("user errors: {}", compact(errors))),
                    )
                }
            }
        }
        Err(error) => (version, Err(error)),
    };
    editor.pool.lock().await.push((id, next_version));
    outcome
}

/// One measured request.
struct Sample {
    request: Request,
    micros: u64,
    ok: bool,
    statements: Option<u64>,
}

/// Runs an operation with `concurrency` clients until the deadline or the request budget.
async fn load(
    client: Arc<Client>,
    fixture: Arc<Fixture>,
    operation: Operation,
    concurrency: usize,
    duration: Duration,
    budget: Option<u64>,
    errors_shown: Arc<AtomicU64>,
) -> (Vec<Sample>, Duration) {
    let requests = Arc::new(operation.requests(fixture.editor.is_some()));
    let client = Arc::new(client.reading(true));
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for n in 0..concurrency {
        let (client, fixture, requests, sent, errors_shown) = (
            client.clone(),
            fixture.clone(),
            requests.clone(),
            sent.clone(),
            errors_shown.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
            let total: u32 = requests.iter().map(|(_, w)| w).sum();
            let mut samples = Vec::new();
            loop {
                let sequence = sent.fetch_add(1, Ordering::Relaxed);
                if budget.is_some_and(|b| sequence >= b)
                    || (budget.is_none() && Instant::now() >= deadline)
                {
                    break;
                }
                let mut roll = rng.random_range(0..total.max(1));
                let mut request = requests[0].0;
                for (r, w) in requests.iter() {
                    if roll < *w {
                        request = *r;
                        break;
                    }
                    roll -= w;
                }
                let start = Instant::now();
                let result = send(&client, &fixture, request, &mut rng, sequence).await;
                let micros = start.elapsed().as_micros() as u64;
                if let Err(error) = &result
                    && errors_shown.fetch_add(1, Ordering::Relaxed) < 5
                {
                    eprintln!("{} failed: {error:#}", request.name());
                }
                samples.push(Sample {
                    request,
                    micros,
                    ok: result.is_ok(),
                    statements: result.ok().flatten(),
                });
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        if let Ok(mut s) = task.await {
            samples.append(&mut s);
        }
    }
    (samples, started.elapsed())
}

/// The figures of one operation (or of one kind of request within a mix).
#[derive(Serialize, Debug)]
struct Figures {
    operation: String,
    requests: u64,
    errors: u64,
    seconds: f64,
    requests_per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    sql_statements_per_request: Option<f64>,
    server_rss_max_mb: Option<f64>,
    /// CPU time the server process spent per request (user and system).
    server_cpu_ms_per_request: Option<f64>,
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

fn figures(name: String, samples: &[&Sample], elapsed: Duration, rss: Option<f64>) -> Figures {
    let mut latencies: Vec<u64> = samples.iter().map(|s| s.micros).collect();
    latencies.sort_unstable();
    let counted: Vec<u64> = samples.iter().filter_map(|s| s.statements).collect();
    let seconds = elapsed.as_secs_f64();
    Figures {
        operation: name,
        requests: samples.len() as u64,
        errors: samples.iter().filter(|s| !s.ok).count() as u64,
        seconds,
        requests_per_second: samples.len() as f64 / seconds.max(1e-9),
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().map_or(0.0, |m| *m as f64 / 1000.0),
        sql_statements_per_request: (!counted.is_empty())
            .then(|| counted.iter().sum::<u64>() as f64 / counted.len() as f64),
        server_rss_max_mb: rss,
        server_cpu_ms_per_request: None,
    }
}

/// CPU time (user and system, in seconds) a process of this machine has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces) start at its closing ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// The server's Prometheus page: `--metrics-url`, or `/metrics` under `base`.
pub fn metrics_url(base: &str) -> String {
    METRICS_URL
        .get()
        .cloned()
        .unwrap_or_else(|| format!("{base}/metrics"))
}

static METRICS_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Reads the server's resident memory (bytes) from its metrics.
async fn server_rss(http: &reqwest::Client, base: &str) -> Option<u64> {
    let text = http
        .get(metrics_url(base))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// Samples the server's memory every 250 ms until stopped; returns the highest.
fn watch_memory(
    http: reqwest::Client,
    base: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Option<u64>> {
    tokio::spawn(async move {
        let mut highest = None;
        while !stop.load(Ordering::Relaxed) {
            if let Some(rss) = server_rss(&http, &base).await {
                highest = Some(highest.map_or(rss, |h: u64| h.max(rss)));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        highest
    })
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map(|l| l.trim().to_owned());
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": model,
        "memory": memory,
    })
}

fn print_row(f: &Figures) {
    let optional = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
    };
    println!(
        "{:<24} {:>9} {:>7} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>8} {:>8}",
        f.operation,
        f.requests,
        f.errors,
        f.requests_per_second,
        f.p50_ms,
        f.p95_ms,
        f.p99_ms,
        f.max_ms,
        optional(f.sql_statements_per_request, 1),
        optional(f.server_rss_max_mb, 0),
        optional(f.server_cpu_ms_per_request, 2),
    );
}

/// One measured run of an operation against one server (after its warm-up): the samples, the
/// time they took and the server's highest resident memory (when it reports it).
#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    client: &Arc<Client>,
    fixture: &Arc<Fixture>,
    operation: Operation,
    http: &reqwest::Client,
    base: &str,
    pid: Option<u32>,
    errors_shown: &Arc<AtomicU64>,
) -> Run {
    if args.warmup > 0.0 {
        load(
            client.clone(),
            fixture.clone(),
            operation,
            args.concurrency,
            Duration::from_secs_f64(args.warmup),
            None,
            Arc::new(AtomicU64::new(u64::MAX / 2)),
        )
        .await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_memory(http.clone(), base.to_owned(), stop.clone());
    let cpu_before = pid.and_then(cpu_seconds);
    let (samples, elapsed) = load(
        client.clone(),
        fixture.clone(),
        operation,
        args.concurrency,
        Duration::from_secs_f64(args.duration),
        args.requests,
        errors_shown.clone(),
    )
    .await;
    let cpu = match (cpu_before, pid.and_then(cpu_seconds)) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    stop.store(true, Ordering::Relaxed);
    let rss = watcher
        .await
        .ok()
        .flatten()
        .map(|b| b as f64 / (1024.0 * 1024.0));
    Run {
        samples,
        elapsed,
        rss,
        cpu,
    }
}

/// One or more measured runs of an operation against one server.
#[derive(Default)]
struct Run {
    samples: Vec<Sample>,
    elapsed: Duration,
    rss: Option<f64>,
    /// CPU seconds the server used, when its process is known.
    cpu: Option<f64>,
}

impl Run {
    fn add(&mut self, mut other: Run) {
        self.samples.append(&mut other.samples);
        self.elapsed += other.elapsed;
        self.rss = match (self.rss, other.rss) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    fn figures(&self, name: String) -> Figures {
        let all: Vec<&Sample> = self.samples.iter().collect();
        let mut row = figures(name, &all, self.elapsed, self.rss);
        row.server_cpu_ms_per_request = self
            .cpu
            .filter(|_| !self.samples.is_empty())
            .map(|cpu| cpu * 1000.0 / self.samples.len() as f64);
        row
    }
}

/// The side-by-side figures of one operation against one peer.
#[derive(Serialize, Debug)]
struct Comparison {
    operation: String,
    peer: String,
    /// Stroom's throughput over the peer's.
    throughput_ratio: f64,
    /// Stroom's p99 latency over the peer's (below 1: Stroom's tail is shorter).
    p99_ratio: f64,
}

/// One server of a side-by-side run: its client, fixture, base URL and process ID.
type Target = (Arc<Client>, Arc<Fixture>, String, Option<u32>);

/// Runs each operation with a peer equivalent on Stroom and on each peer in turn (A B C A B C
/// …), so that all see the same machine weather, and prints each and Stroom's ratio to each.
async fn compare(
    args: &Args,
    targets: &[Target],
    http: &reqwest::Client,
    results: &mut Vec<Figures>,
    errors_shown: &Arc<AtomicU64>,
) -> Vec<Comparison> {
    let mut compared = Vec::new();
    for operation in &args.operations {
        if !matches!(operation, Operation::Dashboard | Operation::Node) {
            println!("note: {} has no peer equivalent; skipped", operation.name());
            continue;
        }
        let mut runs: Vec<Run> = targets.iter().map(|_| Run::default()).collect();
        for _ in 0..args.rounds.max(1) {
            for (slot, (client, fixture, base, pid)) in targets.iter().enumerate() {
                let run = measure(
                    args,
                    client,
                    fixture,
                    *operation,
                    http,
                    base,
                    *pid,
                    errors_shown,
                )
                .await;
                runs[slot].add(run);
            }
        }
        let rows: Vec<Figures> = runs
            .iter()
            .zip(targets)
            .map(|(run, (client, ..))| {
                run.figures(format!("{} {}", operation.name(), client.server.name()))
            })
            .collect();
        for row in &rows {
            print_row(row);
        }
        for (row, (client, ..)) in rows.iter().zip(targets).skip(1) {
            let comparison = Comparison {
                operation: operation.name().to_owned(),
                peer: client.server.name().to_owned(),
                throughput_ratio: rows[0].requests_per_second / row.requests_per_second.max(1e-9),
                p99_ratio: rows[0].p99_ms / row.p99_ms.max(1e-9),
            };
            println!(
                "{:<24} throughput {:.2}x {}'s, p99 {:.2}x its",
                format!("{} ratio", operation.name()),
                comparison.throughput_ratio,
                client.server.name(),
                comparison.p99_ratio
            );
            compared.push(comparison);
        }
        results.extend(rows);
    }
    compared
}

/// What the database alone sustains for one operation's statements.
#[derive(Serialize, Debug)]
struct Ceiling {
    operation: String,
    statements: usize,
    /// Pages (one run of all the operation's statements) per second through `pgbench`.
    sql_pages_per_second: f64,
    /// The server's throughput in this run over the SQL ceiling.
    server_over_ceiling: Option<f64>,
    script: String,
}

/// Replays the statements each operation runs through `pgbench` (prepared, as the server runs
/// them, with the same clients) and prints the server's throughput over that ceiling.
async fn sql_ceiling(
    args: &Args,
    client: &Client,
    fixture: &Fixture,
    database: &str,
    results: &[Figures],
) -> anyhow::Result<Vec<Ceiling>> {
    let directory = PathBuf::from("target/sql-ceiling");
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    println!();
    println!(
        "SQL ceiling: each operation's statements through pgbench ({} clients, {:.0} s)",
        args.concurrency, args.duration
    );
    println!(
        "{:<24} {:>10} {:>12} {:>12} {:>14}",
        "operation", "statements", "SQL pages/s", "server req/s", "server/ceiling"
    );
    let mut ceilings = Vec::new();
    for operation in &args.operations {
        let (document, variables) = match operation {
            Operation::Dashboard => (DASHBOARD, json!({})),
            Operation::Node => (NODE, json!({ "id": fixture.initiatives[0] })),
            Operation::DeepPaging => (DEEP_PAGING, json!({ "after": fixture.page_cursor })),
            Operation::Aggregate => (AGGREGATE, json!({ "indicator": fixture.indicator })),
            Operation::Search => (SEARCH, json!({ "query": fixture.search })),
            Operation::WriteMix | Operation::Mix => continue,
        };
        let answer = client
            .post_with(
                document,
                None,
                variables,
                None,
                &[("x-stroom-explain", "true")],
            )
            .await?;
        let statements: Vec<String> = answer.body["extensions"]["explain"]
            .as_array()
            .context("no extensions.explain: start the server with --explain")?
            .iter()
            .filter_map(|s| s["inlined"].as_str().map(str::to_owned))
            .collect();
        let script = directory.join(format!("{}.sql", operation.name()));
        let mut text = String::new();
        for statement in &statements {
            text.push_str(statement.trim_end_matches(';'));
            text.push_str(";\n");
        }
        std::fs::write(&script, text).with_context(|| format!("writing {}", script.display()))?;
        let mut pgbench = std::process::Command::new("pgbench");
        pgbench
            .args(["--no-vacuum", "--protocol=prepared"])
            .arg(format!("--client={}", args.concurrency))
            .arg(format!("--jobs={}", args.threads.max(2)))
            .arg(format!("--time={}", args.duration.ceil().max(1.0) as u64))
            .arg(format!("--file={}", script.display()))
            .arg(database);
        let output = tokio::task::spawn_blocking(move || pgbench.output())
            .await?
            .context("running pgbench (install PostgreSQL's client tools)")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "pgbench failed on {}: {}{}",
                script.display(),
                stdout,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let tps = stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
        let server = results
            .iter()
            .find(|r| {
                r.operation == operation.name()
                    || r.operation == format!("{} stroom", operation.name())
            })
            .map(|r| r.requests_per_second);
        let ceiling = Ceiling {
            operation: operation.name().to_owned(),
            statements: statements.len(),
            sql_pages_per_second: tps,
            server_over_ceiling: server.map(|s| s / tps.max(1e-9)),
            script: script.display().to_string(),
        };
        println!(
            "{:<24} {:>10} {:>12.1} {:>12} {:>14}",
            ceiling.operation,
            ceiling.statements,
            ceiling.sql_pages_per_second,
            server.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}")),
            ceiling
                .server_over_ceiling
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}")),
        );
        ceilings.push(ceiling);
    }
    Ok(ceilings)
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let base = args.url.trim_end_matches('/').to_owned();
    if let Some(url) = &args.metrics_url {
        let _ = METRICS_URL.set(url.clone());
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(1) * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .with_context(|| format!("reaching {base}"))?;
    if !ready.status().is_success() {
        bail!("{base}/readyz answered {}", ready.status());
    }
    let client = Arc::new(Client {
        http: http.clone(),
        endpoint: format!("{base}/graphql"),
        server: Server::Stroom,
        light: false,
    });
    let fixture = Arc::new(prepare(&client, &args).await?);
    if fixture.page_reached < args.page {
        println!(
            "note: the needs end at page {}; deep paging reads that page instead of page {}",
            fixture.page_reached, args.page
        );
    }
    if fixture.editor.is_none()
        && args
            .operations
            .iter()
            .any(|o| matches!(o, Operation::WriteMix | Operation::Mix))
    {
        println!("note: no --editor-key: write-mix and mix run without their updates");
    }

    println!(
        "{} concurrent clients, {} per operation, warm-up {:.0} s, against {base}",
        args.concurrency,
        args.requests.map_or_else(
            || format!("{:.0} s", args.duration),
            |n| format!("{n} requests")
        ),
        args.warmup
    );
    println!(
        "{:<24} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "operation",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "SQL/req",
        "RSS MB",
        "CPU ms"
    );
    let errors_shown = Arc::new(AtomicU64::new(0));
    let mut results = Vec::new();
    let mut compared = Vec::new();
    let peers = [
        (&args.peer_url, Server::Peer, args.peer_pid),
        (&args.peer5_url, Server::Peer5, args.peer5_pid),
    ];
    if peers.iter().any(|(url, ..)| url.is_some()) {
        let mut targets: Vec<Target> = vec![(
            client.clone(),
            fixture.clone(),
            base.clone(),
            args.server_pid,
        )];
        for (url, server, pid) in peers {
            let Some(url) = url else { continue };
            let peer_base = url.trim_end_matches('/').to_owned();
            let peer = Arc::new(Client {
                http: http.clone(),
                endpoint: format!("{peer_base}/graphql"),
                server,
                light: false,
            });
            let peer_fixture = Arc::new(
                prepare_peer(&peer)
                    .await
                    .with_context(|| format!("preparing {}", server.name()))?,
            );
            targets.push((peer, peer_fixture, peer_base, pid));
        }
        compared = compare(&args, &targets, &http, &mut results, &errors_shown).await;
    } else {
        for operation in &args.operations {
            let run = measure(
                &args,
                &client,
                &fixture,
                *operation,
                &http,
                &base,
                args.server_pid,
                &errors_shown,
            )
            .await;
            let row = run.figures(operation.name().to_owned());
            print_row(&row);
            let (samples, elapsed) = (&run.samples, run.elapsed);
            results.push(row);
            let kinds: Vec<Request> = Request::ALL
                .into_iter()
                .filter(|r| samples.iter().any(|s| s.request == *r))
                .collect();
            if kinds.len() > 1 {
                for kind in kinds {
                    let of_kind: Vec<&Sample> =
                        samples.iter().filter(|s| s.request == kind).collect();
                    let row = figures(
                        format!("  {}/{}", operation.name(), kind.name()),
                        &of_kind,
                        elapsed,
                        None,
                    );
                    print_row(&row);
                    results.push(row);
                }
            }
        }
    }
    let live = match args.live_subscribers {
        0 => Value::Null,
        _ => live_fan_out(&args, &client, &fixture, &http, &base).await?,
    };
    let ceilings = match &args.sql_ceiling {
        Some(database) => sql_ceiling(&args, &client, &fixture, database, &results).await?,
        None => Vec::new(),
    };
    let errors: u64 = results
        .iter()
        .filter(|r| !r.operation.starts_with(' '))
        .map(|r| r.errors)
        .sum();
    if let Some(path) = &args.json {
        let report = json!({
            "server": base,
            "machine": machine(),
            "concurrency": args.concurrency,
            "duration_seconds": args.duration,
            "requests_per_operation": args.requests,
            "warmup_seconds": args.warmup,
            "load_generator_threads": args.threads,
            "deep_paging_page": fixture.page_reached,
            "results": results,
            "peer": args.peer_url,
            "peer5": args.peer5_url,
            "rounds": (args.peer_url.is_some() || args.peer5_url.is_some()).then_some(args.rounds),
            "comparison": compared,
            "sql_ceiling": ceilings,
            "live": live,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if errors > 0 {
        eprintln!("{errors} requests failed");
    }
    Ok(errors == 0 || args.allow_errors)
}

mod live;

/// Updates alone, then with `--live-subscribers` subscriptions; prints and answers the figures.
async fn live_fan_out(
    args: &Args,
    client: &Arc<Client>,
    fixture: &Arc<Fixture>,
    http: &reqwest::Client,
    base: &str,
) -> anyhow::Result<Value> {
    if fixture.editor.is_none() {
        bail!("--live-subscribers needs --editor-key");
    }
    let write = {
        let (client, fixture) = (client.clone(), fixture.clone());
        move |sequence: u64| {
            let (client, fixture) = (client.clone(), fixture.clone());
            async move { update(&client, &fixture, sequence).await }
        }
    };
    let duration = Duration::from_secs_f64(args.duration);
    let rate = args.live_write_rate;
    let alone = live::writes(http, base, args.live_writers, rate, duration, write.clone()).await?;
    let subscribers = args.live_subscribers;
    let received = live::subscribe(base, subscribers).await?;
    // Every subscription is running once one write reached them all.
    let mut ready = false;
    for attempt in 0..50u64 {
        received.store(0, std::sync::atomic::Ordering::Relaxed);
        update(client, fixture, 2_000_000 + attempt).await?;
        let got = live::delivered(&received, subscribers as u64, Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if got >= subscribers as u64 {
            ready = true;
            break;
        }
    }
    if !ready {
        bail!("the {subscribers} subscriptions did not all start");
    }
    received.store(0, std::sync::atomic::Ordering::Relaxed);
    let with = live::writes(http, base, args.live_writers, rate, duration, write).await?;
    let expected = with.writes * subscribers as u64;
    let got = live::delivered(&received, expected, Duration::from_secs(60)).await;
    let ratio = with.p99_ms / alone.p99_ms.max(0.001);
    let extra = with.statements_per_write - alone.statements_per_write;
    println!(
        "live fan-out, {} writers, {rate} writes/s: alone {} writes, p50 {:.1} ms, p99 {:.1} ms, {:.2} SQL/write",
        args.live_writers, alone.writes, alone.p50_ms, alone.p99_ms, alone.statements_per_write
    );
    println!(
        "  with {subscribers} subscribers: {} writes, p50 {:.1} ms, p99 {:.1} ms, {:.2} SQL/write; \
         p99 {ratio:.2}x alone, {extra:+.2} SQL per write; events delivered {got} of {expected}",
        with.writes, with.p50_ms, with.p99_ms, with.statements_per_write
    );
    if got < expected {
        bail!("{} events were not delivered", expected - got);
    }
    Ok(json!({
        "subscribers": subscribers,
        "writers": args.live_writers,
        "write_rate": rate,
        "alone": {"writes": alone.writes, "errors": alone.errors, "p50_ms": alone.p50_ms, "p99_ms": alone.p99_ms, "statements_per_write": alone.statements_per_write},
        "with_subscribers": {"writes": with.writes, "errors": with.errors, "p50_ms": with.p50_ms, "p99_ms": with.p99_ms, "statements_per_write": with.statements_per_write},
        "p99_ratio": ratio,
        "extra_statements_per_write": extra,
        "events_delivered": got,
        "events_expected": expected,
    }))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    if runtime.block_on(run(args))? {
        Ok(())
    } else {
        std::process::exit(1)
    }
}
