//! Change stamps: one number per table (`table_stamp`), bumped in the transaction that changes
//! the table, so that a stamp moves in the same commit as the data and every instance sharing
//! the database sees both at once. A reader that remembers the stamps of the tables an answer
//! read can tell, with one small read, whether the answer still holds.
//!
//! Which tables a statement reads or writes is learnt from its SQL text
//! ([`tables_named`], [`written_table`]): generic code knows no table by name, and every
//! statement goes through the connection's statement callback (`kernel::db`), so nothing a
//! request reads can escape the record.
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::watch;

use crate::kernel::error::ApiError;

/// The stamps of the stamped tables at one moment. A table without a stamp (its changes do
/// not all go through the write frame) is missing.
#[derive(Debug, Default)]
pub struct Stamps(HashMap<String, i64>);

impl Stamps {
    pub fn get(&self, table: &str) -> Option<i64> {
        self.0.get(table).copied()
    }
}

/// What a kept thing (an answer, an aggregate) was computed from: the stamps of the tables
/// it read, as they were before it was computed. It holds while each of those tables keeps
/// its stamp, and no longer than a maximum age (which bounds staleness after changes made
/// outside the service). The one freshness rule of every cache.
#[derive(Debug, Clone)]
pub struct Freshness {
    depends: Vec<(String, i64)>,
    stored: Instant,
}

impl Freshness {
    /// The freshness of something computed after `stamps` were read, which read `tables`;
    /// `None` when it read a table without a stamp (it cannot be kept).
    pub fn of(tables: &BTreeSet<String>, stamps: &Stamps) -> Option<Self> {
        let depends = tables
            .iter()
            .map(|table| Some((table.clone(), stamps.get(table)?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            depends,
            stored: Instant::now(),
        })
    }

    /// Whether it still holds at `stamps`.
    pub fn holds(&self, stamps: &Stamps, max_age: std::time::Duration) -> bool {
        self.stored.elapsed() <= max_age
            && self
                .depends
                .iter()
                .all(|(table, stamp)| stamps.get(table) == Some(*stamp))
    }

    /// The tables it read.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.depends.iter().map(|(table, _)| table.as_str())
    }

    /// The bytes it keeps.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .depends
                .iter()
                .map(|(table, _)| std::mem::size_of::<(String, i64)>() + table.len())
                .sum::<usize>()
    }
}

/// The tables of the database by name, and its views by name with the tables their
/// definitions read: what a statement's identifiers are checked against. A statement that
/// reads a view (`area_lineage`) reads the tables behind it.
#[derive(Debug, Default)]
pub struct TableNames(HashMap<String, Vec<String>>);

impl TableNames {
    /// The tables a name stands for: itself for a table, those its definition reads for a view.
    pub fn resolve(&self, word: &str) -> Option<&[String]> {
        self.0.get(word).map(Vec::as_slice)
    }
}

impl<const N: usize> From<[&str; N]> for TableNames {
    fn from(tables: [&str; N]) -> Self {
        Self(
            tables
                .into_iter()
                .map(|t| (t.to_owned(), vec![t.to_owned()]))
                .collect(),
        )
    }
}

pub async fn table_names(db: &DatabaseConnection) -> Result<TableNames, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT tablename::text AS name, NULL AS definition FROM pg_tables \
             WHERE schemaname = current_schema() \
             UNION ALL SELECT viewname::text, definition::text FROM pg_views \
             WHERE schemaname = current_schema()"
        }
        _ => {
            "SELECT name, CASE WHEN type = 'view' THEN sql END AS definition FROM sqlite_master \
             WHERE type IN ('table', 'view')"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    let mut tables = HashMap::with_capacity(rows.len());
    let mut views = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        match row.try_get::<Option<String>>("", "definition")? {
            Some(definition) => views.push((name, definition)),
            None => {
                tables.insert(name.clone(), vec![name]);
            }
        }
    }
    let only_tables = TableNames(tables.clone());
    for (name, definition) in views {
        let mut read = BTreeSet::new();
        tables_named(&definition, &only_tables, &mut read);
        tables.insert(name, read.into_iter().collect());
    }
    Ok(TableNames(tables))
}

async fn read(db: &DatabaseConnection) -> Result<Stamps, ApiError> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT name, stamp FROM table_stamp",
        ))
        .await?;
    let mut stamps = HashMap::with_capacity(rows.len());
    for row in rows {
        stamps.insert(row.try_get("", "name")?, row.try_get("", "stamp")?);
    }
    Ok(Stamps(stamps))
}

/// Moves the stamps of `tables` (all of them for `None`: the writer does not know what it
/// wrote). Runs in the writer's transaction, as its last statement before the commit; the rows
/// are locked in one order by every writer, so two writers never wait on each other in a cycle.
pub async fn bump(
    txn: &impl ConnectionTrait,
    tables: Option<&BTreeSet<String>>,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let mut update = Query::update();
    update
        .table("table_stamp")
        .value("stamp", Expr::col("stamp").add(1));
    match tables {
        Some(tables) if tables.is_empty() => return Ok(()),
        Some(tables) => {
            // A table kept by triggers moves with the table that fires them.
            update.cond_where(
                Expr::col("name")
                    .is_in(tables.iter().map(String::as_str))
                    .or(Expr::col("follows").is_in(tables.iter().map(String::as_str))),
            );
        }
        None => {}
    }
    txn.execute(&update).await?;
    Ok(())
}

type Read = Option<Result<Arc<Stamps>, ApiError>>;

#[derive(Default)]
struct Reads {
    /// The last completed read and when it started.
    latest: Option<(Instant, Arc<Stamps>)>,
    /// The read under way, if any, and when it started.
    running: Option<(Instant, watch::Receiver<Read>)>,
}

/// The current stamps for requests, one read shared by every request that arrived before it
/// started: such a read sees every change committed before those requests came, which is all a
/// request may ask for. Under load, many requests share one read instead of each running its
/// own.
pub struct StampReader {
    db: DatabaseConnection,
    reads: Mutex<Reads>,
}

impl StampReader {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            reads: Mutex::default(),
        }
    }

    fn reads(&self) -> std::sync::MutexGuard<'_, Reads> {
        self.reads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stamps as of a moment after `arrived`.
    pub async fn current(&self, arrived: Instant) -> Result<Arc<Stamps>, ApiError> {
        enum Next {
            Done(Arc<Stamps>),
            Wait(Instant, watch::Receiver<Read>),
            Start(Instant, watch::Sender<Read>),
        }
        loop {
            let next = {
                let mut reads = self.reads();
                match (&reads.latest, &reads.running) {
                    (Some((at, stamps)), _) if *at >= arrived => Next::Done(stamps.clone()),
                    (_, Some((at, receiver))) if *at >= arrived => {
                        Next::Wait(*at, receiver.clone())
                    }
                    _ => {
                        let (sender, receiver) = watch::channel(None);
                        let started = Instant::now();
                        reads.running = Some((started, receiver));
                        Next::Start(started, sender)
                    }
                }
            };
            match next {
                Next::Done(stamps) => return Ok(stamps),
                Next::Start(started, sender) => return self.run(started, sender).await,
                Next::Wait(started, mut receiver) => {
                    let read = receiver
                        .wait_for(Option::is_some)
                        .await
                        .ok()
                        .and_then(|read| read.clone());
                    match read {
                        Some(result) => return result,
                        // The reading request was dropped before it finished: forget its read.
                        None => {
                            let mut reads = self.reads();
                            if reads.running.as_ref().is_some_and(|(at, _)| *at == started) {
                                reads.running = None;
                            }
                        }
                    }
                }
            }
        }
    }

    async fn run(
        &self,
        started: Instant,
        sender: watch::Sender<Read>,
    ) -> Result<Arc<Stamps>, ApiError> {
        let result = read(&self.db).await.map(Arc::new);
        {
            let mut reads = self.reads();
            if let Ok(stamps) = &result
                && reads.latest.as_ref().is_none_or(|(at, _)| *at < started)
            {
                reads.latest = Some((started, stamps.clone()));
            }
            if reads.running.as_ref().is_some_and(|(at, _)| *at == started) {
                reads.running = None;
            }
        }
        sender.send_replace(Some(result.clone()));
        result
    }
}

/// The tables an SQL text reads: the words, quoted (`"outcome"`) or bare, outside string
/// literals, that name one of `tables` (or a view, for the tables behind it). A column that
/// shares a table's name is taken for the table: the answer is then only kept a little less
/// often.
pub fn tables_named(sql: &str, tables: &TableNames, found: &mut BTreeSet<String>) {
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                // A string literal ('' inside it is a quote, and is skipped the same way).
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += 1;
                }
                note(&sql[start..end.min(bytes.len())], tables, found);
                i = end + 1;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                note(&sql[start..i], tables, found);
            }
            _ => i += 1,
        }
    }
}

fn note(word: &str, tables: &TableNames, found: &mut BTreeSet<String>) {
    if let Some(read) = tables.resolve(word) {
        for table in read {
            if !found.contains(table) {
                found.insert(table.clone());
            }
        }
    }
}

/// What a statement does to the data.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect<'a> {
    /// It only reads.
    Read,
    /// It changes this table.
    Writes(&'a str),
    /// It changes something this parser cannot name (a writing `WITH`, an unusual form).
    WritesUnknown,
}

fn identifier(word: Option<&str>) -> Effect<'_> {
    match word {
        Some(word) => {
            let name = word.trim_matches('"');
            if name.is_empty() || name.contains('.') || name.contains('"') {
                Effect::WritesUnknown
            } else {
                Effect::Writes(name)
            }
        }
        None => Effect::WritesUnknown,
    }
}

/// Whether a statement writes, and which table: `INSERT [OR …] INTO t`, `UPDATE [OR …] t`,
/// `DELETE FROM t`, as the query builder and this code base write them.
pub fn written_table(sql: &str) -> Effect<'_> {
    let mut words = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty());
    let Some(first) = words.next() else {
        return Effect::Read;
    };
    if first.eq_ignore_ascii_case("insert") {
        let mut words = words.skip_while(|w| !w.eq_ignore_ascii_case("into"));
        words.next();
        identifier(words.next())
    } else if first.eq_ignore_ascii_case("update") {
        let mut next = words.next();
        if next.is_some_and(|w| w.eq_ignore_ascii_case("or")) {
            words.next();
            next = words.next();
        }
        identifier(next)
    } else if first.eq_ignore_ascii_case("delete") {
        match words.next() {
            Some(w) if w.eq_ignore_ascii_case("from") => identifier(words.next()),
            _ => Effect::WritesUnknown,
        }
    } else if first.eq_ignore_ascii_case("select")
        || first.eq_ignore_ascii_case("explain")
        || first.eq_ignore_ascii_case("begin")
        || first.eq_ignore_ascii_case("commit")
        || first.eq_ignore_ascii_case("rollback")
        || first.eq_ignore_ascii_case("savepoint")
        || first.eq_ignore_ascii_case("release")
        || first.eq_ignore_ascii_case("pragma")
        || first.eq_ignore_ascii_case("set")
        || first.eq_ignore_ascii_case("show")
    {
        Effect::Read
    } else {
        Effect::WritesUnknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> TableNames {
        TableNames::from(["initiative", "theme", "initiative_theme", "outcome"])
    }

    #[test]
    fn finds_quoted_and_bare_table_names_but_not_literals() {
        let mut found = BTreeSet::new();
        tables_named(
            r#"SELECT "theme"."code" FROM "theme" INNER JOIN initiative_theme AS l ON l.theme_id = "theme"."id"
               WHERE x = 'outcome' AND y = 'it''s initiative' AND "initiativeish" = 1"#,
            &tables(),
            &mut found,
        );
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["initiative_theme", "theme"]
        );
    }

    #[test]
    fn a_view_stands_for_the_tables_behind_it() {
        let mut names = tables();
        names.0.insert("theme_lineage".into(), vec!["theme".into()]);
        let mut found = BTreeSet::new();
        tables_named(
            r#"SELECT "l"."ancestor_id" FROM "initiative_theme" JOIN "theme_lineage" AS "l" ON "l"."theme_id" = "initiative_theme"."theme_id""#,
            &names,
            &mut found,
        );
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["initiative_theme", "theme"]
        );
    }

    #[test]
    fn names_the_table_a_statement_writes() {
        let cases = [
            (
                r#"INSERT INTO "outcome" ("id") VALUES ($1)"#,
                Effect::Writes("outcome"),
            ),
            (
                "INSERT OR REPLACE INTO theme VALUES (1)",
                Effect::Writes("theme"),
            ),
            (
                r#"UPDATE "initiative" SET "name" = $1"#,
                Effect::Writes("initiative"),
            ),
            ("UPDATE OR IGNORE theme SET x = 1", Effect::Writes("theme")),
            (
                r#"DELETE FROM "initiative_theme" WHERE 1"#,
                Effect::Writes("initiative_theme"),
            ),
            ("  select * from initiative", Effect::Read),
            (
                "WITH x AS (DELETE FROM theme RETURNING *) SELECT 1",
                Effect::WritesUnknown,
            ),
            ("TRUNCATE theme", Effect::WritesUnknown),
            (
                r#"INSERT INTO "public"."theme" VALUES (1)"#,
                Effect::WritesUnknown,
            ),
        ];
        for (sql, effect) in cases {
            assert_eq!(written_table(sql), effect, "{sql}");
        }
    }
}
