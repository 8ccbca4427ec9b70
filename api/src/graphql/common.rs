//! GraphQL pieces shared by every domain: record metadata, ordering direction, date ranges,
//! provenance, and the filter conditions lists have in common.
use async_graphql::{Enum, InputObject, SimpleObject};
use sea_orm::DbBackend;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, SelectStatement};

use crate::graphql::scalars::{Date, DateTime};
use crate::kernel::error::ApiError;
use crate::kernel::i18n::fold;
use crate::kernel::record::column_of;

/// Fields every record carries, shown on each type.
#[derive(SimpleObject, Debug, Clone)]
pub struct RecordMeta {
    /// When the record was created.
    pub created_at: DateTime,
    /// When the record last changed.
    pub updated_at: DateTime,
    /// Grows by one with every change; send it back with an update so that a change made
    /// meanwhile by someone else is not overwritten.
    pub version: i32,
    /// Whether the record is archived (hidden from lists unless asked for; never deleted).
    pub archived: bool,
    /// When the record was archived.
    pub archived_at: Option<DateTime>,
    /// Where the record comes from.
    pub provenance: Provenance,
}

/// Builds the `RecordMeta` of any model with the common columns.
#[macro_export]
macro_rules! record_meta {
    ($model:expr) => {
        $crate::graphql::common::RecordMeta {
            created_at: $crate::graphql::scalars::DateTime($model.created_at),
            updated_at: $crate::graphql::scalars::DateTime($model.updated_at),
            version: $model.version,
            archived: $model.archived_at.is_some(),
            archived_at: $model.archived_at.map($crate::graphql::scalars::DateTime),
            provenance: $model.provenance.into(),
        }
    };
}

/// Where a record comes from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Provenance")]
pub enum Provenance {
    /// Stated in the Stroom case description of the City of Mechelen.
    CaseStudy,
    /// Taken from public sources (project pages, the city's website).
    PublicSource,
    /// Made up to illustrate the API; not a fact and not a measurement.
    Illustrative,
    /// Generated in bulk for load tests; not real.
    Synthetic,
    /// Recorded by a user of the API.
    Recorded,
}

/// Sort direction.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Ascending: A to Z, oldest first, smallest first.
    #[default]
    Asc,
    /// Descending: Z to A, newest first, largest first.
    Desc,
}

impl OrderDirection {
    pub fn is_desc(self) -> bool {
        self == Self::Desc
    }
}

/// An inclusive range of dates; either end may be left open.
#[derive(InputObject, Debug, Clone)]
pub struct DateRange {
    /// The first day of the range (inclusive).
    pub from: Option<Date>,
    /// The last day of the range (inclusive).
    pub to: Option<Date>,
}

impl DateRange {
    /// Refuses a range whose end lies before its start.
    pub fn check(&self, field: &str) -> Result<(), ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            return Err(ApiError::bad_input(
                field,
                format!(
                    "`{field}.to` ({}) lies before `{field}.from` ({}).",
                    to.0, from.0
                ),
            ));
        }
        Ok(())
    }

    /// Adds `from <= column <= to` to a query.
    pub fn apply(
        &self,
        field: &str,
        select: &mut SelectStatement,
        column: Expr,
    ) -> Result<(), ApiError> {
        self.check(field)?;
        if let Some(from) = self.from {
            select.and_where(column.clone().gte(from.0));
        }
        if let Some(to) = self.to {
            select.and_where(column.lte(to.0));
        }
        Ok(())
    }
}

/// The longest `search` text a filter accepts.
pub const MAX_SEARCH_LENGTH: usize = 200;

/// Matches records whose text (any translation) contains the search text, ignoring case and
/// accents.
pub fn search_condition(table: &'static str, search: &str) -> Result<Option<Expr>, ApiError> {
    if search.chars().count() > MAX_SEARCH_LENGTH {
        return Err(ApiError::bad_input(
            "filter.search",
            format!("The search text is longer than {MAX_SEARCH_LENGTH} characters."),
        ));
    }
    Ok(search_pattern(search)
        .map(|pattern| column_of(table, "search_text").like(LikeExpr::new(pattern).escape('\\'))))
}

/// The `LIKE` pattern of a search text: folded (case and accents), wildcards escaped with `\`;
/// `None` for a search of nothing.
pub fn search_pattern(search: &str) -> Option<String> {
    let folded = fold(search.trim());
    if folded.is_empty() {
        return None;
    }
    let escaped = folded
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

/// Hides archived records unless they are asked for.
pub fn archived_condition(table: &'static str, include_archived: Option<bool>) -> Option<Expr> {
    (!include_archived.unwrap_or(false)).then(|| column_of(table, "archived_at").is_null())
}

/// `member IN (ids and all their descendants)` over a self-nested table (areas, themes,
/// organisations), so a filter on a neighbourhood also finds what sits in its street clusters.
/// It reads the table's `…_lineage` view, as counting by that table's records does, so a
/// filter and a group of the same record always agree.
pub fn in_subtree(backend: DbBackend, tree: &'static str, member: Expr, ids: &[i64]) -> Expr {
    // Below none of no records: nothing (and `IN ()` is not SQL everywhere).
    if ids.is_empty() {
        return Expr::cust("1 = 0");
    }
    let mut exprs = vec![member];
    exprs.extend(ids.iter().map(|id| Expr::val(*id)));
    let placeholders: Vec<String> = match backend {
        DbBackend::Postgres => (2..=ids.len() + 1).map(|n| format!("${n}")).collect(),
        _ => vec!["?".to_owned(); ids.len()],
    };
    let member = if backend == DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    Expr::cust_with_exprs(
        format!(
            "{member} IN (SELECT {tree}_id FROM {tree}_lineage WHERE ancestor_id IN ({}))",
            placeholders.join(", ")
        ),
        exprs,
    )
}

/// `member IN (records of a self-nested table whose search text contains the pattern, and all
/// below them)`.
pub fn in_matching_subtree(
    backend: DbBackend,
    tree: &'static str,
    member: Expr,
    pattern: String,
) -> Expr {
    let (member_at, pattern_at) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    Expr::cust_with_exprs(
        format!(
            "{member_at} IN (WITH RECURSIVE subtree(id) AS (SELECT id FROM {tree} \
             WHERE search_text LIKE {pattern_at} ESCAPE '\\' AND archived_at IS NULL \
             UNION SELECT child.id FROM {tree} AS child JOIN subtree ON child.parent_id = subtree.id \
             WHERE child.archived_at IS NULL) SELECT id FROM subtree)"
        ),
        [member, Expr::val(pattern)],
    )
}

/// `COALESCE(column->>'l1', column->>'l2', …)`: a localized text in the first locale of the
/// chain that has it, for sorting in SQL.
pub fn localized_expr(table: &'static str, column: &'static str, chain: &[String]) -> Expr {
    let parts: Vec<String> = chain
        .iter()
        // Locale codes are validated to letters, digits and hyphens; never quote anything else.
        .filter(|code| code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(|code| format!("\"{table}\".\"{column}\"->>'{code}'"))
        .collect();
    Expr::cust(format!("COALESCE({})", parts.join(", ")))
}

/// Checks the size of an ID list in a filter.
pub fn check_id_list(field: &str, len: usize) -> Result<(), ApiError> {
    const MAX_FILTER_IDS: usize = 100;
    if len > MAX_FILTER_IDS {
        return Err(ApiError::bad_input(
            field,
            format!("`{field}` lists {len} IDs; a filter takes at most {MAX_FILTER_IDS}."),
        ));
    }
    Ok(())
}
