//! Full-text search across initiatives, needs, organisations, programmes and learnings, in
//! every language: PostgreSQL text search or SQLite FTS5 over the same words, matched the same
//! way, so both give the same answers. Matching ignores case and accents ("bethanienpolder"
//! finds "Bethaniënpolder") and words match by prefix ("herstel" finds "herstelplaats"); a
//! query that finds nothing is tried again with its misspelt words corrected. The index is
//! kept in step with every write, in the same transaction.
mod highlight;
mod query;
mod typos;

use async_graphql::Enum;
use entity::LocalizedText;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, Statement};

pub use highlight::{highlight, snippet};
pub use query::{SearchQuery, SearchResult};

use crate::kernel::i18n::fold;
use crate::kernel::ids::NodeKind;

/// What can be searched.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchType {
    /// Initiatives: names and descriptions.
    Initiative,
    /// Needs: titles and descriptions.
    Need,
    /// Organisations: names and descriptions.
    Organisation,
    /// Programmes: names and summaries.
    Programme,
    /// Learnings: titles and bodies.
    Learning,
}

impl SearchType {
    pub const ALL: [SearchType; 5] = [
        Self::Initiative,
        Self::Need,
        Self::Organisation,
        Self::Programme,
        Self::Learning,
    ];

    pub fn kind(self) -> NodeKind {
        match self {
            Self::Initiative => NodeKind::Initiative,
            Self::Need => NodeKind::Need,
            Self::Organisation => NodeKind::Organisation,
            Self::Programme => NodeKind::Programme,
            Self::Learning => NodeKind::Learning,
        }
    }

    pub fn of(kind: NodeKind) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.kind() == kind)
    }
}

/// The PostgreSQL text-search configuration of a locale; `simple` (no stemming) for others.
pub fn config(locale: &str) -> &'static str {
    match locale.split('-').next().unwrap_or(locale) {
        "nl" => "dutch",
        "en" => "english",
        "fr" => "french",
        "de" => "german",
        "es" => "spanish",
        "it" => "italian",
        "pt" => "portuguese",
        "fi" => "finnish",
        "sv" => "swedish",
        "da" => "danish",
        "no" | "nb" | "nn" => "norwegian",
        "hu" => "hungarian",
        "ro" => "romanian",
        "ru" => "russian",
        "tr" => "turkish",
        _ => "simple",
    }
}

/// Who may find a document.
const PUBLIC: &str = "public";
const PARTNERS: &str = "partners";

/// One searchable text of a record in one locale.
struct Document {
    kind: NodeKind,
    id: i64,
    locale: String,
    visibility: &'static str,
    title: String,
    body: String,
    /// The folded labels, in every language, of the record's themes and the themes above them.
    themes: String,
}

/// The documents of a record: its title and body in each locale it has.
fn documents(
    kind: NodeKind,
    id: i64,
    visibility: &'static str,
    title: &LocalizedText,
    body: &LocalizedText,
    themes: &str,
) -> Vec<Document> {
    let mut locales: Vec<&str> = title
        .0
        .keys()
        .chain(body.0.keys())
        .map(String::as_str)
        .collect();
    locales.sort_unstable();
    locales.dedup();
    let first_title = title.0.values().next().cloned().unwrap_or_default();
    locales
        .into_iter()
        .map(|locale| Document {
            kind,
            id,
            locale: locale.to_owned(),
            visibility,
            title: title
                .get(locale)
                .map(str::to_owned)
                .unwrap_or_else(|| first_title.clone()),
            body: body.get(locale).unwrap_or_default().to_owned(),
            themes: themes.to_owned(),
        })
        .collect()
}

/// Every theme's parent and folded labels, to describe records by their themes.
struct Themes(std::collections::HashMap<i64, (Option<i64>, String)>);

impl Themes {
    async fn load(db: &impl ConnectionTrait) -> Result<Self, DbErr> {
        use sea_orm::{ColumnTrait, QueryFilter};
        let themes = entity::theme::Entity::find()
            .filter(entity::theme::Column::ArchivedAt.is_null())
            .all(db)
            .await?;
        Ok(Self(
            themes
                .into_iter()
                .map(|t| {
                    let labels: Vec<&str> = t.label.0.values().map(String::as_str).collect();
                    (t.id, (t.parent_id, fold(&labels.join(" "))))
                })
                .collect(),
        ))
    }

    /// The labels of these themes and of every theme above them.
    fn describe(&self, ids: &[i64]) -> String {
        let mut seen: Vec<i64> = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        for &id in ids {
            let mut current = Some(id);
            while let Some(id) = current {
                if seen.contains(&id) {
                    break;
                }
                seen.push(id);
                match self.0.get(&id) {
                    Some((parent, text)) => {
                        texts.push(text);
                        current = *parent;
                    }
                    None => break,
                }
            }
        }
        texts.join(" ")
    }
}

/// The themes of each record of a kind among `ids`, through its link table.
async fn theme_links(
    db: &impl ConnectionTrait,
    kind: NodeKind,
    ids: Option<&[i64]>,
) -> Result<std::collections::HashMap<i64, Vec<i64>>, DbErr> {
    let (table, own) = match kind {
        NodeKind::Initiative => ("initiative_theme", "initiative_id"),
        NodeKind::Need => ("need", "id"),
        NodeKind::Programme => ("programme_theme", "programme_id"),
        NodeKind::Learning => ("learning_theme", "learning_id"),
        _ => return Ok(Default::default()),
    };
    let mut select = Query::select();
    select
        .expr_as(Expr::col(own), "record")
        .expr_as(Expr::col("theme_id"), "theme")
        .from(table)
        .and_where(Expr::col("theme_id").is_not_null());
    if let Some(ids) = ids {
        select.and_where(Expr::col(own).is_in(ids.iter().copied()));
    }
    let mut links: std::collections::HashMap<i64, Vec<i64>> = Default::default();
    for row in db.query_all(&select).await? {
        let record: i64 = row.try_get("", "record")?;
        let theme: i64 = row.try_get("", "theme")?;
        links.entry(record).or_default().push(theme);
    }
    Ok(links)
}

/// The documents of the live (unarchived) records of one kind among `ids` (all when `None`).
async fn load(
    db: &impl ConnectionTrait,
    kind: NodeKind,
    ids: Option<&[i64]>,
) -> Result<Vec<Document>, DbErr> {
    use entity::*;
    use sea_orm::{ColumnTrait, QueryFilter};
    let themes = Themes::load(db).await?;
    let links = theme_links(db, kind, ids).await?;
    let described = |id: i64| themes.describe(links.get(&id).map_or(&[][..], Vec::as_slice));
    macro_rules! of {
        ($entity:ident, $title:ident, $body:ident, $visibility:expr) => {{
            let mut select = $entity::Entity::find().filter($entity::Column::ArchivedAt.is_null());
            if let Some(ids) = ids {
                select = select.filter($entity::Column::Id.is_in(ids.iter().copied()));
            }
            select
                .all(db)
                .await?
                .iter()
                .flat_map(|m| {
                    documents(
                        kind,
                        m.id,
                        $visibility(m),
                        &m.$title,
                        &m.$body,
                        &described(m.id),
                    )
                })
                .collect()
        }};
    }
    Ok(match kind {
        NodeKind::Initiative => of!(initiative, name, description, |_: &initiative::Model| {
            PUBLIC
        }),
        NodeKind::Need => of!(need, title, description, |_: &need::Model| PUBLIC),
        NodeKind::Organisation => of!(
            organisation,
            name,
            description,
            |_: &organisation::Model| PUBLIC
        ),
        NodeKind::Programme => of!(programme, name, summary, |_: &programme::Model| PUBLIC),
        NodeKind::Learning => of!(learning, title, body, |m: &learning::Model| if m.audience
            == enums::Audience::Public
        {
            PUBLIC
        } else {
            PARTNERS
        }),
        _ => Vec::new(),
    })
}

/// The words of a folded text, separated by single spaces: what both databases index, so
/// that they tokenize alike (letters and digits only, as the query's terms are).
pub fn words(folded: &str) -> String {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Longest word kept for typo suggestions.
const MAX_WORD_CHARS: usize = 100;

/// Stores documents and adds their words to `search_word` (by who may find them).
async fn store(db: &impl ConnectionTrait, documents: &[Document]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for batch in documents.chunks(REBUILD_BATCH) {
        if let Some(insert) = insert_statement(backend, batch) {
            db.execute_raw(insert).await?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for document in batch {
            for text in [&document.title, &document.body] {
                for word in words(&fold(text)).split(' ') {
                    if !word.is_empty() && word.chars().count() <= MAX_WORD_CHARS {
                        seen.insert((word.to_owned(), document.visibility));
                    }
                }
            }
        }
        let seen: Vec<_> = seen.into_iter().collect();
        for chunk in seen.chunks(500) {
            let mut insert = Query::insert();
            insert
                .into_table("search_word")
                .columns(["word", "visibility"])
                .on_conflict(
                    sea_orm::sea_query::OnConflict::columns(["word", "visibility"])
                        .do_nothing()
                        .to_owned(),
                );
            for (word, visibility) in chunk {
                insert.values_panic([Expr::val(word.clone()), Expr::val(*visibility)]);
            }
            db.execute_raw(backend.build(&insert)).await?;
        }
    }
    Ok(())
}

/// One `INSERT` for many documents.
fn insert_statement(backend: DbBackend, documents: &[Document]) -> Option<Statement> {
    if documents.is_empty() {
        return None;
    }
    let mut insert = Query::insert();
    insert.into_table("search_document");
    let postgres = backend == DbBackend::Postgres;
    let mut columns = vec![
        "subject_type",
        "subject_id",
        "locale",
        "visibility",
        "title",
        "body",
        "folded_title",
        "folded_body",
        "folded_themes",
    ];
    if postgres {
        columns.push("config");
    }
    insert.columns(columns);
    for document in documents {
        let mut values: Vec<Expr> = vec![
            Expr::val(document.kind.type_name()),
            Expr::val(document.id),
            Expr::val(document.locale.clone()),
            Expr::val(document.visibility),
            Expr::val(document.title.clone()),
            Expr::val(document.body.clone()),
            Expr::val(words(&fold(&document.title))),
            Expr::val(words(&fold(&document.body))),
            Expr::val(words(&document.themes)),
        ];
        if postgres {
            values.push(Expr::val(config(&document.locale)).cast_as("regconfig"));
        }
        // One value per column, built just above: the counts always match.
        insert.values_panic(values);
    }
    Some(backend.build(&insert))
}

/// Keeps the index in step with every audited change, in the change's transaction.
pub fn follow_changes() {
    crate::kernel::write::on_change(|txn, kind, ids| Box::pin(reindex_many(txn, kind, ids)));
}

/// Brings the index of these records of one kind up to date, a few hundred per statement.
#[tracing::instrument(level = "debug", name = "reindex", skip_all, fields(kind = kind.type_name(), records = ids.len()))]
pub async fn reindex_many(
    db: &impl ConnectionTrait,
    kind: NodeKind,
    ids: &[i64],
) -> Result<(), DbErr> {
    if kind == NodeKind::Theme {
        for id in ids {
            reindex_theme(db, *id).await?;
        }
        return Ok(());
    }
    if SearchType::of(kind).is_none() {
        return Ok(());
    }
    replace_documents(db, kind, ids).await
}

/// Deletes the documents of these records and stores them anew, a few hundred at a time.
async fn replace_documents(
    db: &impl ConnectionTrait,
    kind: NodeKind,
    ids: &[i64],
) -> Result<(), DbErr> {
    for chunk in ids.chunks(REBUILD_BATCH) {
        let delete = Query::delete()
            .from_table("search_document")
            .and_where(Expr::col("subject_type").eq(kind.type_name()))
            .and_where(Expr::col("subject_id").is_in(chunk.iter().copied()))
            .take();
        db.execute(&delete).await?;
        let documents = load(db, kind, Some(chunk)).await?;
        store(db, &documents).await?;
    }
    Ok(())
}

/// Brings the index of one record up to date (after any change to it). A theme's change
/// reaches the records of that theme and of the themes below it, whose documents carry its
/// labels.
pub async fn reindex(db: &impl ConnectionTrait, kind: NodeKind, id: i64) -> Result<(), DbErr> {
    reindex_many(db, kind, &[id]).await
}

/// Reindexes the records of a theme and of the themes below it.
#[tracing::instrument(level = "debug", skip_all, fields(theme = theme))]
async fn reindex_theme(db: &impl ConnectionTrait, theme: i64) -> Result<(), DbErr> {
    let subtree = format!(
        "WITH RECURSIVE subtree(id) AS (SELECT CAST({theme} AS BIGINT) UNION \
         SELECT t.id FROM theme t JOIN subtree ON t.parent_id = subtree.id) SELECT id FROM subtree"
    );
    for (kind, table, own) in [
        (NodeKind::Initiative, "initiative_theme", "initiative_id"),
        (NodeKind::Need, "need", "id"),
        (NodeKind::Programme, "programme_theme", "programme_id"),
        (NodeKind::Learning, "learning_theme", "learning_id"),
    ] {
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT DISTINCT {own} AS id FROM {table} WHERE theme_id IN ({subtree})"),
            ))
            .await?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|row| row.try_get::<i64>("", "id"))
            .collect::<Result<_, _>>()?;
        replace_documents(db, kind, &ids).await?;
    }
    Ok(())
}

/// Documents per `INSERT` when rebuilding.
const REBUILD_BATCH: usize = 400;

/// Rebuilds the whole index (after a bulk load, or for a database indexed by an older version).
pub async fn rebuild(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    rebuild_with_progress(db, |_, _| {}).await
}

/// [`rebuild`], calling `progress(records indexed, records in all)` as it goes.
#[tracing::instrument(level = "info", skip_all)]
pub async fn rebuild_with_progress(
    db: &impl ConnectionTrait,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, DbErr> {
    db.execute_unprepared("DELETE FROM search_document").await?;
    db.execute_unprepared("DELETE FROM search_word").await?;
    let mut all = Vec::with_capacity(SearchType::ALL.len());
    for search_type in SearchType::ALL {
        let kind = search_type.kind();
        all.push((kind, ids(db, kind).await?));
    }
    let total = all.iter().map(|(_, ids)| ids.len() as u64).sum();
    let mut indexed = 0;
    for (kind, ids) in all {
        for chunk in ids.chunks(2_000) {
            let documents = load(db, kind, Some(chunk)).await?;
            store(db, &documents).await?;
            indexed += chunk.len() as u64;
            progress(indexed, total);
        }
    }
    Ok(indexed)
}

/// Every record ID of a kind, in order.
async fn ids(db: &impl ConnectionTrait, kind: NodeKind) -> Result<Vec<i64>, DbErr> {
    let table = match kind {
        NodeKind::Initiative => "initiative",
        NodeKind::Need => "need",
        NodeKind::Organisation => "organisation",
        NodeKind::Programme => "programme",
        _ => "learning",
    };
    let select = Query::select()
        .column("id")
        .from(table)
        .order_by("id", sea_orm::sea_query::Order::Asc)
        .take();
    db.query_all(&select)
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect()
}

/// Builds the index when it is empty but searchable records exist.
pub async fn ensure_built(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM search_document",
        ))
        .await?;
    let documents: i64 = row.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
    if documents == 0
        && entity::initiative::Entity::find().count(db).await?
            + entity::learning::Entity::find().count(db).await?
            > 0
    {
        let indexed = rebuild(db).await?;
        tracing::info!(indexed, "search index built");
    }
    Ok(())
}
