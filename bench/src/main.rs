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

/// Load benchmark for a running Stroom API server. Start the server with generous rate limits
/// and `--sql-statements-header` (see the README's Performance section).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
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

struct Client {
    http: reqwest::Client,
    endpoint: String,
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
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("accept", "application/graphql-response+json")
            .json(&json!({
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
        let body: Value = response.json().await.context("reading the response")?;
        if !status.is_success() {
            bail!("HTTP {status}: {}", compact(&body));
        }
        if let Some(errors) = body.get("errors").filter(|e| !is_empty(e)) {
            bail!("GraphQL errors: {}", compact(errors));
        }
        Ok(Answer { body, statements })
    }
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

/// Sends one request of a kind; returns the statements the server reported.
async fn send(
    client: &Client,
    fixture: &Fixture,
    request: Request,
    rng: &mut ChaCha8Rng,
    sequence: u64,
) -> anyhow::Result<Option<u64>> {
    let answer = match request {
        Request::Dashboard => client.post(DASHBOARD, None, json!({}), None).await?,
        Request::Node => {
            let id = &fixture.initiatives[rng.random_range(0..fixture.initiatives.len())];
            client.post(NODE, None, json!({ "id": id }), None).await?
        }
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
    }
}

/// Reads the server's resident memory (bytes) from `/metrics`.
async fn server_rss(http: &reqwest::Client, base: &str) -> Option<u64> {
    let text = http
        .get(format!("{base}/metrics"))
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
        "{:<24} {:>9} {:>7} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>8}",
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
    );
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let base = args.url.trim_end_matches('/').to_owned();
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
        "{:<24} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "operation",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "SQL/req",
        "RSS MB"
    );
    let errors_shown = Arc::new(AtomicU64::new(0));
    let mut results = Vec::new();
    for operation in &args.operations {
        if args.warmup > 0.0 {
            load(
                client.clone(),
                fixture.clone(),
                *operation,
                args.concurrency,
                Duration::from_secs_f64(args.warmup),
                None,
                Arc::new(AtomicU64::new(u64::MAX / 2)),
            )
            .await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = watch_memory(http.clone(), base.clone(), stop.clone());
        let (samples, elapsed) = load(
            client.clone(),
            fixture.clone(),
            *operation,
            args.concurrency,
            Duration::from_secs_f64(args.duration),
            args.requests,
            errors_shown.clone(),
        )
        .await;
        stop.store(true, Ordering::Relaxed);
        let rss = watcher
            .await
            .ok()
            .flatten()
            .map(|b| b as f64 / (1024.0 * 1024.0));
        let all: Vec<&Sample> = samples.iter().collect();
        let row = figures(operation.name().to_owned(), &all, elapsed, rss);
        print_row(&row);
        results.push(row);
        let kinds: Vec<Request> = Request::ALL
            .into_iter()
            .filter(|r| samples.iter().any(|s| s.request == *r))
            .collect();
        if kinds.len() > 1 {
            for kind in kinds {
                let of_kind: Vec<&Sample> = samples.iter().filter(|s| s.request == kind).collect();
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
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if errors > 0 {
        eprintln!("{errors} requests failed");
    }
    Ok(errors == 0 || args.allow_errors)
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
