//! `extensions.explain` (with `--explain` and the `x-stroom-explain: true` header): the SQL
//! statements a request ran, each with the database's plan for it, as PostGraphile's and
//! Hasura's explain tools show them. Used to check that every filter and sort finds an index,
//! and to replay a request's statements without the server (`stroom-bench --sql-ceiling`).
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

/// Each statement with its plan: PostgreSQL's `EXPLAIN (FORMAT JSON)` document, or SQLite's
/// `EXPLAIN QUERY PLAN` lines. Only reads are explained (writes have happened already).
pub async fn plans(db: &DatabaseConnection, statements: Vec<Statement>) -> Value {
    let mut explained = Vec::with_capacity(statements.len());
    for statement in statements {
        let plan = if is_read(&statement.sql) {
            match plan(db, &statement).await {
                Ok(plan) => plan,
                Err(error) => json!({ "error": error.to_string() }),
            }
        } else {
            Value::Null
        };
        // With its parameters written in, the statement can be replayed as it ran (the SQL
        // ceiling of the benchmark replays it through `pgbench`).
        let inlined = statement.to_string();
        explained.push(json!({ "sql": statement.sql, "inlined": inlined, "plan": plan }));
    }
    Value::Array(explained)
}

fn is_read(sql: &str) -> bool {
    let head: String = sql
        .trim_start()
        .chars()
        .take(6)
        .collect::<String>()
        .to_lowercase();
    head.starts_with("select") || head.starts_with("with")
}

async fn plan(db: &DatabaseConnection, statement: &Statement) -> Result<Value, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let prefix = match backend {
        DbBackend::Postgres => "EXPLAIN (FORMAT JSON) ",
        _ => "EXPLAIN QUERY PLAN ",
    };
    let explain = Statement {
        sql: format!("{prefix}{}", statement.sql),
        values: statement.values.clone(),
        db_backend: backend,
    };
    let rows = db.query_all_raw(explain).await?;
    match backend {
        DbBackend::Postgres => {
            let document: Value = match rows.first() {
                Some(row) => row.try_get("", "QUERY PLAN")?,
                None => Value::Null,
            };
            Ok(document)
        }
        _ => {
            let mut lines = Vec::with_capacity(rows.len());
            for row in rows {
                let detail: String = row.try_get("", "detail")?;
                lines.push(Value::String(detail));
            }
            Ok(Value::Array(lines))
        }
    }
}
