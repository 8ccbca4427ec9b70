//! What an import did, row by row: as GraphQL (the upload mutation's payload), as JSON, as a
//! table for the terminal, and as an annotated copy of the spreadsheet.
use async_graphql::{Enum, ID, SimpleObject};
use serde_json::json;

use super::ImportOptions;
use super::columns::ImportType;
use crate::kernel::write::UserError;

/// What became of a row.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    /// A new record was made (or would be, in a dry run).
    Created,
    /// The record was changed.
    Updated,
    /// The record already holds what the row says.
    Unchanged,
    /// The row has problems; nothing of it was written.
    Refused,
    /// The record changed since the row was read; it was not overwritten.
    Conflict,
}

impl RowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Created => "created",
            RowOutcome::Updated => "updated",
            RowOutcome::Unchanged => "unchanged",
            RowOutcome::Refused => "refused",
            RowOutcome::Conflict => "conflict",
        }
    }
}

/// A problem with a cell (or with a whole row).
#[derive(SimpleObject, Debug, Clone)]
pub struct CellProblem {
    /// The column's name as the file gives it; null for a problem of the whole row.
    pub column: Option<String>,
    /// The cell, such as `C4`.
    pub cell: Option<String>,
    /// What the cell holds.
    pub value: Option<String>,
    /// What is wrong, for a person to read.
    pub message: String,
    #[graphql(skip)]
    pub conflict: bool,
}

impl CellProblem {
    pub fn row(message: String) -> Self {
        Self {
            column: None,
            cell: None,
            value: None,
            message,
            conflict: false,
        }
    }

    pub fn of_row(error: UserError) -> Self {
        Self::row(error.message)
    }
}

/// One row of the file and what became of it.
#[derive(SimpleObject, Debug, Clone)]
pub struct ImportRow {
    /// Its number in the spreadsheet (the header is row 1).
    pub row: u32,
    /// What became of it.
    pub outcome: RowOutcome,
    /// Its external ID, if it has one.
    pub external_id: Option<String>,
    /// The record it made or found (null when refused, and for new records in a dry run).
    pub id: Option<ID>,
    /// The record's version after the import.
    pub version: Option<i32>,
    /// What is wrong with it; empty unless refused or in conflict.
    pub problems: Vec<CellProblem>,
    #[graphql(skip)]
    pub record: Option<i64>,
}

impl ImportRow {
    pub fn new(row: u32) -> Self {
        Self {
            row,
            outcome: RowOutcome::Unchanged,
            external_id: None,
            id: None,
            version: None,
            problems: Vec::new(),
            record: None,
        }
    }

    pub fn refuse(&mut self, problems: Vec<CellProblem>) {
        self.outcome = if problems.iter().any(|p| p.conflict) {
            RowOutcome::Conflict
        } else {
            RowOutcome::Refused
        };
        self.problems = problems;
    }

    pub fn created(&mut self, id: ID, record: i64, version: i32) {
        self.outcome = RowOutcome::Created;
        self.id = Some(id);
        self.record = Some(record);
        self.version = Some(version);
    }

    pub fn updated(&mut self, version: i32) {
        self.outcome = RowOutcome::Updated;
        self.version = Some(version);
    }

    pub fn unchanged(&mut self) {
        self.outcome = RowOutcome::Unchanged;
    }
}

/// What an import did (or, in a dry run, would do).
#[derive(SimpleObject, Debug, Clone)]
pub struct ImportReport {
    /// What the rows are.
    pub record_type: ImportType,
    /// The file's format: `xlsx`, `ods`, `xls` or `csv`.
    pub format: String,
    /// The language of texts whose column names none.
    pub locale: String,
    /// Whether this was a dry run (nothing is ever written then).
    pub dry_run: bool,
    /// Whether good rows are written even when others are refused.
    pub partial: bool,
    /// Whether the changes were written: not in a dry run, and without `partial` only when no
    /// row was refused.
    pub applied: bool,
    /// Rows that make a new record.
    pub created: i32,
    /// Rows that change a record.
    pub updated: i32,
    /// Rows whose record already holds what they say.
    pub unchanged: i32,
    /// Rows with problems.
    pub refused: i32,
    /// Rows whose record changed since the row was read.
    pub conflicts: i32,
    /// Problems of the whole file (unknown columns, an unreadable file); no row is imported
    /// when there are any.
    pub problems: Vec<String>,
    /// Every row, in the file's order.
    pub rows: Vec<ImportRow>,
}

impl ImportReport {
    pub fn new(options: &ImportOptions, format: &str) -> Self {
        Self {
            record_type: options.record_type,
            format: format.to_owned(),
            locale: String::new(),
            dry_run: options.dry_run,
            partial: options.partial,
            applied: false,
            created: 0,
            updated: 0,
            unchanged: 0,
            refused: 0,
            conflicts: 0,
            problems: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// A report of a file refused as a whole.
    pub fn refused_file(options: &ImportOptions, message: String) -> Self {
        let mut report = Self::new(options, "");
        report.problems.push(message);
        report
    }

    pub fn count(&mut self) {
        let count = |o: RowOutcome| self.rows.iter().filter(|r| r.outcome == o).count() as i32;
        self.created = count(RowOutcome::Created);
        self.updated = count(RowOutcome::Updated);
        self.unchanged = count(RowOutcome::Unchanged);
        self.refused = count(RowOutcome::Refused);
        self.conflicts = count(RowOutcome::Conflict);
    }

    /// Whether rows were refused or in conflict (or the file as a whole).
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty() || self.refused > 0 || self.conflicts > 0
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "recordType": self.record_type.as_str(),
            "format": self.format,
            "locale": self.locale,
            "dryRun": self.dry_run,
            "partial": self.partial,
            "applied": self.applied,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "conflicts": self.conflicts,
            "problems": self.problems,
            "rows": self.rows.iter().map(|r| json!({
                "row": r.row,
                "outcome": r.outcome.as_str(),
                "externalId": r.external_id,
                "id": r.id.as_ref().map(|id| id.0.clone()),
                "version": r.version,
                "problems": r.problems.iter().map(|p| json!({
                    "column": p.column,
                    "cell": p.cell,
                    "value": p.value,
                    "message": p.message,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The summary and the rows that need attention, for a terminal; at most `limit` rows
    /// of problems are listed.
    pub fn table(&self, limit: usize) -> String {
        let mut out = String::new();
        let mode = if self.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        };
        out.push_str(&format!(
            "{} from a {} file{mode}\n",
            self.record_type.as_str(),
            self.format
        ));
        for problem in &self.problems {
            out.push_str(&format!("  file: {problem}\n"));
        }
        if self.rows.iter().any(|r| !r.problems.is_empty()) {
            out.push_str(&format!(
                "{:>7}  {:<10} {:<6} {:<22} {}\n",
                "row", "outcome", "cell", "value", "problem"
            ));
        }
        let mut listed = 0;
        for row in &self.rows {
            if row.problems.is_empty() {
                continue;
            }
            for p in &row.problems {
                if listed == limit {
                    break;
                }
                listed += 1;
                let mut value = p.value.clone().unwrap_or_default().replace('\n', " ");
                if value.chars().count() > 22 {
                    value = value.chars().take(21).collect::<String>() + "…";
                }
                out.push_str(&format!(
                    "{:>7}  {:<10} {:<6} {:<22} {}\n",
                    row.row,
                    row.outcome.as_str(),
                    p.cell.clone().unwrap_or_default(),
                    value,
                    p.message
                ));
            }
        }
        let with_problems: usize = self.rows.iter().map(|r| r.problems.len()).sum();
        if with_problems > listed {
            out.push_str(&format!(
                "  … and {} more problems: see the full report (--report report.json or report.xlsx)\n",
                with_problems - listed
            ));
        }
        out.push_str(&format!(
            "{} rows: {} created, {} updated, {} unchanged, {} refused, {} conflicts.\n",
            self.rows.len(),
            self.created,
            self.updated,
            self.unchanged,
            self.refused,
            self.conflicts
        ));
        out.push_str(if self.applied {
            "The changes were written.\n"
        } else if self.dry_run {
            "Nothing was written (dry run).\n"
        } else if self.created + self.updated == 0 && !self.has_problems() {
            "Nothing to write: the records already hold what the file says.\n"
        } else if self.partial {
            "Nothing was written.\n"
        } else {
            "Nothing was written: fix the refused rows, or import with --partial to write the good ones.\n"
        });
        out
    }
}
