//! Configuration: command-line flags, each with an environment variable, read once at start.
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The SQLite file used when no database URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://stroom.db?mode=rwc";

/// Stroom API: a GraphQL service over a city's circular-economy citizen programme.
#[derive(Parser, Debug)]
#[command(
    name = "stroom",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
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

    /// Most connections in the database pool (default: 16 on PostgreSQL, 8 on SQLite).
    #[arg(long, env = "STROOM_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<u32>,
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

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed(SeedArgs),
    /// Print the GraphQL schema (SDL), as committed in `schema.graphql`.
    Schema,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
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

    /// Longest time a request may run, in seconds.
    #[arg(long, env = "STROOM_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Largest request body, in bytes.
    #[arg(long, env = "STROOM_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// Add an `x-stroom-sql-statements` header with the number of SQL statements a request ran
    /// (for tests and benchmarks).
    #[arg(long, env = "STROOM_SQL_STATEMENTS_HEADER", default_value_t = false)]
    pub sql_statements_header: bool,

    /// Seconds in-flight requests get to finish after a shutdown signal.
    #[arg(long, env = "STROOM_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: None,
            request_timeout_secs: 30,
            max_body_bytes: 256 * 1024,
            sql_statements_header: false,
            shutdown_grace_secs: 20,
        }
    }
}

impl ServeArgs {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
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
