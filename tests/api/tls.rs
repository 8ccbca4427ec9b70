//! TLS to the dependencies: PostgreSQL with `sslmode=require` and `verify-full` (against a given
//! CA file), and Redis over `rediss://`.
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{postgres_url, spawn_app, spawn_instance};

/// Whether the PostgreSQL backends of `application_name` use TLS (none found: `None`).
async fn uses_tls(db: &sea_orm::DatabaseConnection, application: &str) -> Option<bool> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT bool_and(s.ssl) AS tls FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = $1",
            [application.into()],
        ))
        .await
        .ok()??;
    row.try_get::<Option<bool>>("", "tls").ok()?
}

/// The certificate file the PostgreSQL server presents, when this process can read it.
async fn server_certificate(db: &sea_orm::DatabaseConnection) -> Option<String> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SHOW ssl_cert_file",
        ))
        .await
        .ok()??;
    let path: String = row.try_get("", "ssl_cert_file").ok()?;
    let path = if path.starts_with('/') {
        path
    } else {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SHOW data_directory",
            ))
            .await
            .ok()??;
        let data: String = row.try_get("", "data_directory").ok()?;
        format!("{data}/{path}")
    };
    std::fs::metadata(&path).ok().map(|_| path)
}

#[tokio::test]
async fn the_service_reaches_postgresql_over_tls() {
    if postgres_url().is_none() {
        eprintln!("skipped: TLS to PostgreSQL needs PostgreSQL (set TEST_DATABASE_URL)");
        return;
    }
    let app = spawn_app().await;
    let url = app.database_url();
    let separator = if url.contains('?') { '&' } else { '?' };

    // sslmode=require: encrypted, the certificate not checked.
    let require = format!("{url}{separator}sslmode=require&application_name=stroom_tls_require");
    let instance = spawn_instance(&app, Some(require), |_| {}).await;
    let reply = instance
        .graphql("{ initiatives { totalCount } }", json!({}))
        .await;
    assert_eq!(reply.ok()["initiatives"]["totalCount"], 13);
    assert_eq!(uses_tls(&app.db, "stroom_tls_require").await, Some(true));

    // verify-full: the certificate must chain to the given CA and name the host.
    let Some(certificate) = server_certificate(&app.db).await else {
        eprintln!("skipped verify-full: the server's certificate is not readable here");
        return;
    };
    let localhost = url.replacen("@127.0.0.1:", "@localhost:", 1);
    let verified = format!(
        "{localhost}{separator}sslmode=verify-full&sslrootcert={certificate}&application_name=stroom_tls_verified"
    );
    let instance = spawn_instance(&app, Some(verified), |_| {}).await;
    instance
        .graphql("{ themes { totalCount } }", json!({}))
        .await
        .ok();
    assert_eq!(uses_tls(&app.db, "stroom_tls_verified").await, Some(true));

    // A host the certificate does not name is refused at start, clearly.
    let wrong_host = format!(
        "{url}{separator}sslmode=verify-full&sslrootcert={certificate}&application_name=stroom_tls_wrong"
    );
    let global = stroom_api::config::GlobalArgs {
        database_url: Some(wrong_host),
        log_format: stroom_api::config::LogFormat::Text,
        log_spans: false,
        otel_endpoint: None,
        db_max_connections: Some(1),
    };
    let serve = stroom_api::config::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        demo: Some(false),
        ..Default::default()
    };
    let refused = match stroom_api::Application::build(&global, &serve).await {
        Ok(_) => panic!("a certificate for another host must be refused"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        refused.to_lowercase().contains("certificate") || refused.contains("tls"),
        "{refused}"
    );
}

/// A TLS-only Redis server of the test's own, with a certificate made for it.
struct TlsRedis {
    port: u16,
    ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    fn start() -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let path = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .is_ok_and(|o| o.status.success())
        };
        // A certificate authority, and a server certificate for `localhost` it signs.
        std::fs::write(
            path("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .ok()?;
        let made = openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Stroom test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]) && openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "redis.key",
            "-out",
            "redis.csr",
        ]) && openssl(&[
            "x509",
            "-req",
            "-in",
            "redis.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "redis.pem",
        ]);
        if !made {
            return None;
        }
        let (cert, key) = (path("redis.pem"), path("redis.key"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let started = std::process::Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--bind", "127.0.0.1", "--daemonize", "yes"])
            .arg("--pidfile")
            .arg(dir.path().join("redis.pid"))
            .arg("--logfile")
            .arg(dir.path().join("redis.log"))
            .status()
            .ok()?;
        if !started.success() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(300));
        Some(Self {
            port,
            ca_file: path("ca.pem"),
            _dir: dir,
        })
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self._dir.path().join("redis.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[tokio::test]
async fn two_instances_share_rate_limits_through_redis_over_tls() {
    let Some(redis) = TlsRedis::start() else {
        eprintln!("skipped: no openssl or no TLS-capable redis-server here");
        return;
    };
    let url = format!("rediss://localhost:{}", redis.port);
    let prefix = format!("stroom-tls-{}", std::process::id());
    let configure = |s: &mut stroom_api::config::ServeArgs| {
        s.redis_url = Some(url.clone());
        s.redis_ca_file = Some(redis.ca_file.clone());
        s.redis_prefix = prefix.clone();
        s.redis_timeout_ms = 1000;
        s.rate_limit_points = 4;
    };
    let first = crate::helpers::spawn_configured(true, configure).await;
    let second = spawn_instance(&first, None, configure).await;
    let key = first.partner_key().await;
    let query = "{ themes { totalCount } }";
    for _ in 0..2 {
        first.graphql_as(&key, query, json!({})).await.ok();
        second.graphql_as(&key, query, json!({})).await.ok();
    }
    assert_eq!(second.graphql_as(&key, query, json!({})).await.status, 429);
    let ready: serde_json::Value = first
        .client
        .get(first.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["redis"], "ok", "{ready}");
}
