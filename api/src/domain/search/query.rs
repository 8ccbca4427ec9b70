//! The `search` field: ranked hits with highlighted titles and snippets.
use async_graphql::{Context, ID, Object, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::highlight::terms;
use super::{PARTNERS, PUBLIC, SearchType, highlight, snippet};
use crate::domain::node::{Node, load};
use crate::graphql::context::{preferences, request, viewer};
use crate::graphql::pagination::{Cursor, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageInfo};
use crate::kernel::error::ApiError;
use crate::kernel::i18n::parse_locale_argument;
use crate::kernel::ids::NodeKind;

/// The deepest a search pages: relevance beyond this is noise.
const MAX_OFFSET: u64 = 1_000;
/// The longest query.
const MAX_QUERY_CHARS: usize = 200;
/// Characters of a snippet.
const SNIPPET_WIDTH: usize = 200;

/// One hit.
#[derive(Clone, Debug)]
pub struct SearchResult {
    kind: NodeKind,
    id: i64,
    locale: String,
    title: String,
    body: String,
    score: f64,
    terms: Vec<String>,
}

/// A record that matched a search.
#[Object]
impl SearchResult {
    /// The record.
    async fn node(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        load(ctx, "node", &self.kind.id(self.id)).await
    }

    /// Its global ID.
    async fn id(&self) -> ID {
        self.kind.id(self.id)
    }

    /// What kind of record it is.
    async fn r#type(&self) -> Option<SearchType> {
        SearchType::of(self.kind)
    }

    /// How well it matched: higher is better (comparable within one search only).
    async fn score(&self) -> f64 {
        self.score
    }

    /// The locale of the translation shown (the asked locale when the record has it).
    async fn locale(&self) -> &str {
        &self.locale
    }

    /// The title, as HTML: escaped, with matching words in `<mark>`.
    async fn title(&self) -> String {
        highlight(&self.title, &self.terms)
    }

    /// A passage of the text around the first match, as HTML: escaped, with matching words in
    /// `<mark>`.
    async fn snippet(&self) -> String {
        let text = if self.body.is_empty() {
            &self.title
        } else {
            &self.body
        };
        snippet(text, &self.terms, SNIPPET_WIDTH)
    }
}

/// An edge of search results.
#[derive(Debug, Clone, SimpleObject)]
pub struct SearchEdge {
    /// Pass as `after` to continue after this hit.
    pub cursor: String,
    /// The hit.
    pub node: SearchResult,
}

/// A page of search results, best first.
#[derive(Clone, Debug)]
pub struct SearchResultConnection {
    edges: Vec<SearchEdge>,
    page_info: PageInfo,
    total: i64,
    did_you_mean: Option<String>,
}

/// A page of search results, best first.
#[Object]
impl SearchResultConnection {
    /// How many records match in all.
    async fn total_count(&self) -> i64 {
        self.total
    }

    /// Where this page sits.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// The hits of this page, with their cursors.
    async fn edges(&self) -> &[SearchEdge] {
        &self.edges
    }

    /// The hits of this page.
    async fn nodes(&self) -> Vec<&SearchResult> {
        self.edges.iter().map(|e| &e.node).collect()
    }

    /// The query with its misspelt words corrected ("repiar" → "repair"), when the words as
    /// typed found nothing and the corrected ones did: the results are then for it. Null
    /// otherwise.
    async fn did_you_mean(&self) -> Option<&str> {
        self.did_you_mean.as_deref()
    }
}

/// Who searches for what: the visibilities and types searched, and the locales to show.
struct Scope<'a> {
    visibility: &'a [&'a str],
    types: &'a [&'a str],
    chain: &'a [String],
    /// Whose records (`origins`), as SQL over the document `d`.
    origins: &'a str,
}

/// SQL over the document `d`: whether its record is of the origins asked for (own records, or
/// copies of followed instances' records; the tables that hold copies are named as their type
/// in lower case). Only row IDs go into the text.
fn origins_condition(own: bool, followed: bool, instances: &[i64]) -> String {
    let copy = "c.subject_id = d.subject_id AND c.subject_type = LOWER(d.subject_type)";
    let current = |only: &str| {
        format!(
            "EXISTS (SELECT 1 FROM remote_copy c JOIN followed_instance f ON f.id = c.followed_instance_id \
             WHERE {copy} AND c.withdrawn_at IS NULL AND f.archived_at IS NULL{only})"
        )
    };
    let mut wanted = Vec::new();
    if own {
        wanted.push(format!("NOT EXISTS (SELECT 1 FROM remote_copy c WHERE {copy})"));
    }
    if followed {
        wanted.push(current(""));
    } else if !instances.is_empty() {
        let ids = instances
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        wanted.push(current(&format!(" AND c.followed_instance_id IN ({ids})")));
    }
    if wanted.is_empty() {
        "1 = 0".to_owned()
    } else {
        format!("({})", wanted.join(" OR "))
    }
}

/// One page of hits for `terms`, and how many there are in all.
async fn run(
    db: &sea_orm::DatabaseConnection,
    terms: &[String],
    scope: &Scope<'_>,
    limit: u64,
    offset: u64,
) -> Result<(Vec<SearchEdge>, i64), ApiError> {
    let backend = db.get_database_backend();
    let mut params = Params {
        backend,
        values: Vec::new(),
    };
    let shown_locale = scope.chain.first().cloned().unwrap_or_else(|| "en".into());
    let hits = hits_sql(
        backend,
        &mut params,
        terms,
        scope.visibility,
        scope.types,
        scope.origins,
        &shown_locale,
    );
    let count_values = params.values.clone();
    let limit_param = params.push(limit as i64);
    let offset_param = params.push(offset as i64);
    // The text shown is the record's translation first in the chain, whichever translation
    // matched ("herstel" matches the Dutch text; an English reader sees the English title).
    let preference = scope
        .chain
        .iter()
        .enumerate()
        .map(|(i, locale)| format!("WHEN {} THEN {i}", params.push(locale.clone())))
        .collect::<Vec<_>>()
        .join(" ");
    let rank = if preference.is_empty() {
        "0".to_owned()
    } else {
        format!("CASE x.locale {preference} ELSE {} END", scope.chain.len())
    };
    // Ranking sorts narrow rows; the texts are read for the page's hits only.
    let sql = format!(
        "{hits}, page AS (SELECT id, subject_type, subject_id, locale, best, \
           COUNT(*) OVER () AS total FROM ranked WHERE rn = 1 \
           ORDER BY best DESC, subject_type, subject_id \
           LIMIT {limit_param} OFFSET {offset_param}) \
         SELECT page.subject_type, page.subject_id, s.locale, s.title, s.body, \
           CAST(page.best AS DOUBLE PRECISION) AS score, page.total \
         FROM page JOIN search_document s ON s.id = (SELECT x.id FROM search_document x \
           WHERE x.subject_type = page.subject_type AND x.subject_id = page.subject_id \
           ORDER BY {rank}, x.locale LIMIT 1) \
         ORDER BY page.best DESC, page.subject_type, page.subject_id"
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await
        .map_err(ApiError::from)?;
    let mut total = 0i64;
    let mut edges = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let subject_type: String = row.try_get("", "subject_type").map_err(ApiError::from)?;
        let Some(kind) = NodeKind::from_type_name(&subject_type) else {
            continue;
        };
        total = row.try_get("", "total").map_err(ApiError::from)?;
        edges.push(SearchEdge {
            cursor: cursor(offset + i as u64 + 1),
            node: SearchResult {
                kind,
                id: row.try_get("", "subject_id").map_err(ApiError::from)?,
                locale: row.try_get("", "locale").map_err(ApiError::from)?,
                title: row.try_get("", "title").map_err(ApiError::from)?,
                body: row.try_get("", "body").map_err(ApiError::from)?,
                score: row.try_get("", "score").map_err(ApiError::from)?,
                terms: terms.to_vec(),
            },
        });
    }
    if edges.is_empty() && offset > 0 {
        // Past the end of the results: the total comes from a count of its own.
        let count = format!("{hits} SELECT COUNT(*) AS total FROM ranked WHERE rn = 1");
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, count, count_values))
            .await
            .map_err(ApiError::from)?;
        total = match row {
            Some(row) => row.try_get("", "total").map_err(ApiError::from)?,
            None => 0,
        };
    }
    Ok((edges, total))
}

fn cursor(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("search:{offset}"))
}

fn offset(after: Option<&str>) -> Result<u64, ApiError> {
    let Some(after) = after else { return Ok(0) };
    let invalid = || {
        ApiError::bad_input(
            "after",
            format!("`{after}` is not a cursor of this search."),
        )
    };
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(after).map_err(|_| invalid())?)
        .map_err(|_| invalid())?;
    let offset: u64 = text
        .strip_prefix("search:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(invalid)?;
    if offset > MAX_OFFSET {
        return Err(ApiError::bad_input(
            "after",
            format!("Search pages stop after {MAX_OFFSET} results: refine the query."),
        ));
    }
    Ok(offset)
}

/// Placeholders of the backend, numbered for PostgreSQL.
struct Params {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Params {
    fn push(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    fn list(&mut self, values: &[&str]) -> String {
        values
            .iter()
            .map(|v| self.push(*v))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Terms this short match whole words (by prefix) only: parts of words need three letters.
const MIN_PART_CHARS: usize = 3;

/// The `hits` and `ranked` CTEs of a search: documents that match, each with a score, in three
/// tiers — whole words first (PostgreSQL text search or FTS5, by prefix), then parts of words
/// (trigram indexes: "bibliotheek" in "gereedschapsbibliotheek"), then records whose theme's
/// label matches ("réparation" finds the records of the theme so labelled).
fn hits_sql(
    backend: DbBackend,
    params: &mut Params,
    terms: &[String],
    visibility: &[&str],
    types: &[&str],
    origins: &str,
    shown_locale: &str,
) -> String {
    // Each use binds its own values: SQLite's placeholders are positional.
    let scope = |params: &mut Params| {
        format!(
            "d.visibility IN ({}) AND d.subject_type IN ({}) AND {origins}",
            params.list(visibility),
            params.list(types)
        )
    };
    // Terms are letters and digits only (see `terms`): no LIKE wildcards to escape.
    let contains_all = |params: &mut Params, column: &str| {
        terms
            .iter()
            .map(|t| format!("{column} LIKE {}", params.push(format!("%{t}%"))))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let whole = match backend {
        DbBackend::Postgres => {
            let expression = terms
                .iter()
                .map(|t| format!("{t}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            // The same words as SQLite's index, matched by prefix the same way (no stemming).
            let query = format!("to_tsquery('simple', {})", params.push(expression.clone()));
            let own_scope = scope(params);
            // Theme labels are indexed unstemmed (they mix languages): words match by prefix.
            let themes_query = format!("to_tsquery('simple', {})", params.push(expression));
            let themed_scope = scope(params);
            format!(
                "whole AS (SELECT d.id, d.subject_type, d.subject_id, d.locale, \
                   2.0 + ts_rank_cd(d.tsv, ({query}), 32) AS score \
                   FROM search_document d WHERE d.tsv @@ ({query}) AND {own_scope}), \
                 themed AS (SELECT d.id, d.subject_type, d.subject_id, d.locale, 0.5 AS score \
                   FROM search_document d WHERE d.tsv_themes @@ {themes_query} AND {themed_scope})"
            )
        }
        _ => {
            let expression = terms
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            let matched = params.push(expression.clone());
            let own_scope = scope(params);
            let themes_matched = params.push(expression);
            let themed_scope = scope(params);
            // bm25 is negative, better when lower: mapped into (2, 3).
            format!(
                "whole AS (SELECT d.id, d.subject_type, d.subject_id, d.locale, \
                   2.0 + (-bm25(search_fts, 10.0, 1.0)) / (1.0 - bm25(search_fts, 10.0, 1.0)) AS score \
                   FROM search_fts JOIN search_document d ON d.id = search_fts.rowid \
                   WHERE search_fts MATCH {matched} AND {own_scope}), \
                 themed AS (SELECT d.id, d.subject_type, d.subject_id, d.locale, 0.5 AS score \
                   FROM search_theme_fts JOIN search_document d ON d.id = search_theme_fts.rowid \
                   WHERE search_theme_fts MATCH {themes_matched} AND {themed_scope})"
            )
        }
    };
    let partial = if terms.iter().all(|t| t.chars().count() >= MIN_PART_CHARS) {
        let in_title = contains_all(params, "d.folded_title");
        match backend {
            DbBackend::Postgres => {
                let text = contains_all(params, "(d.folded_title || ' ' || d.folded_body)");
                let scope = scope(params);
                format!(
                    ", part AS (SELECT d.id, d.subject_type, d.subject_id, d.locale, \
                       CASE WHEN {in_title} THEN 1.5 ELSE 1.0 END AS score \
                       FROM search_document d WHERE {text} AND {scope})"
                )
            }
            _ => {
                let phrase = terms
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let matched = params.push(phrase);
                let scope = scope(params);
                format!(
                    ", part AS (SELECT d.id, d.subject_type, d.subject_id, d.locale, \
                       CASE WHEN {in_title} THEN 1.5 ELSE 1.0 END AS score \
                       FROM search_trigram JOIN search_document d ON d.id = search_trigram.rowid \
                       WHERE search_trigram MATCH {matched} AND {scope})"
                )
            }
        }
    } else {
        String::new()
    };
    let mut tiers = vec!["SELECT * FROM whole", "SELECT * FROM themed"];
    if !partial.is_empty() {
        tiers.push("SELECT * FROM part");
    }
    let locale = params.push(shown_locale.to_owned());
    format!(
        "WITH {whole}{partial}, \
         hits AS ({}), \
         ranked AS (SELECT hits.*, \
           ROW_NUMBER() OVER (PARTITION BY subject_type, subject_id ORDER BY (locale = {locale}) DESC, score DESC) AS rn, \
           MAX(score) OVER (PARTITION BY subject_type, subject_id) AS best FROM hits)",
        tiers.join(" UNION ALL ")
    )
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Searches initiatives, needs, organisations, programmes and learnings in every language,
    /// best match first. Case and accents do not matter; all words must match. Whole words
    /// (and their starts: "herstel" finds "herstelplaats") rank first, then parts of words of
    /// three letters or more ("bibliotheek" finds "gereedschapsbibliotheek"), then records of a
    /// theme whose label matches ("réparation" finds the records of the theme so labelled).
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The words to look for.")] query: String,
        #[graphql(desc = "Only these kinds of record (default: all).")] types: Option<
            Vec<SearchType>,
        >,
        #[graphql(
            desc = "Whose records: this instance's own (the default) and, as asked, copies of the records of the instances it follows."
        )]
        origins: Option<crate::graphql::filter::Origins>,
        #[graphql(
            desc = "The locale to show titles and snippets in when a record has it; by default the request's `Accept-Language`."
        )]
        locale: Option<String>,
        #[graphql(desc = "Returns the first n results (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Returns the results after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<SearchResultConnection> {
        crate::graphql::result_cache::cached(ctx, async move {
            if query.chars().count() > MAX_QUERY_CHARS {
                return Err(ApiError::bad_input(
                    "query",
                    format!("The query is longer than {MAX_QUERY_CHARS} characters."),
                )
                .into());
            }
            let terms = terms(&query);
            if terms.is_empty() {
                return Err(
                    ApiError::bad_input("query", "The query has no words to look for.").into(),
                );
            }
            let limit = match first {
                None => DEFAULT_PAGE_SIZE,
                Some(n) if (0..=MAX_PAGE_SIZE as i32).contains(&n) => n as u64,
                Some(n) => {
                    return Err(ApiError::bad_input(
                        "first",
                        format!("`first` is {n}, but it must be between 0 and {MAX_PAGE_SIZE}."),
                    )
                    .into());
                }
            };
            let offset = offset(after.as_deref())?;
            let explicit = parse_locale_argument(locale.as_deref())?;
            // The argument first, then the request's languages, then the fallbacks.
            let chain = preferences(ctx).chain(explicit.as_ref());
            let types: Vec<&str> = types
                .unwrap_or_else(|| SearchType::ALL.to_vec())
                .iter()
                .map(|t| t.kind().type_name())
                .collect();
            let visibility: Vec<&str> = if viewer(ctx).sees_partner_content() {
                vec![PUBLIC, PARTNERS]
            } else {
                vec![PUBLIC]
            };
            let (own, followed, instances) = crate::graphql::filter::chosen_origins(
                origins.as_ref(),
                "origins.instances",
            )?;
            let origins = origins_condition(own, followed, &instances);
            let db = &request(ctx).db;
            let scope = Scope {
                visibility: &visibility,
                types: &types,
                chain: &chain,
                origins: &origins,
            };
            let (mut edges, mut total) = run(db, &terms, &scope, limit, offset).await?;
            let mut did_you_mean = None;
            // Nothing as typed: the last tier tries the misspelt words corrected.
            if total == 0 && offset == 0 {
                let corrected = super::typos::correct(db, &terms, &visibility)
                    .await
                    .map_err(ApiError::from)?;
                if corrected != terms {
                    let (found, count) = run(db, &corrected, &scope, limit, offset).await?;
                    if count > 0 {
                        (edges, total) = (found, count);
                        did_you_mean = Some(corrected.join(" "));
                    }
                }
            }
            let page_info = PageInfo {
                has_next_page: (offset + edges.len() as u64) < total as u64,
                has_previous_page: offset > 0,
                start_cursor: edges.first().map(|e| Cursor::Encoded(e.cursor.clone())),
                end_cursor: edges.last().map(|e| Cursor::Encoded(e.cursor.clone())),
            };
            Ok(SearchResultConnection {
                edges,
                page_info,
                total,
                did_you_mean,
            })
        })
        .await
    }
}
