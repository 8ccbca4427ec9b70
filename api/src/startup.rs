//! Building and running the application: connect, migrate, seed, bind, serve, shut down.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::{GlobalArgs, ServeArgs};
use crate::domain::schema::build_schema_with;
use crate::domain::webhook::WebhookSettings;
use crate::domain::webhook::delivery::Deliverer;
use crate::http::introspection::SchemaShape;
use crate::http::server::{self, ConnectionLimits, raise_open_files_limit};
use crate::http::{AppState, HttpSettings, PersistedQueries, metrics_handle, router};
use crate::kernel::breaker::Breaker;
use crate::kernel::db;
use crate::kernel::rate_limit::RateLimiter;
use crate::kernel::shared_store::SharedStore;

/// What shutting down takes beyond the grace period at most: live streams' close (1 s),
/// deliveries' stop (1 s) and the database pool's close (1 s).
const EXIT_MARGIN: Duration = Duration::from_secs(3);

/// Consecutive requests that find the database unreachable before the rest fail fast.
const DATABASE_BREAKER_THRESHOLD: u32 = 3;
/// How long requests fail fast before one probes the database again.
const DATABASE_BREAKER_PAUSE: Duration = Duration::from_secs(1);

/// A ready-to-run server: its database is migrated and its listener bound (port 0 picks a
/// free port, which `port()` tells).
pub struct Application {
    listener: TcpListener,
    /// `/metrics` on an address of its own, when configured.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    connections: ConnectionLimits,
    shutdown_grace: Duration,
    webhooks: WebhookSettings,
    feed_poll: Duration,
    /// How often followed instances are read when they had nothing new.
    follow_poll: Duration,
}

/// Data to load into a new database at start, when asked for (`--demo`): the binary passes the
/// Stroom demo, which lives outside the service. Answers whether it loaded anything.
pub type Seeder =
    for<'a> fn(
        &'a sea_orm::DatabaseConnection,
    ) -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<bool>> + Send + 'a>>;

impl Application {
    /// A server without seed data (a database URL given, as in production).
    pub async fn build(global: &GlobalArgs, serve: &ServeArgs) -> anyhow::Result<Self> {
        Self::build_with(global, serve, None).await
    }

    /// A server that loads `seeder`'s data into an empty database when the settings ask for it.
    pub async fn build_with(
        global: &GlobalArgs,
        serve: &ServeArgs,
        seeder: Option<Seeder>,
    ) -> anyhow::Result<Self> {
        let url = global.database_url();
        let new_file = db::sqlite_file(url).filter(|path| !path.exists());
        let setup = db::connect(url, global.db_max_connections).await?;
        db::migrate(&setup.db).await?;
        if let Some(path) = &new_file {
            tracing::info!(path = %path.display(), "created the database");
        }
        if serve.wants_demo(global) {
            match seeder {
                Some(seed) => {
                    if seed(&setup.db).await? {
                        tracing::info!("loaded the Stroom demo data");
                    }
                }
                None => tracing::warn!("demo data asked for, but this build has none to load"),
            }
        }
        crate::domain::search::ensure_built(&setup.db).await?;
        let filled = crate::domain::theme::fill_search_text(&setup.db).await?;
        // What start-up loads or fills bypasses the write frame: other instances' kept
        // answers must not outlive it.
        crate::kernel::stamps::bump(&setup.db, None).await?;
        setup.db.close().await?;
        // A second after a request's own deadline, its statements are cancelled too.
        let connected = db::connect_serving(
            url,
            global.db_max_connections,
            serve.request_timeout() + Duration::from_secs(1),
        )
        .await?;
        if filled > 0 {
            tracing::info!(themes = filled, "made theme labels searchable");
        }
        // Redis is prepared, not reached: the service starts whether or not it answers.
        let shared = match &serve.redis_url {
            Some(url) => Some(Arc::new(SharedStore::new(
                url,
                &serve.redis_prefix,
                Duration::from_millis(serve.redis_timeout_ms.max(1)),
                serve.redis_ca_file.as_deref(),
            )?)),
            None => None,
        };
        let rate_limiter = match &shared {
            Some(store) => RateLimiter::shared(serve.rate_limits(), store.clone()),
            None => RateLimiter::in_memory(serve.rate_limits()),
        };
        let client_ip_header = serve
            .client_ip_header
            .as_deref()
            .map(|h| axum::http::HeaderName::try_from(h.trim().to_ascii_lowercase()))
            .transpose()
            .map_err(|e| anyhow::anyhow!("STROOM_CLIENT_IP_HEADER: {e}"))?;
        let listener = TcpListener::bind(serve.listen).await?;
        let metrics_listener = match serve.metrics_listen {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        };
        let webhooks = serve.webhooks();
        let schema = build_schema_with(webhooks.clone());
        let shape = Arc::new(SchemaShape::of(&schema).await);
        let schema_version = crate::domain::network::schema_version(&schema.sdl());
        let tables = Arc::new(crate::kernel::stamps::table_names(&connected.db).await?);
        // One reader of the change stamps for both caches: one freshness rule, one read.
        let stamps = Arc::new(crate::kernel::stamps::StampReader::new(
            connected.db.clone(),
        ));
        let responses = if serve.response_cache_entries > 0 {
            crate::http::response_cache::ResponseCache::new(
                serve.response_cache_entries,
                serve.response_cache_megabytes.saturating_mul(1024 * 1024),
                Duration::from_secs(serve.result_cache_max_age_secs),
                stamps.clone(),
                tables.clone(),
            )
            .map(Arc::new)
        } else {
            None
        };
        let state = AppState::new(crate::http::Services {
            schema,
            shape,
            database: Arc::new(Breaker::new(
                "database",
                DATABASE_BREAKER_THRESHOLD,
                DATABASE_BREAKER_PAUSE,
            )),
            db: connected.db.clone(),
            statements: connected.statements,
            results: crate::graphql::result_cache::ResultCache::new(
                serve.result_cache_entries,
                serve.result_cache_megabytes.saturating_mul(1024 * 1024),
                Duration::from_secs(serve.result_cache_max_age_secs),
                stamps,
                tables,
            ),
            responses,
            documents: crate::http::documents::Documents::new(
                serve.document_cache_entries,
                serve.document_cache_megabytes.saturating_mul(1024 * 1024),
            )
            .map(Arc::new),
            metrics: metrics_handle(),
            settings: Arc::new(HttpSettings {
                request_timeout: serve.request_timeout(),
                body_timeout: Duration::from_secs(serve.body_timeout_secs.max(1)),
                max_body_bytes: serve.max_body_bytes,
                max_upload_bytes: serve.max_upload_bytes,
                sql_statements_header: serve.sql_statements_header,
                explain: serve.explain,
                cache_max_age_secs: serve.cache_max_age_secs,
                client_ip_header,
                cors_origins: serve.cors_origins.clone(),
                limits: serve.limits(),
                metrics_apart: serve.metrics_listen.is_some(),
            }),
            rate_limiter: Arc::new(rate_limiter),
            persisted: Arc::new(PersistedQueries::new(
                shared.clone(),
                serve.persisted_cache_megabytes.saturating_mul(1024 * 1024),
            )),
            shared,
            live: crate::http::live::Live::new(serve.live()),
            hub: crate::domain::changes::hub::Hub::new(connected.db.clone(), serve.live_hub()),
            labels: Default::default(),
            sending: crate::http::sending::Sending::new(
                serve.send_budget_mb.saturating_mul(1024 * 1024),
            ),
            instance: Arc::new(crate::domain::network::Instance {
                name: serve.instance_name.clone(),
                municipality: serve.instance_municipality.clone(),
                public_url: serve.public_url.clone(),
            }),
            schema_version: schema_version.into(),
            planner: serve
                .compiled_reads
                .then(|| Arc::new(crate::domain::schema::planner())),
        });
        Ok(Self {
            listener,
            metrics_listener,
            state,
            connections: serve.connection_limits(raise_open_files_limit()),
            shutdown_grace: Duration::from_secs(serve.shutdown_grace_secs),
            webhooks,
            feed_poll: Duration::from_millis(serve.feed_poll_ms),
            follow_poll: Duration::from_millis(serve.follow_poll_ms.max(50)),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The port of the metrics address, when it has one.
    pub fn metrics_port(&self) -> Option<u16> {
        let listener = self.metrics_listener.as_ref()?;
        listener.local_addr().map(|a| a.port()).ok()
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish. The process ends
    /// by the grace period plus `EXIT_MARGIN` whatever is still open: a thread of its own
    /// (outside the runtime, which blocked work could hold up) ends it then.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let deadline = self.shutdown_grace + EXIT_MARGIN;
        self.run_until(async move {
            shutdown_signal().await;
            let _ = std::thread::Builder::new()
                .name("exit-deadline".into())
                .spawn(move || {
                    std::thread::sleep(deadline);
                    eprintln!(
                        "shutdown: still busy {} s after the signal; exiting now",
                        deadline.as_secs()
                    );
                    std::process::exit(0);
                });
        })
        .await
    }

    /// Serves until `shutdown` completes; in-flight requests get the grace period to finish,
    /// and no more: this returns by the end of the grace period whatever is still running.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let address = self.listener.local_addr()?;
        tracing::info!(%address, "Stroom API listening; GraphQL at http://{address}/graphql");
        let db = self.state.db.clone();
        // Webhook deliveries run beside the server and stop with it; a delivery cut short is
        // taken up again when its lease runs out.
        let (stop_deliveries, stopped) = tokio::sync::watch::channel(false);
        // The commits of other instances, for live subscribers and deliveries here.
        let watcher = tokio::spawn(crate::kernel::feed::watch(
            db.clone(),
            self.feed_poll,
            stopped.clone(),
        ));
        let hub = tokio::spawn(self.state.hub.clone().run(stopped.clone()));
        let metrics = self.metrics_listener.map(|listener| {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "metrics at http://{address}/metrics");
            }
            let router = crate::http::metrics_router(self.state.clone());
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!(%error, "the metrics address stopped serving");
                }
            })
        });
        // Followed instances are read beside the server; a batch cut short is not applied, and
        // is read again at the next start.
        let following = tokio::spawn(
            crate::domain::network::follower::Follower::new(db.clone(), self.follow_poll)
                .run(stopped.clone()),
        );
        let deliveries = match self.webhooks.deliver {
            true => match Deliverer::new(db.clone(), self.webhooks.clone()) {
                Ok(deliverer) => Some(tokio::spawn(deliverer.run(stopped))),
                Err(error) => {
                    tracing::error!(%error, "webhooks: cannot deliver (no HTTP client)");
                    None
                }
            },
            false => None,
        };
        // Live streams end as soon as the shutdown starts: event streams complete (so that
        // the graceful wait for responses is not held up by them), WebSockets close with 1001.
        let live = self.state.live.clone();
        let closing = live.clone();
        let shutdown = async move {
            shutdown.await;
            closing.close();
        };
        server::serve(
            self.listener,
            router(self.state),
            self.connections,
            shutdown,
            self.shutdown_grace,
        )
        .await;
        live.drained(Duration::from_secs(1)).await;
        let _ = stop_deliveries.send(true);
        if let Some(mut deliveries) = deliveries
            && tokio::time::timeout(Duration::from_secs(1), &mut deliveries)
                .await
                .is_err()
        {
            deliveries.abort();
            tracing::warn!("webhooks: deliveries cut short at exit; they are retried");
        }
        watcher.abort();
        hub.abort();
        following.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        // Connections still held by requests cut off at the deadline are not waited for.
        if tokio::time::timeout(Duration::from_secs(1), db.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still busy at exit");
        }
        Ok(())
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
}
