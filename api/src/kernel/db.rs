//! The database: connecting (with settings per backend), migrating, and counting statements.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, Statement};

tokio::task_local! {
    /// Statements run on behalf of the current request (set around each request's execution
    /// and around the loader tasks it spawns).
    pub static REQUEST_STATEMENTS: Arc<RequestSql>;
}

/// The SQL statements of one request: how many, and, when asked (for `extensions.explain`),
/// which.
#[derive(Default)]
pub struct RequestSql {
    count: AtomicU64,
    log: Option<Mutex<Vec<Statement>>>,
}

impl RequestSql {
    /// Counts the statements and keeps them too.
    pub fn recording() -> Self {
        Self {
            count: AtomicU64::new(0),
            log: Some(Mutex::new(Vec::new())),
        }
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
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(Ok(mut log)) = self.log.as_ref().map(|l| l.lock()) {
            log.push(statement.clone());
        }
    }
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

pub async fn connect(url: &str, max_connections: Option<u32>) -> anyhow::Result<Connected> {
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
        // instead of failing; foreign keys are off by default in SQLite.
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
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
