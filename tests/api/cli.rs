//! The `stroom` command line: migrate, seed, generate and print the schema.
use std::process::Command;

fn stroom() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stroom"));
    command.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    command
}

#[test]
fn migrate_then_seed_loads_the_demo_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let migrate = stroom()
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let seed = stroom()
        .args(["seed", "--demo", "--database-url", &url])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    assert!(String::from_utf8_lossy(&seed.stderr).contains("demo data loaded"));
    let again = stroom()
        .args(["seed", "--demo", "--database-url", &url])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
    let nothing = stroom()
        .args(["seed", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        !nothing.status.success(),
        "seed without a data set is an error"
    );
}

#[test]
fn schema_prints_the_sdl() {
    let output = stroom().arg("schema").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        stroom_api::schema::sdl()
    );
}

#[test]
fn a_bad_database_url_fails_with_a_message() {
    let output = stroom()
        .args(["migrate", "--database-url", "mysql://nowhere/db"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(!String::from_utf8_lossy(&output.stderr).is_empty());
}

/// Row counts of the tables `generate` fills.
async fn counts(url: &str) -> Vec<(String, i64)> {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for table in [
        "municipality",
        "initiative",
        "need",
        "outcome",
        "learning",
        "search_document",
    ] {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.push((table.to_owned(), row.try_get::<i64>("", "n").unwrap()));
    }
    db.close().await.ok();
    counts
}

#[tokio::test]
async fn generate_is_reproducible_and_never_touches_existing_data() {
    let dir = tempfile::tempdir().unwrap();
    let first = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let second = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    for url in [&first, &second] {
        let output = stroom()
            .args([
                "generate",
                "--scale",
                "0.001",
                "--seed",
                "3",
                "--database-url",
                url,
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("outcome"));
    }
    let generated = counts(&first).await;
    assert_eq!(generated, counts(&second).await, "same seed, same data");
    // The demo data plus, at 1/1000 of the default scale, 100 initiatives, 300 needs, 1,000
    // outcomes and 20 learnings.
    let demo = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let seeded = stroom()
        .args(["seed", "--demo", "--database-url", &demo])
        .output()
        .unwrap();
    assert!(seeded.status.success());
    let demo = counts(&demo).await;
    let added = |table: &str| {
        let of = |counts: &[(String, i64)]| counts.iter().find(|(t, _)| t == table).unwrap().1;
        of(&generated) - of(&demo)
    };
    assert_eq!(added("municipality"), 1);
    assert_eq!(added("initiative"), 100);
    assert_eq!(added("need"), 300);
    assert_eq!(added("outcome"), 1_000);
    assert_eq!(added("learning"), 20);
    assert!(
        added("search_document") > 0,
        "the search index covers the new records"
    );

    // A second run is refused with a clear message, and the data stays as it was.
    let again = stroom()
        .args(["generate", "--scale", "0.001", "--database-url", &first])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds data"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(counts(&first).await, generated);

    // A scale out of range is refused before anything is written.
    let empty = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let bad = stroom()
        .args(["generate", "--scale", "0", "--database-url", &empty])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--scale"));
    assert!(!dir.path().join("c.db").exists(), "nothing was created");
}

#[test]
fn the_first_start_says_what_it_did_in_plain_text() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // As a new user runs it: no database URL, a fresh working directory, logs to a pipe.
    let mut child = stroom()
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let done = line.contains("listening");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = lines.join("\n");
    assert!(log.contains("created the database"), "{log}");
    assert!(log.contains("stroom.db"), "{log}");
    assert!(log.contains("loaded the Stroom demo data"), "{log}");
    assert!(!log.contains('\u{1b}'), "no colour codes in a pipe: {log}");
    assert!(dir.path().join("stroom.db").exists());
}

/// `stroom webhooks`: add prints the secret alone on its last line; list, test, disable and
/// remove find an endpoint by ID or description; an internal address is refused unless allowed,
/// and a refused add stores nothing.
#[test]
fn webhooks_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("hooks.db").display()
    );
    let run = |args: &[&str]| {
        let output = stroom()
            .args(args)
            .env("DATABASE_URL", &url)
            .env_remove("STROOM_WEBHOOKS_ALLOW_INTERNAL")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert!(run(&["migrate"]).0);

    let (ok, _, error) = run(&["webhooks", "add", "--url", "http://127.0.0.1:9/hook"]);
    assert!(!ok, "an internal address was taken");
    assert!(error.contains("internal address"), "{error}");
    let (ok, listed, _) = run(&["webhooks", "list"]);
    assert!(ok);
    assert_eq!(
        listed.lines().count(),
        1,
        "a refused add stored something: {listed}"
    );

    let (ok, added, error) = run(&[
        "webhooks",
        "add",
        "--url",
        "https://93.184.215.14/stroom",
        "--events",
        "initiative.*,need.created",
        "--description",
        "subsidy system",
    ]);
    assert!(ok, "{error}");
    let secret = added.lines().last().unwrap();
    assert!(
        secret.starts_with("whsec_") && !secret.contains(' '),
        "{added}"
    );
    let (ok, _, error) = run(&[
        "webhooks",
        "add",
        "--url",
        "http://127.0.0.1:9/hook",
        "--allow-internal",
        "--description",
        "local receiver",
    ]);
    assert!(ok, "{error}");
    let (ok, _, error) = run(&[
        "webhooks",
        "add",
        "--url",
        "https://93.184.215.14/x",
        "--events",
        "nothing.at_all",
    ]);
    assert!(!ok);
    assert!(error.contains("nothing.at_all"), "{error}");

    let (_, listed, _) = run(&["webhooks", "list"]);
    let line = listed
        .lines()
        .find(|l| l.contains("subsidy system"))
        .unwrap();
    assert!(
        line.contains("initiative.*,need.created") && line.contains("enabled"),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 3, "{listed}");
    let id = line.split_whitespace().next().unwrap().to_owned();

    let (ok, tested, error) = run(&["webhooks", "test", &id]);
    assert!(ok, "{error}");
    assert!(tested.contains("msg_"), "{tested}");
    let (ok, _, error) = run(&["webhooks", "disable", "subsidy system"]);
    assert!(ok, "{error}");
    let (_, listed, _) = run(&["webhooks", "list"]);
    let line = listed
        .lines()
        .find(|l| l.contains("subsidy system"))
        .unwrap();
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&columns[3..5], &["disabled", "1"], "{listed}");

    let (ok, _, error) = run(&["webhooks", "remove", &id]);
    assert!(ok, "{error}");
    let (_, listed, _) = run(&["webhooks", "list"]);
    assert!(!listed.contains("subsidy system"), "{listed}");
    let (ok, _, error) = run(&["webhooks", "remove", &id]);
    assert!(!ok);
    assert!(error.contains("no webhook endpoint"), "{error}");
}

/// A PostgreSQL database that does not exist yet is created at the first `migrate` (or
/// `serve`), as SQLite creates its file, and the log says so; a role that may not create
/// databases is told what to do, and nothing is left half made.
#[test]
fn a_missing_postgresql_database_is_created_or_the_refusal_says_what_to_do() {
    let Some(server) = crate::helpers::postgres_url() else {
        eprintln!("skipped: needs PostgreSQL (set TEST_DATABASE_URL)");
        return;
    };
    let base = server
        .rsplit_once('/')
        .map(|(base, _)| base.to_owned())
        .unwrap();
    let name = format!("stroom_missing_{}", std::process::id());
    let psql = |sql: &str| {
        let output = Command::new("psql")
            .args(["-q", "-X", "-d", &format!("{base}/postgres"), "-c", sql])
            .output()
            .expect("psql");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    let url = format!("{base}/{name}");
    let migrate = stroom()
        .args(["migrate", "--database-url", &url])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&migrate.stderr);
    assert!(migrate.status.success(), "{log}");
    assert!(log.contains("created the database"), "{log}");
    // The second time it exists: nothing to create.
    let again = stroom()
        .args(["migrate", "--database-url", &url])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("created the database"));
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));

    // A role without CREATEDB.
    let role = format!("stroom_nocreate_{}", std::process::id());
    psql(&format!("DROP ROLE IF EXISTS {role}"));
    psql(&format!("CREATE ROLE {role} LOGIN NOCREATEDB"));
    let host = base.rsplit_once('@').map(|(_, host)| host).unwrap();
    let refused = stroom()
        .args([
            "migrate",
            "--database-url",
            &format!("postgres://{role}@{host}/{name}"),
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(log.contains(&format!("createdb {name}")), "{log}");
    psql(&format!("DROP ROLE IF EXISTS {role}"));
}
