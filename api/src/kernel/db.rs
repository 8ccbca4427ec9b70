//! The database: connecting (with settings per backend), migrating, and counting statements.
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, Statement};

use crate::kernel::stamps::{Effect, tables_named, written_table};

tokio::task_local! {
    /// Statements run on behalf of the current request (set around each request's execution
    /// and around the loader tasks it spawns).
    pub static REQUEST_STATEMENTS: Arc<RequestSql>;
}

/// The SQL statements of one request: how many, which tables they wrote, and, when asked,
/// which statements (for `extensions.explain`) and which tables they read (for the response
/// cache).
#[derive(Default)]
pub struct RequestSql {
    count: AtomicU64,
    log: Option<Mutex<Vec<Statement>>>,
    written: Mutex<Written>,
    reads: Option<TableReads>,
    /// The request this part of its work belongs to: every statement counts there too.
    within: Option<Arc<RequestSql>>,
    /// The request was answered by one compiled statement (`graphql::plan`).
    compiled: AtomicBool,
}

/// The tables the request's statements changed.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub tables: BTreeSet<String>,
    /// A statement changed something not named here: assume anything changed.
    pub unknown: bool,
}

/// The tables named by the statements run while reads are noted.
struct TableReads {
    tables: Arc<crate::kernel::stamps::TableNames>,
    noting: AtomicBool,
    found: Mutex<BTreeSet<String>>,
}

impl RequestSql {
    /// Counts the statements and keeps them too.
    pub fn recording() -> Self {
        Self {
            log: Some(Mutex::new(Vec::new())),
            ..Self::default()
        }
    }

    /// Counts the statements and, once `note_reads` is called, notes which of `tables` they
    /// read.
    pub fn reading(self, tables: Arc<crate::kernel::stamps::TableNames>) -> Self {
        Self {
            reads: Some(TableReads {
                tables,
                noting: AtomicBool::new(false),
                found: Mutex::default(),
            }),
            ..self
        }
    }

    /// Part of `request`'s work (when there is one): its statements count there too.
    pub fn part_of(request: Option<Arc<RequestSql>>) -> Self {
        Self {
            within: request,
            ..Self::default()
        }
    }

    /// Notes tables as read (by work whose result was reused instead of run again).
    pub fn add_reads(&self, tables: &BTreeSet<String>) {
        if let Some(reads) = &self.reads
            && reads.noting.load(Ordering::SeqCst)
            && let Ok(mut found) = reads.found.lock()
        {
            found.extend(tables.iter().cloned());
        }
    }

    /// From now on, note the tables statements read.
    pub fn note_reads(&self) {
        if let Some(reads) = &self.reads {
            reads.noting.store(true, Ordering::SeqCst);
        }
    }

    /// The tables read since `note_reads`.
    pub fn tables_read(&self) -> BTreeSet<String> {
        self.reads
            .as_ref()
            .and_then(|r| r.found.lock().ok().map(|f| f.clone()))
            .unwrap_or_default()
    }

    /// The tables written so far.
    pub fn written(&self) -> Written {
        self.written.lock().map(|w| w.clone()).unwrap_or(Written {
            tables: BTreeSet::new(),
            unknown: true,
        })
    }

    /// Notes that the request was answered by one compiled statement.
    pub fn mark_compiled(&self) {
        self.compiled.store(true, Ordering::SeqCst);
    }

    pub fn compiled(&self) -> bool {
        self.compiled.load(Ordering::SeqCst)
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The statements kept so far (none unless `recording`).
    pub fn take(&self) -> Vec<Statement> {
        self.log
            .as_ref()
            .and_then(|log| log.lock().ok().map(|mut l| std::mem::take(&mut *l)))
            .unwrap_or_default()
    }

    fn record(&self, statement: &Statement) {
        if let Some(request) = &self.within {
            request.record(statement);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        match written_table(&statement.sql) {
            Effect::Read => {}
            Effect::Writes(table) => {
                if let Ok(mut written) = self.written.lock()
                    && !written.tables.contains(table)
                {
                    written.tables.insert(table.to_owned());
                }
            }
            Effect::WritesUnknown => {
                if let Ok(mut written) = self.written.lock() {
                    written.unknown = true;
                }
            }
        }
        if let Some(reads) = &self.reads
            && reads.noting.load(Ordering::SeqCst)
            && let Ok(mut found) = reads.found.lock()
        {
            tables_named(&statement.sql, &reads.tables, &mut found);
        }
        if let Some(Ok(mut log)) = self.log.as_ref().map(|l| l.lock()) {
            log.push(statement.clone());
        }
    }
}

/// How long a connection handed back to the serving pool may take to be ready for the next
/// statement before it is closed instead.
const RELEASE_WAIT: Duration = Duration::from_millis(250);

/// Has PostgreSQL (14 and later; older ones have only the statement timeout) check every second
/// that the client of a running statement is still there, and cancel the statement if not.
async fn check_client_while_running(
    connection: &mut sqlx::postgres::PgConnection,
) -> Result<(), sqlx::Error> {
    if connection.server_version_num().unwrap_or(0) >= 140_000 {
        sqlx::Executor::execute(connection, "SET client_connection_check_interval = 1000").await?;
    }
    Ok(())
}

/// Statements run by this process since start.
#[derive(Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct Connected {
    pub db: DatabaseConnection,
    pub statements: StatementCounter,
}

/// The pool of start-up work and of the commands; the first connection of every process (the
/// serving pool comes after it), so the one that creates a missing database.
pub async fn connect(url: &str, max_connections: Option<u32>) -> anyhow::Result<Connected> {
    if url.starts_with("postgres") {
        create_missing_database(url).await?;
    }
    connect_with(url, max_connections, None).await
}

/// The pool that serves requests: no statement outlives its request for long. On PostgreSQL
/// every statement (and a transaction left idle) is cancelled by the server `statement_limit`
/// after it started; and a connection handed back with its statement still running (its
/// request was cut off by the timeout, or its client went) is closed rather than waited for
/// (`after_release`), which frees its place in the pool at once, while the server, checking
/// its client every second (`client_connection_check_interval`, PostgreSQL 14 and later),
/// cancels the statement. On SQLite a writer waits for the lock that long at most. Start-up
/// work (migrations, demo data, the search index) runs on a pool without these limits.
pub async fn connect_serving(
    url: &str,
    max_connections: Option<u32>,
    statement_limit: Duration,
) -> anyhow::Result<Connected> {
    connect_with(url, max_connections, Some(statement_limit)).await
}

/// Creates the PostgreSQL database `url` names when it does not exist yet (as SQLite creates
/// its file), through the server's `postgres` database with the same role; says so in the log.
/// A role that may not create databases gets the server's refusal, with what to do.
async fn create_missing_database(url: &str) -> anyhow::Result<()> {
    use sqlx::ConnectOptions as _;
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let missing = match options.connect().await {
        Ok(connection) => {
            let _ = sqlx::Connection::close(connection).await;
            return Ok(());
        }
        // 3D000: invalid_catalog_name, "database … does not exist".
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("3D000") => {
            options.get_database().unwrap_or_default().to_owned()
        }
        // Anything else is reported by the connection that follows.
        Err(_) => return Ok(()),
    };
    let mut server = options.clone().database("postgres").connect().await?;
    let quoted = format!("\"{}\"", missing.replace('"', "\"\""));
    match sqlx::Executor::execute(
        &mut server,
        sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")),
    )
    .await
    {
        Ok(_) => tracing::info!(database = %missing, "created the database, which did not exist"),
        // Another instance starting at the same time created it first.
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P04") => {}
        Err(error) => anyhow::bail!(
            "the database `{missing}` does not exist and could not be created ({error}); \
             create it (`createdb {missing}`) or give a role that may"
        ),
    }
    let _ = sqlx::Connection::close(server).await;
    Ok(())
}

async fn connect_with(
    url: &str,
    max_connections: Option<u32>,
    statement_limit: Option<Duration>,
) -> anyhow::Result<Connected> {
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections.unwrap_or(if sqlite { 8 } else { 16 }))
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    if sqlite {
        // WAL lets readers run beside the one writer; the busy timeout makes writers queue
        // instead of failing; foreign keys are off by default in SQLite. Temporary data (the
        // sub-journal of a savepoint, as each row of an import has, and large sorts) stays in
        // memory rather than in files.
        let busy = statement_limit
            .unwrap_or(Duration::from_secs(10))
            .min(Duration::from_secs(10));
        options.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy)
                .foreign_keys(true)
                .pragma("temp_store", "memory")
        });
    } else if let Some(limit) = statement_limit {
        let ms = limit.as_millis().max(1).to_string();
        let limited = move |o: sqlx::postgres::PgConnectOptions| {
            o.options([
                ("statement_timeout", ms.as_str()),
                ("idle_in_transaction_session_timeout", ms.as_str()),
            ])
        };
        // For connections made to replace abandoned ones, as the pool makes its own.
        let replacements = limited(sqlx::ConnectOptions::disable_statement_logging(
            url.parse::<sqlx::postgres::PgConnectOptions>()?,
        ));
        options.map_sqlx_postgres_opts(limited);
        options.map_sqlx_postgres_pool_opts(move |pool| {
            let replacements = replacements.clone();
            pool.after_connect(|connection, _| Box::pin(check_client_while_running(connection)))
                .after_release(move |connection, _| {
                    let replacements = replacements.clone();
                    Box::pin(async move {
                        // A connection whose statement ended is ready at once.
                        let ping = sqlx::Connection::ping(&mut *connection);
                        if let Ok(ready) = tokio::time::timeout(RELEASE_WAIT, ping).await {
                            return ready.map(|()| true);
                        }
                        // One still waiting (on a lock, say) is replaced rather than waited
                        // for: its socket is dropped, which the server notices within a second
                        // and cancels the statement. (Closing it through the pool would wait
                        // for the statement's answer under TLS.)
                        let mut replacement = sqlx::ConnectOptions::connect(&replacements).await?;
                        check_client_while_running(&mut replacement).await?;
                        drop(std::mem::replace(connection, replacement));
                        metrics::counter!("stroom_db_connections_abandoned_total").increment(1);
                        Ok(true)
                    })
                })
        });
    }
    let mut db = Database::connect(options).await?;
    let statements = StatementCounter::default();
    let total = statements.0.clone();
    db.set_metric_callback(move |info| {
        total.fetch_add(1, Ordering::Relaxed);
        let _ = REQUEST_STATEMENTS.try_with(|sql| sql.record(info.statement));
        metrics::histogram!("stroom_db_statement_seconds").record(info.elapsed.as_secs_f64());
        if info.failed {
            metrics::counter!("stroom_db_statement_errors_total").increment(1);
        }
    });
    Ok(Connected { db, statements })
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Whether every migration of this build has been applied.
pub async fn migrations_current(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

/// The file of an SQLite URL (`sqlite://stroom.db?mode=rwc` → `stroom.db`).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}
