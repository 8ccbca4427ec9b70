//! The `stroom` command line: migrate, seed and print the schema.
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
