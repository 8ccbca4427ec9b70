//! Configuration: command-line flags, each with an environment variable, read once at start.
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The SQLite file used when no database URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://stroom.db?mode=rwc";

/// Stroom API: a GraphQL service over a city's circular-economy citizen programme.
#[derive(Parser, Debug)]
#[command(name = "stroom", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Without a subcommand, `stroom` serves with these settings.
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`. Default: the SQLite
    /// file `stroom.db` in the working directory, created if missing.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Log format: human-readable text or JSON lines.
    #[arg(long, env = "STROOM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Log each step of a request (loaders, lists, writes, statistics) as it ends, with its
    /// duration under the request's span and ID (text logs only). The steps are at debug level:
    /// `RUST_LOG=info,stroom_api=debug`. For finding where a slow request spends its time.
    #[arg(long, env = "STROOM_LOG_SPANS", global = true)]
    pub log_spans: bool,

    /// Send traces to this OpenTelemetry collector (OTLP over HTTP, such as
    /// `http://otel-collector:4318`). Needs a build with the `otel` feature; off by default.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true)]
    pub otel_endpoint: Option<String>,

    /// Most connections in the database pool (default: 16 on PostgreSQL, 8 on SQLite).
    #[arg(long, env = "STROOM_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<u32>,
}

impl Cli {
    /// Parses the command line. Serve flags belong to serving: given before another
    /// subcommand they would be ignored, so that is refused.
    pub fn parse_checked() -> Self {
        use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
        let mut command = Self::command();
        let matches = command.clone().get_matches();
        let cli = match Self::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(error) => error.exit(),
        };
        if cli.command.is_some() {
            let serve_flags: Vec<String> =
                <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"))
                    .get_arguments()
                    .map(|a| a.get_id().to_string())
                    .collect();
            for id in serve_flags {
                if matches.value_source(&id) == Some(ValueSource::CommandLine) {
                    command
                        .error(
                            clap::error::ErrorKind::ArgumentConflict,
                            format!(
                                "`--{}` is a serve setting: it cannot go with a subcommand",
                                id.replace('_', "-")
                            ),
                        )
                        .exit();
                }
            }
        }
        cli
    }
}

impl GlobalArgs {
    pub fn database_url(&self) -> &str {
        self.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL)
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once at start: the size of the serve settings does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed(SeedArgs),
    /// Fill an empty database with the demo data and a large synthetic data set (for
    /// benchmarks): ~100k initiatives, ~300k needs, ~1M outcomes at the default scale.
    Generate(GenerateArgs),
    /// Print the GraphQL schema (SDL), as committed in `schema.graphql`.
    Schema,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage webhook endpoints.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Import records from a spreadsheet (.xlsx, .ods, .xls or .csv) with a report per row, or
    /// write a template (`--template TYPE`).
    Import(ImportArgs),
    /// Follow partner cities' instances (the CECI network).
    #[command(subcommand)]
    Follow(FollowCommand),
    /// Ask a running server whether it is ready (for container health checks): exits 0 when
    /// `/readyz` answers 200.
    Ready {
        /// The readiness URL (plain HTTP).
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
}

/// The record types a spreadsheet can hold, as `--type` and `--template` name them.
pub const IMPORT_TYPES: [&str; 6] = [
    "initiatives",
    "needs",
    "organisations",
    "partnerships",
    "outcomes",
    "learnings",
];

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The spreadsheet to import; with `--template`, where to write the template (default
    /// `TYPE-template.xlsx`).
    pub file: Option<std::path::PathBuf>,
    /// What the rows are.
    #[arg(long = "type", value_parser = clap::builder::PossibleValuesParser::new(IMPORT_TYPES))]
    pub record_type: Option<String>,
    /// Check every row and report, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the good rows even when others are refused (otherwise all or nothing).
    #[arg(long)]
    pub partial: bool,
    /// Also write the report to a file: `.json`, or `.xlsx` for an annotated copy of the
    /// spreadsheet with the problems marked. May be given more than once.
    #[arg(long)]
    pub report: Vec<std::path::PathBuf>,
    /// Write the template of a record type (headers, an example row, lists of values and an
    /// explanation sheet) instead of importing.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(IMPORT_TYPES))]
    pub template: Option<String>,
    /// Print every record type's columns (Markdown) instead of importing.
    #[arg(long)]
    pub columns: bool,
    /// The template's language.
    #[arg(long, default_value = "nl", value_parser = ["en", "nl", "fr"])]
    pub language: String,
    /// The language of texts whose column names none (`naam` rather than `naam (en)`); by
    /// default the language the column names are in.
    #[arg(long)]
    pub locale: Option<String>,
    /// CSV only: the text encoding (detected when not given).
    #[arg(long, value_parser = ["utf-8", "windows-1252"])]
    pub encoding: Option<String>,
    /// CSV only: the separator, `,`, `;`, `|` or `tab` (detected when not given).
    #[arg(long)]
    pub separator: Option<String>,
    /// Import as this API key: its role and municipality apply and the audit trail names it.
    /// Without one, the import is the command line's, with the admin role.
    #[arg(long, env = "STROOM_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Refuse files larger than this many megabytes.
    #[arg(long, default_value_t = 200)]
    pub max_file_mb: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; its token is printed once, alone on the last line.
    Create {
        /// A name that says whose key it is; the audit log shows it.
        #[arg(long)]
        name: String,
        /// What the key may do.
        #[arg(long, value_enum)]
        role: KeyRoleArg,
        /// For an editor key: the municipality it writes to, by name or ID.
        #[arg(long)]
        municipality: Option<String>,
        /// The day the key stops working (`YYYY-MM-DD`, the key works through that day) or
        /// an RFC 3339 instant.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List the keys.
    List,
    /// Revoke a key, by name or ID: it is refused from the next request on.
    Revoke {
        /// The key's name or ID.
        key: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// Register an endpoint; its signing secret is printed once, alone on the last line.
    Add {
        /// Where deliveries go: an https:// URL on a public address.
        #[arg(long)]
        url: String,
        /// The event types it receives, comma-separated (`initiative.created,need.*`);
        /// none: all.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// What it is for; `list` shows it, and the other commands find it by it.
        #[arg(long)]
        description: Option<String>,
        /// Allow a URL on an internal address (loopback, private networks).
        #[arg(long, env = "STROOM_WEBHOOKS_ALLOW_INTERNAL", default_value_t = false)]
        allow_internal: bool,
    },
    /// List the endpoints with their state and messages.
    List,
    /// Stop deliveries to an endpoint (by ID, description or URL); messages wait for it.
    Disable {
        /// The endpoint's ID, description or URL.
        endpoint: String,
    },
    /// Enable an endpoint again (by ID, description or URL).
    Enable {
        /// The endpoint's ID, description or URL.
        endpoint: String,
    },
    /// Remove (archive) an endpoint: no more deliveries.
    Remove {
        /// The endpoint's ID, description or URL.
        endpoint: String,
    },
    /// Queue a `webhook.test` message for an endpoint; a running server delivers it.
    Test {
        /// The endpoint's ID, description or URL.
        endpoint: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum FollowCommand {
    /// Follow another instance: its announcement is read and checked, then a running server
    /// copies what is followed from its change feed.
    Add {
        /// Its address (`https://stroom.lahti.fi`).
        url: String,
        /// An API key of that instance to read with (a partner key also brings partner-only
        /// learnings).
        #[arg(long)]
        key: Option<String>,
        /// What to follow, comma-separated (default: learnings).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
    },
    /// List the followed instances with how following each goes.
    List,
    /// Stop following an instance (by its address); its copies leave the lists.
    Remove {
        /// Its address.
        url: String,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRoleArg {
    Partner,
    Editor,
    Admin,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "STROOM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Load the Stroom demo data into an empty database at start. Default: on for the embedded
    /// SQLite file, off when DATABASE_URL is given.
    #[arg(long, env = "STROOM_DEMO", num_args = 0..=1, default_missing_value = "true")]
    pub demo: Option<bool>,

    /// Longest time a request may run, in milliseconds.
    #[arg(long, env = "STROOM_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// Largest request body, in bytes.
    #[arg(long, env = "STROOM_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// Largest upload (a spreadsheet sent to `importRecords` as a multipart request), in bytes.
    #[arg(long, env = "STROOM_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: usize,

    /// Add an `x-stroom-sql-statements` header with the number of SQL statements a request ran
    /// (for tests and benchmarks).
    #[arg(long, env = "STROOM_SQL_STATEMENTS_HEADER", default_value_t = false)]
    pub sql_statements_header: bool,

    /// Results of aggregates and search kept for reuse while the data is unchanged (0: none).
    #[arg(long, env = "STROOM_RESULT_CACHE_ENTRIES", default_value_t = 1000)]
    pub result_cache_entries: usize,

    /// Memory the kept results may take, in megabytes, keys and bookkeeping included.
    #[arg(
        long = "result-cache-mb",
        env = "STROOM_RESULT_CACHE_MB",
        default_value_t = 16
    )]
    pub result_cache_megabytes: usize,

    /// Parsed query documents kept by their text, so a repeated query is not parsed again
    /// (0: none).
    #[arg(long, env = "STROOM_DOCUMENT_CACHE_ENTRIES", default_value_t = 500)]
    pub document_cache_entries: usize,

    /// Memory the kept documents may take, in megabytes (each weighed by its syntax tree).
    #[arg(
        long = "document-cache-mb",
        env = "STROOM_DOCUMENT_CACHE_MB",
        default_value_t = 16
    )]
    pub document_cache_megabytes: usize,

    /// Memory this process gives persisted queries (APQ) it keeps beside Redis, in megabytes.
    #[arg(
        long = "persisted-cache-mb",
        env = "STROOM_PERSISTED_CACHE_MB",
        default_value_t = 8
    )]
    pub persisted_cache_megabytes: usize,

    /// Whole answers of repeated queries kept for reuse while the tables they read are
    /// unchanged (0: none). The same query, variables, caller and languages get the kept answer,
    /// with an `ETag`; a GET that sends it back in `If-None-Match` gets `304 Not Modified`.
    #[arg(long, env = "STROOM_RESPONSE_CACHE_ENTRIES", default_value_t = 1000)]
    pub response_cache_entries: usize,

    /// Memory the kept answers may take, in megabytes, keys, headers and bookkeeping included
    /// (an answer larger than an eighth of it is not kept).
    #[arg(
        long = "response-cache-mb",
        env = "STROOM_RESPONSE_CACHE_MB",
        default_value_t = 64
    )]
    pub response_cache_megabytes: usize,

    /// Longest a kept result or answer is reused, in seconds, even if no change was recorded
    /// (bounds staleness after bulk loads that bypass the API).
    #[arg(long, env = "STROOM_RESULT_CACHE_MAX_AGE", default_value_t = 300)]
    pub result_cache_max_age_secs: u64,

    /// Let a request sent with the header `x-stroom-explain: true` receive the SQL statements
    /// it ran and the database's plan for each in `extensions.explain`. For development and
    /// index checks only: it shows the SQL behind the schema.
    #[arg(long, env = "STROOM_EXPLAIN", default_value_t = false)]
    pub explain: bool,

    /// Answer queries over records (`node`, lists, nested lists, references, texts, pages)
    /// with one compiled SQL statement each; off, every query is resolved field by field.
    /// A request sent with `x-stroom-compile: false` is resolved field by field either way.
    #[arg(
        long,
        env = "STROOM_COMPILED_READS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    pub compiled_reads: bool,

    /// An address of its own for `/metrics`, served there without a key (for a scraper on an
    /// internal network); without it, `/metrics` on the service's address is for admin keys.
    #[arg(long, env = "STROOM_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Seconds a client has to send a request's head (from its first byte).
    #[arg(long, env = "STROOM_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a client has to send a request's body.
    #[arg(long, env = "STROOM_BODY_TIMEOUT", default_value_t = 30)]
    pub body_timeout_secs: u64,

    /// Seconds a kept-alive connection may wait for its next request (longer than the idle
    /// timeout of a load balancer in front, such as 60 s).
    #[arg(long, env = "STROOM_IDLE_TIMEOUT", default_value_t = 75)]
    pub idle_timeout_secs: u64,

    /// Connections open at once (kept under the process's open-files limit).
    #[arg(long, env = "STROOM_MAX_CONNECTIONS", default_value_t = 2048)]
    pub max_connections: usize,

    /// Connections open at once from one client address (0: no cap). Not applied when
    /// `--client-ip-header` is set: behind a proxy every connection comes from the proxy.
    #[arg(
        long,
        env = "STROOM_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 128
    )]
    pub max_connections_per_address: usize,

    /// Connections open at once from one /24 (IPv4) or /64 (IPv6) network (0: no cap). Not
    /// applied behind a proxy (`--client-ip-header`).
    #[arg(
        long,
        env = "STROOM_MAX_CONNECTIONS_PER_NETWORK",
        default_value_t = 256
    )]
    pub max_connections_per_network: usize,

    /// Megabytes of answers being sent at once, in all: a large answer is held until its
    /// client has read it; one that finds no room within 2 s gets a 503.
    #[arg(long, env = "STROOM_SEND_BUDGET_MB", default_value_t = 128)]
    pub send_budget_mb: u64,

    /// Bytes per second a client must read an answer at, once the server waits on it (0: no
    /// floor); measured over `--min-read-window-secs`, below it the connection is closed.
    #[arg(long, env = "STROOM_MIN_READ_RATE", default_value_t = 2048)]
    pub min_read_rate: u64,

    /// Seconds over which the read rate of a client the server waits on is measured.
    #[arg(long, env = "STROOM_MIN_READ_WINDOW", default_value_t = 10)]
    pub min_read_window_secs: u64,

    /// Seconds in-flight requests get to finish after a shutdown signal.
    #[arg(long, env = "STROOM_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace_secs: u64,

    /// Redis URL (`redis://127.0.0.1:6379`): rate limits and persisted queries are then shared
    /// by every instance using it; without it they live in this process.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Longest wait for Redis, in milliseconds (connecting or answering); past it, and while
    /// Redis is away, each instance limits rates and keeps persisted queries on its own.
    #[arg(long, env = "STROOM_REDIS_TIMEOUT_MS", default_value_t = 50)]
    pub redis_timeout_ms: u64,

    /// A PEM file of the certificate authority that signed Redis's certificate, for `rediss://`
    /// URLs (default: the system's roots).
    #[arg(long, env = "STROOM_REDIS_CA_FILE")]
    pub redis_ca_file: Option<std::path::PathBuf>,

    /// Prefix of this deployment's Redis keys, so several deployments can share one Redis.
    #[arg(long, env = "STROOM_REDIS_PREFIX", default_value = "stroom")]
    pub redis_prefix: String,

    /// Rate-limit points per window for each API key (a query spends one point per hundred
    /// records it could return, at least one; a change ten).
    #[arg(long, env = "STROOM_RATE_LIMIT_POINTS", default_value_t = 10_000)]
    pub rate_limit_points: u64,

    /// Rate-limit points per window for each client address without a key.
    #[arg(
        long,
        env = "STROOM_RATE_LIMIT_ANONYMOUS_POINTS",
        default_value_t = 2_000
    )]
    pub rate_limit_anonymous_points: u64,

    /// The rate-limit window, in seconds.
    #[arg(long, env = "STROOM_RATE_LIMIT_WINDOW", default_value_t = 3600)]
    pub rate_limit_window_secs: u64,

    /// A header holding the client's address, set by a trusted load balancer (such as
    /// `x-forwarded-for`; its first address counts). Without it, the connection's peer counts.
    #[arg(long, env = "STROOM_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,

    /// Origins allowed to call the API from a browser: `*` (any, without credentials) or a
    /// comma-separated list such as `https://dashboard.mechelen.be`.
    #[arg(long, env = "STROOM_CORS_ORIGINS", default_value = "*")]
    pub cors_origins: String,

    /// How long browsers and proxies may reuse an anonymous GET answer without asking again, in
    /// seconds. 0 (the default): `Cache-Control: public, no-cache`, so every reuse is revalidated
    /// with the answer's entity tag (a `304` while the data is unchanged) and no client ever sees
    /// an answer a write has replaced. More trades that guarantee for fewer requests.
    #[arg(long, env = "STROOM_CACHE_MAX_AGE", default_value_t = 0)]
    pub cache_max_age_secs: u64,

    /// The instance's name, as it announces itself to the instances that follow it
    /// (`/.well-known/stroom`).
    #[arg(long, env = "STROOM_INSTANCE_NAME", default_value = "Stroom")]
    pub instance_name: String,

    /// The municipality running the instance, by its name in any of its languages: the
    /// announcement gives its ID, name, country and language.
    #[arg(long, env = "STROOM_INSTANCE_MUNICIPALITY")]
    pub instance_municipality: Option<String>,

    /// How often each followed instance's change feed is read when it had nothing new, in
    /// milliseconds (a failing one is read less often, up to every five minutes).
    #[arg(long, env = "STROOM_FOLLOW_POLL_MS", default_value_t = 1000)]
    pub follow_poll_ms: u64,

    /// The address other instances reach this one at, such as `https://stroom.mechelen.be`
    /// (default: the address each request came in at).
    #[arg(long, env = "STROOM_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Deepest field nesting a query may have.
    #[arg(long, env = "STROOM_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,

    /// Most records a query could return (each list multiplies what is below it by its page size).
    #[arg(long, env = "STROOM_MAX_NODES", default_value_t = 50_000)]
    pub max_nodes: u64,

    /// Most aliases in a query.
    #[arg(long, env = "STROOM_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,

    /// Most directives in a query.
    #[arg(long, env = "STROOM_MAX_DIRECTIVES", default_value_t = 30)]
    pub max_directives: usize,

    /// Longest query document, in characters.
    #[arg(long, env = "STROOM_MAX_QUERY_CHARS", default_value_t = 20_000)]
    pub max_query_chars: usize,

    /// Most tokens in a query document.
    #[arg(long, env = "STROOM_MAX_QUERY_TOKENS", default_value_t = 5_000)]
    pub max_query_tokens: usize,

    /// Deepest nesting of brackets in a query, of lists and objects in `variables` and
    /// `extensions`, and of selections and fragment spreads once fragments are followed.
    #[arg(long, env = "STROOM_MAX_NESTING", default_value_t = 32)]
    pub max_nesting: usize,

    /// Most field selections in a query once its fragments are spread in place.
    #[arg(long, env = "STROOM_MAX_FIELDS", default_value_t = 5_000)]
    pub max_fields: u64,

    /// Deliver webhooks from this instance (every instance may: they never take the same
    /// message).
    #[arg(long, env = "STROOM_WEBHOOKS_DELIVER", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhooks_deliver: bool,

    /// Let webhook endpoints be on internal addresses (loopback, private networks, link-local):
    /// only for receivers inside a trusted network. Off, such URLs are refused (SSRF).
    #[arg(long, env = "STROOM_WEBHOOKS_ALLOW_INTERNAL", default_value_t = false)]
    pub webhooks_allow_internal: bool,

    /// Seconds one webhook delivery attempt may take.
    #[arg(long, env = "STROOM_WEBHOOK_TIMEOUT", default_value_t = 10)]
    pub webhook_timeout_secs: u64,

    /// Milliseconds before the first retry of a failed webhook delivery; later retries wait
    /// 60, 360, 1440, 3600 and 7200 times as long (5 s: 5 min, 30 min, 2 h, 5 h, 10 h, 10 h,
    /// 10 h; nine attempts over some 37 hours). 0 retries at once, for tests.
    #[arg(long, env = "STROOM_WEBHOOK_RETRY_BASE_MS", default_value_t = 5_000)]
    pub webhook_retry_base_ms: u64,

    /// Hours the previous webhook secret keeps signing after a rotation.
    #[arg(long, env = "STROOM_WEBHOOK_SECRET_GRACE_HOURS", default_value_t = 24)]
    pub webhook_secret_grace_hours: u64,

    /// Milliseconds between looks for webhook work made elsewhere (another instance's
    /// changes, retries falling due).
    #[arg(long, env = "STROOM_WEBHOOK_POLL_MS", default_value_t = 1_000)]
    pub webhook_poll_ms: u64,

    /// Live connections (WebSockets and event streams) open at once, in all.
    #[arg(long, env = "STROOM_LIVE_MAX_CONNECTIONS", default_value_t = 1_000)]
    pub live_max_connections: usize,

    /// Live connections open at once per API key and per client address.
    #[arg(long, env = "STROOM_LIVE_CONNECTIONS_PER_CLIENT", default_value_t = 8)]
    pub live_connections_per_client: usize,

    /// Subscriptions running at once per API key and per client address.
    #[arg(
        long,
        env = "STROOM_LIVE_SUBSCRIPTIONS_PER_CLIENT",
        default_value_t = 32
    )]
    pub live_subscriptions_per_client: usize,

    /// WebSockets and event streams open at once per /24 (IPv4) or /64 (IPv6) network of
    /// client addresses.
    #[arg(
        long,
        env = "STROOM_LIVE_CONNECTIONS_PER_NETWORK",
        default_value_t = 32
    )]
    pub live_connections_per_network: usize,

    /// Subscriptions running at once per /24 or /64 network of client addresses.
    #[arg(
        long,
        env = "STROOM_LIVE_SUBSCRIPTIONS_PER_NETWORK",
        default_value_t = 128
    )]
    pub live_subscriptions_per_network: usize,

    /// Longest time, in milliseconds, before a live stream learns that its API key was
    /// revoked, expired or changed rights (it is also checked at every change committed).
    #[arg(long, env = "STROOM_LIVE_KEY_CHECK_MS", default_value_t = 2_000)]
    pub live_key_check_ms: u64,

    /// Batches of changes waiting for one live subscriber; one that falls further behind is
    /// ended with an error telling where to resume.
    #[arg(long, env = "STROOM_LIVE_QUEUE", default_value_t = 64)]
    pub live_queue: usize,

    /// Milliseconds between reads of the change feed's last number, which is how live
    /// subscribers and webhooks learn of other instances' changes on SQLite (on PostgreSQL they
    /// hear of them at once by LISTEN/NOTIFY, and the reads only cover reconnections).
    #[arg(long, env = "STROOM_FEED_POLL_MS", default_value_t = 1_000)]
    pub feed_poll_ms: u64,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: None,
            request_timeout_ms: 30_000,
            max_body_bytes: 256 * 1024,
            max_upload_bytes: 20 * 1024 * 1024,
            sql_statements_header: false,
            result_cache_entries: 1000,
            result_cache_megabytes: 16,
            document_cache_megabytes: 16,
            persisted_cache_megabytes: 8,
            response_cache_entries: 1000,
            document_cache_entries: 500,
            response_cache_megabytes: 64,
            result_cache_max_age_secs: 300,
            instance_name: "Stroom".to_owned(),
            instance_municipality: None,
            follow_poll_ms: 1000,
            public_url: None,
            explain: false,
            compiled_reads: true,
            metrics_listen: None,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            idle_timeout_secs: 75,
            max_connections: 2048,
            max_connections_per_address: 128,
            max_connections_per_network: 256,
            send_budget_mb: 128,
            min_read_rate: 2048,
            min_read_window_secs: 10,
            shutdown_grace_secs: 20,
            redis_url: None,
            redis_prefix: "stroom".to_owned(),
            redis_timeout_ms: 50,
            redis_ca_file: None,
            rate_limit_points: 10_000,
            rate_limit_anonymous_points: 2_000,
            rate_limit_window_secs: 3600,
            client_ip_header: None,
            cors_origins: "*".to_owned(),
            cache_max_age_secs: 0,
            max_depth: 12,
            max_nodes: 50_000,
            max_aliases: 30,
            max_directives: 30,
            max_query_chars: 20_000,
            max_query_tokens: 5_000,
            max_nesting: 32,
            max_fields: 5_000,
            webhooks_deliver: true,
            webhooks_allow_internal: false,
            webhook_timeout_secs: 10,
            webhook_retry_base_ms: 5_000,
            webhook_secret_grace_hours: 24,
            webhook_poll_ms: 1_000,
            live_max_connections: 1_000,
            live_connections_per_client: 8,
            live_subscriptions_per_client: 32,
            live_connections_per_network: 32,
            live_subscriptions_per_network: 128,
            live_key_check_ms: 2_000,
            live_queue: 64,
            feed_poll_ms: 1_000,
        }
    }
}

impl ServeArgs {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// How connections are accepted and kept, within `open_files` (the process's limit).
    pub fn connection_limits(
        &self,
        open_files: Option<u64>,
    ) -> crate::http::server::ConnectionLimits {
        // Leave room for the database pool, Redis, log files and the connections being refused.
        let room = open_files
            .map(|n| n.saturating_sub(256) as usize)
            .unwrap_or(usize::MAX)
            .max(16);
        if self.max_connections > room {
            tracing::warn!(
                configured = self.max_connections,
                allowed = room,
                "fewer connections than configured: the open-files limit is too low"
            );
        }
        crate::http::server::ConnectionLimits {
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
            max_connections: self.max_connections.clamp(1, room),
            min_read_rate: self.min_read_rate,
            read_window: Duration::from_secs(self.min_read_window_secs.max(1)),
            max_connections_per_address: if self.client_ip_header.is_some() {
                0
            } else {
                self.max_connections_per_address
            },
            max_connections_per_network: if self.client_ip_header.is_some() {
                0
            } else {
                self.max_connections_per_network
            },
        }
    }

    pub fn limits(&self) -> crate::http::limits::Limits {
        crate::http::limits::Limits {
            max_depth: self.max_depth,
            max_nodes: self.max_nodes,
            max_aliases: self.max_aliases,
            max_directives: self.max_directives,
            max_chars: self.max_query_chars,
            max_tokens: self.max_query_tokens,
            max_nesting: self.max_nesting,
            max_fields: self.max_fields,
        }
    }

    pub fn live(&self) -> crate::http::live::LiveSettings {
        crate::http::live::LiveSettings {
            max_connections: self.live_max_connections,
            connections_per_client: self.live_connections_per_client,
            subscriptions_per_client: self.live_subscriptions_per_client,
            connections_per_network: self.live_connections_per_network,
            subscriptions_per_network: self.live_subscriptions_per_network,
            ..Default::default()
        }
    }

    pub fn live_hub(&self) -> crate::domain::changes::hub::HubSettings {
        crate::domain::changes::hub::HubSettings {
            key_check: std::time::Duration::from_millis(self.live_key_check_ms.max(10)),
            queue: self.live_queue.max(1),
        }
    }

    pub fn webhooks(&self) -> crate::domain::webhook::WebhookSettings {
        use std::time::Duration;
        crate::domain::webhook::WebhookSettings {
            deliver: self.webhooks_deliver,
            allow_internal: self.webhooks_allow_internal,
            timeout: Duration::from_secs(self.webhook_timeout_secs.max(1)),
            retry_base: Duration::from_millis(self.webhook_retry_base_ms),
            secret_grace: Duration::from_secs(self.webhook_secret_grace_hours * 3600),
            poll_interval: Duration::from_millis(self.webhook_poll_ms.max(10)),
        }
    }

    pub fn rate_limits(&self) -> crate::kernel::rate_limit::RateLimits {
        crate::kernel::rate_limit::RateLimits {
            key_points: self.rate_limit_points,
            anonymous_points: self.rate_limit_anonymous_points,
            window: Duration::from_secs(self.rate_limit_window_secs),
        }
    }

    /// Whether to load the demo data: as asked, else only for the embedded default database.
    pub fn wants_demo(&self, global: &GlobalArgs) -> bool {
        self.demo.unwrap_or(global.database_url.is_none())
    }
}

#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    /// Load the Stroom demo data (the case of the City of Mechelen) into an empty database.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// Multiplies the default numbers (50 municipalities, 5,000 organisations, 300,000 needs,
    /// 100,000 initiatives, 1,000,000 outcomes, 20,000 learnings); 0.01 for a quick try.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// The random seed: the same seed and numbers give the same data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of municipalities (overrides the scale).
    #[arg(long)]
    pub municipalities: Option<u64>,
    /// Number of organisations (overrides the scale).
    #[arg(long)]
    pub organisations: Option<u64>,
    /// Number of needs (overrides the scale).
    #[arg(long)]
    pub needs: Option<u64>,
    /// Number of initiatives (overrides the scale).
    #[arg(long)]
    pub initiatives: Option<u64>,
    /// Number of outcomes (overrides the scale).
    #[arg(long)]
    pub outcomes: Option<u64>,
    /// Number of learnings (overrides the scale).
    #[arg(long)]
    pub learnings: Option<u64>,
}
