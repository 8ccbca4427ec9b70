//! Redis, where instances share rate-limit counts and persisted queries. It is an aid, never a
//! dependency: the service starts without it, every call to it has a short deadline, and
//! while it is away callers fall back to what this process keeps (a circuit breaker stops
//! them from waiting on it at all), until a probe finds it back.
use std::future::Future;
use std::time::Duration;

use redis::RedisResult;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::kernel::breaker::{Admission, Breaker};

pub struct SharedStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    breaker: Breaker,
}

/// Consecutive failed calls before callers stop trying for a while.
const BREAKER_THRESHOLD: u32 = 3;
/// How long callers skip Redis before one probes it again.
const BREAKER_PAUSE: Duration = Duration::from_secs(1);

impl SharedStore {
    /// Prepares the connection without making it: nothing here waits for Redis. `url` is
    /// `redis://` or `rediss://` (TLS, verified against the system's roots or `ca_file`).
    pub fn new(
        url: &str,
        prefix: &str,
        timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        let client = match ca_file {
            Some(path) => {
                let root_cert = std::fs::read(path).map_err(|e| {
                    anyhow::anyhow!("reading the Redis CA file {}: {e}", path.display())
                })?;
                redis::Client::build_with_tls(
                    url,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(root_cert),
                    },
                )
            }
            None => redis::Client::open(url),
        }
        .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            timeout,
            breaker: Breaker::new("redis", BREAKER_THRESHOLD, BREAKER_PAUSE),
        })
    }

    /// A key in this deployment's part of Redis.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.prefix)
    }

    /// Runs a call within the deadline; `None` when Redis is away (the caller falls back).
    pub async fn run<T, F, Fut>(&self, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.breaker.admit() == Admission::Refused {
            return None;
        }
        match tokio::time::timeout(self.timeout, call(self.connection.clone())).await {
            Ok(Ok(value)) => {
                self.breaker.succeeded();
                Some(value)
            }
            Ok(Err(error)) => {
                // The cause is worth an operator's eye until the breaker opens (it then logs
                // the outage once).
                if self.breaker.is_open() {
                    tracing::debug!(%error, "Redis call failed");
                } else {
                    tracing::warn!(%error, "Redis call failed");
                }
                metrics::counter!("stroom_redis_errors_total").increment(1);
                self.breaker.failed();
                None
            }
            Err(_) => {
                metrics::counter!("stroom_redis_errors_total").increment(1);
                self.breaker.failed();
                None
            }
        }
    }

    /// Asks Redis for a PONG (through the breaker, so it doubles as the probe while Redis is
    /// away); whether it answered.
    pub async fn ping(&self) -> bool {
        self.run(|mut connection| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        })
        .await
        .is_some()
    }

    /// Whether calls reach Redis now (`false` while callers fall back).
    pub fn is_up(&self) -> bool {
        !self.breaker.is_open()
    }
}
