//! Importing records from spreadsheets. Each row becomes the input object of the matching
//! mutation and goes through it, inside one write (one transaction, with its audit entries,
//! change-feed events and so webhooks): all or nothing by default, or the good rows with
//! `partial`. Every row runs in a savepoint, so a refused row is undone alone and the report
//! lists every problem of the file at once; a dry run is the same run, rolled back at the end,
//! so the two give the same report.
//!
//! A row finds its record by its external ID (kept in `import_key`) or its global ID; a record
//! an import would set to the values it already has is reported unchanged and not written. A
//! record changed since the file last brought it (or since the version its row names) is a
//! conflict, never overwritten.
pub mod cells;
pub mod columns;
pub mod mutation;
pub mod report;
pub mod sheet;
pub mod template;

use std::collections::HashMap;

use async_graphql::{Name, Value};
use entity::localized::LocalizedText;
use indexmap_lite::Fields;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Map, Value as Json};

use cells::{Read, key};
use columns::{Column, ImportType, Kind, Spec};
pub use report::{CellProblem, ImportReport, ImportRow, RowOutcome};
use sheet::{CellValue, Sheet, SheetRow, column_letter};

use crate::kernel::access::{Role, Viewer};
use crate::kernel::error::ApiError;
use crate::kernel::ids::{GlobalId, NodeKind};
use crate::kernel::record::Record;
use crate::kernel::time::now;
use crate::kernel::write::{Refusal, UserError, Write, WriteResult, snapshot, version_of};

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub record_type: ImportType,
    /// Check everything, change nothing.
    pub dry_run: bool,
    /// Apply the good rows even when others are refused.
    pub partial: bool,
    /// The language of texts whose column names none; by default the language of the column
    /// names.
    pub locale: Option<String>,
}

/// The languages column names are written in, in `Column::names` order.
const LANGUAGES: [&str; 3] = ["en", "nl", "fr"];

/// What one header cell means.
#[derive(Debug, Clone)]
enum Target {
    ExternalId,
    Id,
    Version,
    /// A column of the type, with the locale its name gives (`naam (en)`).
    Field(usize, Option<String>),
}

/// The header row, understood.
struct Layout {
    targets: Vec<Target>,
    locale: String,
}

fn normalise(header: &str) -> String {
    key(&header.replace(['_', '*'], " "))
}

/// Splits `naam (en)` / `naam [en]` into the name and the locale.
fn split_locale(header: &str) -> (String, Option<String>) {
    let trimmed = header.trim().trim_end_matches('*').trim();
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(rest) = trimmed.strip_suffix(close)
            && let Some(at) = rest.rfind(open)
        {
            let locale = rest[at + 1..].trim();
            let valid = (2..=3).contains(&locale.split('-').next().unwrap_or_default().len())
                && locale.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
            if valid {
                return (rest[..at].trim().to_owned(), Some(locale.to_owned()));
            }
        }
    }
    (trimmed.to_owned(), None)
}

fn layout(spec: &Spec, headers: &[String], locale: Option<&str>) -> Result<Layout, Vec<String>> {
    let mut problems = Vec::new();
    let mut targets = Vec::new();
    let mut votes = [0usize; 3];
    let mut seen: HashMap<String, String> = HashMap::new();
    for (i, header) in headers.iter().enumerate() {
        let (name, text_locale) = split_locale(header);
        let name = normalise(&name);
        let special = [
            (columns::EXTERNAL_ID, Target::ExternalId),
            (columns::ID, Target::Id),
            (columns::VERSION, Target::Version),
        ]
        .into_iter()
        .find(|(names, _)| names.iter().any(|n| normalise(n) == name))
        .map(|(_, t)| t);
        let target = match special {
            Some(t) if text_locale.is_none() => Some(t),
            _ => spec
                .columns
                .iter()
                .position(|c| {
                    c.names.iter().any(|n| normalise(n) == name)
                        || c.field.to_lowercase() == name.replace(' ', "")
                })
                .map(|at| {
                    let column = &spec.columns[at];
                    for (l, n) in column.names.iter().enumerate() {
                        if normalise(n) == name
                            && column.names.iter().filter(|m| normalise(m) == name).count() == 1
                        {
                            votes[l] += 1;
                        }
                    }
                    Target::Field(at, text_locale.clone())
                }),
        };
        match target {
            None => {
                let known = spec
                    .columns
                    .iter()
                    .flat_map(|c| c.names.iter().copied())
                    .chain(columns::EXTERNAL_ID)
                    .chain(columns::VERSION);
                let close = cells::closest(&name, known);
                let hint = if close.is_empty() {
                    String::new()
                } else {
                    format!(" Did you mean {}?", close.join(" or "))
                };
                problems.push(format!(
                    "Column {} (`{header}`) is not a column of {}.{hint} The template \
                     (`stroom import --template {}`) lists them.",
                    column_letter(i),
                    spec_name(spec),
                    spec_name(spec)
                ));
            }
            Some(Target::Field(at, Some(_))) if !matches!(spec.columns[at].kind, Kind::Text) => {
                problems.push(format!(
                    "Column {} (`{header}`) names a language, but {} is not a text in languages.",
                    column_letter(i),
                    spec.columns[at].names[0]
                ));
            }
            Some(target) => {
                let identity = match &target {
                    Target::Field(at, l) => format!("{at}/{}", l.clone().unwrap_or_default()),
                    other => format!("{other:?}"),
                };
                if let Some(first) = seen.insert(identity, header.clone()) {
                    problems.push(format!(
                        "Columns `{first}` and `{header}` both hold the same thing; keep one."
                    ));
                }
                targets.push(target);
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let locale = match locale {
        Some(l) => l.to_owned(),
        None => {
            // The language most column names are in; Dutch when they do not tell.
            let best = (0..3)
                .max_by_key(|&l| (votes[l], usize::from(l == 1)))
                .unwrap_or(1);
            LANGUAGES[best].to_owned()
        }
    };
    // A text column without a language is in the file's; a second column naming that
    // language would say the same text twice.
    for (at, target) in targets.iter().enumerate() {
        if let Target::Field(c, None) = target
            && let Some(twin) = targets
                .iter()
                .position(|t| matches!(t, Target::Field(d, Some(l)) if d == c && *l == locale))
        {
            return Err(vec![format!(
                "Columns `{}` and `{}` both hold the {locale} text (a column without a language \
                 holds the file's, {locale}); name the language of `{}`, such as `{} (nl)`, or \
                 import with the file's language set (--locale).",
                headers[at], headers[twin], headers[at], headers[at]
            )]);
        }
    }
    Ok(Layout { targets, locale })
}

fn spec_name(spec: &Spec) -> &'static str {
    ImportType::ALL
        .into_iter()
        .find(|t| std::ptr::eq(t.spec(), spec))
        .map(ImportType::as_str)
        .unwrap_or("records")
}

/// A record already known to the import: by external ID, with the version the last import
/// left it at.
#[derive(Debug, Clone, Copy)]
struct Known {
    id: i64,
    imported_version: i32,
}

/// Records looked up by name, code or external ID; loaded once per type on first use, and
/// grown with what the import makes.
#[derive(Default)]
struct Lookup {
    names: HashMap<NodeKind, HashMap<String, Vec<i64>>>,
    external: HashMap<NodeKind, HashMap<String, Known>>,
    municipality_count: Option<u64>,
    /// The row each external ID of the file was first seen on.
    rows_of_external: HashMap<String, u32>,
    /// External IDs given by this import (with their record and version), stored as it ends.
    new_keys: HashMap<(NodeKind, String), (i64, i32)>,
}

impl Lookup {
    async fn external(
        &mut self,
        write: &Write,
        kind: NodeKind,
    ) -> WriteResult<&mut HashMap<String, Known>> {
        use entity::import_key::{Column, Entity};
        if let std::collections::hash_map::Entry::Vacant(slot) = self.external.entry(kind) {
            let rows: Vec<(String, i64, i32)> = Entity::find()
                .select_only()
                .column(Column::ExternalId)
                .column(Column::SubjectId)
                .column(Column::ImportedVersion)
                .filter(Column::SubjectType.eq(kind.type_name()))
                .into_tuple()
                .all(&write.txn)
                .await?;
            let map = rows
                .into_iter()
                .map(|(external, id, imported_version)| {
                    (
                        external,
                        Known {
                            id,
                            imported_version,
                        },
                    )
                })
                .collect();
            slot.insert(map);
        }
        Ok(self.external.entry(kind).or_default())
    }

    async fn names(
        &mut self,
        write: &Write,
        kind: NodeKind,
    ) -> WriteResult<&HashMap<String, Vec<i64>>> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.names.entry(kind) {
            let mut map: HashMap<String, Vec<i64>> = HashMap::new();
            let mut add = |id: i64, name: &str| {
                let ids = map.entry(key(name)).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            };
            macro_rules! named {
                ($entity:ident, $name:ident) => {{
                    use entity::$entity::{Column, Entity};
                    let rows: Vec<(i64, LocalizedText)> = Entity::find()
                        .select_only()
                        .column(Column::Id)
                        .column(Column::$name)
                        .into_tuple()
                        .all(&write.txn)
                        .await?;
                    for (id, name) in rows {
                        for (_, text) in name.iter() {
                            add(id, text);
                        }
                    }
                }};
            }
            macro_rules! coded {
                ($entity:ident) => {{
                    use entity::$entity::{Column, Entity};
                    let rows: Vec<(i64, String)> = Entity::find()
                        .select_only()
                        .column(Column::Id)
                        .column(Column::Code)
                        .into_tuple()
                        .all(&write.txn)
                        .await?;
                    for (id, code) in rows {
                        add(id, &code);
                    }
                }};
            }
            match kind {
                NodeKind::Municipality => named!(municipality, Name),
                NodeKind::Programme => named!(programme, Name),
                NodeKind::Area => named!(area, Name),
                NodeKind::Organisation => named!(organisation, Name),
                NodeKind::Initiative => named!(initiative, Name),
                NodeKind::Need => named!(need, Title),
                NodeKind::Theme => {
                    coded!(theme);
                    named!(theme, Label);
                }
                NodeKind::Indicator => {
                    coded!(indicator);
                    named!(indicator, Name);
                }
                _ => {}
            }
            slot.insert(map);
        }
        Ok(&self.names[&kind])
    }

    /// The record a cell names: a global ID, an external ID, a name or code.
    async fn find(
        &mut self,
        write: &Write,
        kind: NodeKind,
        raw: &str,
    ) -> WriteResult<Result<i64, String>> {
        if let Ok(id) = GlobalId::decode_as("", &async_graphql::ID(raw.to_owned()), kind) {
            return Ok(Ok(id));
        }
        if let Some(known) = self.external(write, kind).await?.get(raw.trim()) {
            return Ok(Ok(known.id));
        }
        let names = self.names(write, kind).await?;
        Ok(match names.get(&key(raw)).map(Vec::as_slice) {
            Some([id]) => Ok(*id),
            Some(ids) if ids.len() > 1 => Err(format!(
                "{} records of type {} are called `{raw}`; use the ID or external ID of the one you mean.",
                ids.len(),
                kind.type_name()
            )),
            _ => {
                let close = cells::closest(raw, names.keys().map(String::as_str));
                let hint = if close.is_empty() {
                    String::new()
                } else {
                    format!(" The closest known: {}.", close.join(", "))
                };
                let by = if matches!(kind, NodeKind::Theme | NodeKind::Indicator) {
                    "code or name"
                } else {
                    "name, external ID or ID"
                };
                Err(format!(
                    "No {} has the {by} `{raw}`.{hint}",
                    kind.type_name()
                ))
            }
        })
    }

    fn learn(&mut self, kind: NodeKind, id: i64, names: &[String]) {
        if let Some(map) = self.names.get_mut(&kind) {
            for name in names {
                let ids = map.entry(key(name)).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
}

/// Why an import did not run at all.
#[derive(Debug)]
pub enum ImportError {
    /// The caller may not import (a partner key, no key).
    Api(ApiError),
    /// The file cannot be read, or its columns are not understood: the report's problems.
    File(ImportReport),
}

impl From<ApiError> for ImportError {
    fn from(e: ApiError) -> Self {
        ImportError::Api(e)
    }
}

/// A row as read: its input fields, and who it is.
struct RowInput {
    fields: Fields,
    /// Text fields as locale → text, merged over the current texts on update.
    texts: HashMap<&'static str, Vec<(String, String)>>,
    /// Resolved fixed fields, to compare with the record on update.
    external_id: Option<String>,
    id: Option<i64>,
    version: Option<i32>,
    problems: Vec<CellProblem>,
    names: Vec<String>,
}

/// Imports the rows of `sheet` as `viewer`. `progress` is told the number of each row read.
pub async fn run(
    db: &DatabaseConnection,
    viewer: Viewer,
    sheet: Sheet,
    options: &ImportOptions,
    progress: &(dyn Fn(u32) + Send + Sync),
) -> Result<ImportReport, ImportError> {
    let spec = options.record_type.spec();
    let mut report = ImportReport::new(options, sheet.format.as_str());
    let layout = match layout(spec, &sheet.headers, options.locale.as_deref()) {
        Ok(layout) => layout,
        Err(problems) => {
            report.problems = problems;
            return Err(ImportError::File(report));
        }
    };
    report.locale = layout.locale.clone();
    let mut write = Write::start(db, viewer, "importRecords").await?;
    write.keep_references();
    let mut lookup = Lookup::default();
    let mut rows = sheet.rows;
    let mut failure: Option<ApiError> = None;
    while let Some(next) = rows.recv().await {
        let row = match next {
            Ok(row) => row,
            Err(message) => {
                report.problems.push(message);
                break;
            }
        };
        progress(row.number);
        match import_row(&write, &mut lookup, spec, &sheet.headers, &layout, &row).await {
            Ok(outcome) => report.rows.push(outcome),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    drop(rows);
    if let Some(error) = failure {
        let _ = write.finish::<()>(Err(Refusal::User(Vec::new()))).await;
        return Err(ImportError::Api(error));
    }
    report.count();
    if let Err(refusal) = store_new_keys(&write, &mut lookup).await {
        let _ = write.finish::<()>(Err(Refusal::User(Vec::new()))).await;
        return Err(ImportError::Api(match refusal {
            Refusal::Api(error) => error,
            Refusal::User(errors) => ApiError::internal(anyhow::anyhow!(
                "storing external IDs: {}",
                errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        }));
    }
    let apply = !options.dry_run
        && report.problems.is_empty()
        && (options.partial || !report.has_problems())
        && (report.created + report.updated) > 0;
    let result: WriteResult<()> = if apply {
        Ok(())
    } else {
        Err(Refusal::User(Vec::new()))
    };
    write.finish(result).await?;
    report.applied = apply;
    if !apply {
        // Records made in a run that was rolled back do not exist.
        for row in report
            .rows
            .iter_mut()
            .filter(|r| r.outcome == RowOutcome::Created)
        {
            row.id = None;
            row.version = None;
        }
    }
    if !report.problems.is_empty() {
        return Err(ImportError::File(report));
    }
    Ok(report)
}

/// A cell's problem, located.
fn problem(
    headers: &[String],
    column: usize,
    row: &SheetRow,
    message: impl Into<String>,
) -> CellProblem {
    CellProblem {
        column: headers.get(column).cloned(),
        cell: Some(format!("{}{}", column_letter(column), row.number)),
        value: row
            .cells
            .get(column)
            .map(CellValue::display)
            .filter(|v| !v.is_empty()),
        message: message.into(),
        conflict: false,
    }
}

/// Reads a row's cells into input fields.
async fn read_row(
    write: &Write,
    lookup: &mut Lookup,
    spec: &Spec,
    headers: &[String],
    layout: &Layout,
    row: &SheetRow,
) -> WriteResult<RowInput> {
    let mut input = RowInput {
        fields: Fields::default(),
        texts: HashMap::new(),
        external_id: None,
        id: None,
        version: None,
        problems: Vec::new(),
        names: Vec::new(),
    };
    for (at, target) in layout.targets.iter().enumerate() {
        let cell = &row.cells[at];
        if cell.is_empty() {
            if let Target::Field(c, _) = target {
                input.fields.cleared(spec.columns[*c].field, at);
            }
            continue;
        }
        let raw = match cells::text(cell) {
            Ok(raw) => raw,
            Err(message) => {
                input.problems.push(problem(headers, at, row, message));
                continue;
            }
        };
        match target {
            Target::ExternalId => input.external_id = Some(raw),
            Target::Version => match cells::integer(cell)
                .ok()
                .and_then(|v| i32::try_from(v).ok())
            {
                Some(v) => input.version = Some(v),
                None => input.problems.push(problem(
                    headers,
                    at,
                    row,
                    format!("`{raw}` is not a version number."),
                )),
            },
            Target::Id => {
                match GlobalId::decode_as("id", &async_graphql::ID(raw.clone()), spec.node) {
                    Ok(id) => input.id = Some(id),
                    Err(e) => input
                        .problems
                        .push(problem(headers, at, row, e.to_string())),
                }
            }
            Target::Field(c, locale) => {
                let column = &spec.columns[*c];
                match read_cell(write, lookup, column, cell, &raw).await? {
                    Ok(Read::Value(value)) => {
                        if matches!(column.kind, Kind::Text) {
                            let locale = locale.clone().unwrap_or_else(|| layout.locale.clone());
                            if matches!(column.field, "name" | "title") {
                                input.names.push(raw.clone());
                            }
                            input
                                .texts
                                .entry(column.field)
                                .or_default()
                                .push((locale, raw));
                            input.fields.seen(column.field, at);
                        } else {
                            input.fields.set(column.field, value, at);
                        }
                    }
                    Ok(Read::References(ids)) => {
                        let value = if matches!(column.kind, Kind::Refs(_)) {
                            Value::List(ids.into_iter().map(Value::String).collect())
                        } else {
                            ids.into_iter()
                                .next()
                                .map(Value::String)
                                .unwrap_or(Value::Null)
                        };
                        input.fields.set(column.field, value, at);
                    }
                    Err(message) => input.problems.push(problem(headers, at, row, message)),
                }
            }
        }
    }
    Ok(input)
}

async fn read_cell(
    write: &Write,
    lookup: &mut Lookup,
    column: &Column,
    cell: &CellValue,
    raw: &str,
) -> WriteResult<Result<Read, String>> {
    let value = |v: Result<Value, String>| Ok(v.map(Read::Value));
    match column.kind {
        Kind::Text | Kind::Plain => value(Ok(Value::String(raw.to_owned()))),
        Kind::Enum(names) => value(cells::enumeration(raw, &names()).map(cells::enum_value)),
        Kind::EnumList(names) => {
            let names = names();
            value(
                cells::items(raw)
                    .iter()
                    .map(|item| cells::enumeration(item, &names).map(cells::enum_value))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::List),
            )
        }
        Kind::Date => {
            value(cells::date(cell).map(|d| Value::String(d.format("%Y-%m-%d").to_string())))
        }
        Kind::Int => value(
            cells::integer(cell)
                .and_then(|i| i32::try_from(i).map_err(|_| format!("{i} is too large.")))
                .map(|i| Value::Number(i.into())),
        ),
        Kind::Decimal => value(cells::decimal(cell).map(Value::String)),
        Kind::Bool => value(cells::boolean(cell).map(Value::Boolean)),
        Kind::Ref(kind) => Ok(lookup
            .find(write, kind, raw)
            .await?
            .map(|id| Read::References(vec![kind.id(id).0]))),
        Kind::Refs(kind) => {
            let mut ids = Vec::new();
            let mut problems = Vec::new();
            for item in cells::items(raw) {
                match lookup.find(write, kind, &item).await? {
                    Ok(id) => {
                        let id = kind.id(id).0;
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    Err(message) => problems.push(message),
                }
            }
            Ok(if problems.is_empty() {
                Ok(Read::References(ids))
            } else {
                Err(problems.join(" "))
            })
        }
    }
}

/// The record as it stands: its version and its fields as the audit trail names them.
struct Current {
    version: i32,
    fields: Map<String, Json>,
}

async fn current<E: Record>(write: &Write, id: i64) -> WriteResult<Current> {
    let model = write.existing::<E>(id).await?;
    Ok(Current {
        version: version_of::<E>(&model).unwrap_or(0),
        fields: snapshot::<E>(&model),
    })
}

async fn current_of(write: &Write, kind: NodeKind, id: i64) -> WriteResult<Current> {
    use entity::*;
    match kind {
        NodeKind::Initiative => current::<initiative::Entity>(write, id).await,
        NodeKind::Need => current::<need::Entity>(write, id).await,
        NodeKind::Organisation => current::<organisation::Entity>(write, id).await,
        NodeKind::Partnership => current::<partnership::Entity>(write, id).await,
        NodeKind::Outcome => current::<outcome::Entity>(write, id).await,
        NodeKind::Learning => current::<learning::Entity>(write, id).await,
        other => {
            Err(ApiError::internal(anyhow::anyhow!("{} is not imported", other.type_name())).into())
        }
    }
}

fn texts(list: &[(String, String)]) -> Value {
    Value::List(
        list.iter()
            .map(|(locale, text)| {
                let mut object = async_graphql::indexmap::IndexMap::new();
                object.insert(Name::new("locale"), Value::String(locale.clone()));
                object.insert(Name::new("text"), Value::String(text.clone()));
                Value::Object(object)
            })
            .collect(),
    )
}

async fn import_row(
    write: &Write,
    lookup: &mut Lookup,
    spec: &Spec,
    headers: &[String],
    layout: &Layout,
    row: &SheetRow,
) -> Result<ImportRow, ApiError> {
    let mut outcome = ImportRow::new(row.number);
    let mut input = match read_row(write, lookup, spec, headers, layout, row).await {
        Ok(input) => input,
        Err(Refusal::Api(error)) => return Err(error),
        Err(Refusal::User(errors)) => {
            outcome.refuse(errors.into_iter().map(CellProblem::of_row).collect());
            return Ok(outcome);
        }
    };
    outcome.external_id = input.external_id.clone();
    match import_record(write, lookup, spec, &mut input, &mut outcome).await {
        Ok(()) => Ok(outcome),
        // A record the key may not change is that row's problem, not the file's.
        Err(Refusal::Api(ApiError::Forbidden(message))) => {
            outcome.refuse(vec![CellProblem::row(message)]);
            Ok(outcome)
        }
        Err(Refusal::Api(error)) => Err(error),
        Err(Refusal::User(errors)) => {
            // The mutation names input fields; the report names the cells they came from.
            let problems = errors
                .into_iter()
                .map(|error| {
                    let field = error.field.as_ref().and_then(|path| path.get(1)).cloned();
                    let cell = field.as_deref().and_then(|f| input.fields.cell(f));
                    let conflict = error.code == crate::kernel::write::UserErrorCode::Conflict;
                    let mut problem = match cell.filter(|c| *c < headers.len()) {
                        Some(cell) => problem(headers, cell, row, error.message),
                        None => CellProblem::of_row(error),
                    };
                    problem.conflict = conflict;
                    problem
                })
                .collect::<Vec<_>>();
            outcome.refuse(problems);
            Ok(outcome)
        }
    }
}

async fn import_record(
    write: &Write,
    lookup: &mut Lookup,
    spec: &Spec,
    input: &mut RowInput,
    outcome: &mut ImportRow,
) -> WriteResult<()> {
    // Who the row is.
    let known = match &input.external_id {
        Some(external) => {
            if let Some(first) = lookup
                .rows_of_external
                .insert(external.clone(), outcome.row)
            {
                input.problems.push(CellProblem::row(format!(
                    "The external ID `{external}` is also on row {first}; each record needs its own."
                )));
            }
            lookup
                .external(write, spec.node)
                .await?
                .get(external)
                .copied()
        }
        None => None,
    };
    let existing = match (input.id, known) {
        (Some(id), Some(known)) if id != known.id => {
            input.problems.push(CellProblem::row(format!(
                "The external ID `{}` belongs to {}, not to {}.",
                input.external_id.clone().unwrap_or_default(),
                spec.node.id(known.id).0,
                spec.node.id(id).0
            )));
            None
        }
        (Some(id), _) => Some(id),
        (None, Some(known)) => Some(known.id),
        (None, None) => None,
    };
    if !input.problems.is_empty() {
        outcome.refuse(std::mem::take(&mut input.problems));
        return Ok(());
    }
    let part = write.part().await?;
    let done = match existing {
        None => create(write, lookup, spec, input, outcome).await,
        Some(id) => update(write, spec, input, id, known, outcome).await,
    };
    match done {
        Ok(true) => {
            if let (Some(external), Some(id), Some(version)) =
                (&input.external_id, outcome.record, outcome.version)
            {
                remember(write, lookup, spec.node, external, id, version).await?;
            }
            write.keep(part);
            if let Some(id) = outcome.record {
                lookup.learn(spec.node, id, &input.names);
            }
            Ok(())
        }
        Ok(false) => {
            write.undo(part).await?;
            Ok(())
        }
        Err(refusal) => {
            write.undo(part).await?;
            Err(refusal)
        }
    }
}

/// Makes the record; true when it is to be kept.
async fn create(
    write: &Write,
    lookup: &mut Lookup,
    spec: &Spec,
    input: &mut RowInput,
    outcome: &mut ImportRow,
) -> WriteResult<bool> {
    let mut missing = Vec::new();
    for column in spec.columns {
        let given =
            input.fields.value(column.field).is_some() || input.texts.contains_key(column.field);
        if column.required && !given {
            missing.push(column);
        }
    }
    // An editor's records are in its own municipality; an instance of one municipality needs
    // none named.
    if spec.columns.iter().any(|c| c.field == "municipality")
        && input.fields.value("municipality").is_none()
        && matches!(
            spec.node,
            NodeKind::Initiative | NodeKind::Need | NodeKind::Organisation
        )
    {
        let own = match write.viewer.municipality_id {
            Some(own) if write.viewer.role == Role::Editor => Some(own),
            _ if spec.node != NodeKind::Organisation => {
                let count = match lookup.municipality_count {
                    Some(count) => count,
                    None => {
                        use sea_orm::PaginatorTrait;
                        let count = entity::municipality::Entity::find()
                            .count(&write.txn)
                            .await?;
                        lookup.municipality_count = Some(count);
                        count
                    }
                };
                if count == 1 {
                    entity::municipality::Entity::find()
                        .one(&write.txn)
                        .await?
                        .map(|m| m.id)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(own) = own {
            input.fields.set(
                "municipality",
                Value::String(NodeKind::Municipality.id(own).0),
                usize::MAX,
            );
        }
    }
    if matches!(spec.node, NodeKind::Initiative | NodeKind::Need)
        && input.fields.value("municipality").is_none()
        && let Some(column) = spec.columns.iter().find(|c| c.field == "municipality")
    {
        // The key writes to several municipalities and the row names none.
        missing.push(column);
    }
    missing.retain(|c| input.fields.value(c.field).is_none());
    if !missing.is_empty() {
        return Err(missing
            .iter()
            .map(|c| {
                UserError::invalid(
                    c.field,
                    format!(
                        "`{}` is required for a new record; the cell is empty.",
                        c.names[0]
                    ),
                )
            })
            .collect::<Vec<_>>()
            .into());
    }
    let mut object = input.fields.object();
    for (field, list) in &input.texts {
        object.insert(Name::new(field), texts(list));
    }
    let (id, version) = (spec.create)(write, Value::Object(object)).await?;
    outcome.created(spec.node.id(id), id, version);
    Ok(true)
}

/// Changes the record to what the row says; true when it changed and is to be kept.
async fn update(
    write: &Write,
    spec: &Spec,
    input: &mut RowInput,
    id: i64,
    known: Option<Known>,
    outcome: &mut ImportRow,
) -> WriteResult<bool> {
    let current = current_of(write, spec.node, id).await?;
    outcome.record = Some(id);
    outcome.id = Some(spec.node.id(id));
    outcome.version = Some(current.version);
    // What is fixed at creation may be repeated, not changed.
    let mut problems = Vec::new();
    for column in spec.columns.iter().filter(|c| c.fixed) {
        let now = current
            .fields
            .get(column.field)
            .cloned()
            .unwrap_or(Json::Null);
        let same = match (&column.kind, input.fields.value(column.field)) {
            (Kind::Text, _) => input.texts.get(column.field).is_none_or(|list| {
                list.iter()
                    .all(|(l, t)| now.get(l).and_then(Json::as_str) == Some(t.as_str()))
            }),
            (_, None) => true,
            (Kind::Enum(_), Some(Value::Enum(v))) => now
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(v.as_str())),
            (_, Some(Value::String(v))) => now.as_str() == Some(v.as_str()),
            _ => true,
        };
        if !same {
            let shown = match &now {
                Json::String(s) => s.clone(),
                Json::Null => "empty".into(),
                other => other.to_string(),
            };
            problems.push(UserError::invalid(
                column.field,
                format!(
                    "`{}` cannot change once the record exists (it is {shown}); leave the cell as it is or empty.",
                    column.names[0]
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems.into());
    }
    let Some(update) = spec.update else {
        outcome.unchanged();
        return Ok(false);
    };
    let mut object = input.fields.object_for_update(spec);
    for (field, list) in &input.texts {
        if spec.columns.iter().any(|c| c.field == *field && c.fixed) {
            continue;
        }
        let mut merged: Vec<(String, String)> = current
            .fields
            .get(*field)
            .and_then(Json::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(l, t)| t.as_str().map(|t| (l.clone(), t.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        for (locale, text) in list {
            match merged.iter_mut().find(|(l, _)| l == locale) {
                Some(entry) => entry.1 = text.clone(),
                None => merged.push((locale.clone(), text.clone())),
            }
        }
        object.insert(Name::new(field), texts(&merged));
    }
    object.insert(Name::new("id"), Value::String(spec.node.id(id).0));
    object.insert(Name::new("version"), Value::Number(current.version.into()));
    let part = write.part().await?;
    let version = update(write, Value::Object(object)).await?;
    if !write.changed_in(&part) {
        write.undo(part).await?;
        outcome.unchanged();
        return Ok(false);
    }
    write.keep(part);
    let allowed = match (input.version, known) {
        (Some(v), _) => v == current.version,
        (None, Some(known)) => known.imported_version == current.version,
        (None, None) => false,
    };
    if !allowed {
        let why = match (input.version, known) {
            (Some(v), _) => format!("the row is of version {v}"),
            (None, Some(known)) => format!(
                "the last import left it at version {}",
                known.imported_version
            ),
            (None, None) => "the row names no version".to_owned(),
        };
        return Err(UserError {
            field: Some(vec!["input".into(), "version".into()]),
            message: format!(
                "The record changed since this row was read: {why}, it is now at version {}. \
                 Export it again, or put {} in the version column to overwrite it.",
                current.version, current.version
            ),
            code: crate::kernel::write::UserErrorCode::Conflict,
            current_version: Some(current.version),
        }
        .into());
    }
    outcome.updated(version);
    Ok(true)
}

/// Keeps the external ID of a record the import made or changed, with its version now. New
/// external IDs are stored together at the end (`store_new_keys`).
async fn remember(
    write: &Write,
    lookup: &mut Lookup,
    kind: NodeKind,
    external: &str,
    id: i64,
    version: i32,
) -> WriteResult<()> {
    use entity::import_key::{Column, Entity};
    let pending = (kind, external.to_owned());
    let map = lookup.external(write, kind).await?;
    let known = map.contains_key(external);
    map.insert(
        external.to_owned(),
        Known {
            id,
            imported_version: version,
        },
    );
    if known && !lookup.new_keys.contains_key(&pending) {
        Entity::update_many()
            .col_expr(Column::SubjectId, sea_orm::sea_query::Expr::value(id))
            .col_expr(
                Column::ImportedVersion,
                sea_orm::sea_query::Expr::value(version),
            )
            .col_expr(Column::UpdatedAt, sea_orm::sea_query::Expr::value(now()))
            .filter(Column::SubjectType.eq(kind.type_name()))
            .filter(Column::ExternalId.eq(external))
            .exec(&write.txn)
            .await?;
    } else {
        lookup.new_keys.insert(pending, (id, version));
    }
    Ok(())
}

/// Stores the external IDs the import gave, a few hundred per statement.
async fn store_new_keys(write: &Write, lookup: &mut Lookup) -> WriteResult<()> {
    use entity::import_key::{ActiveModel, Entity};
    use sea_orm::ActiveValue::{NotSet, Set};
    let at = now();
    let keys: Vec<_> = lookup.new_keys.drain().collect();
    for chunk in keys.chunks(500) {
        let models = chunk
            .iter()
            .map(|((kind, external), (id, version))| ActiveModel {
                id: NotSet,
                subject_type: Set(kind.type_name().to_owned()),
                external_id: Set(external.clone()),
                subject_id: Set(*id),
                imported_version: Set(*version),
                created_at: Set(at),
                updated_at: Set(at),
            });
        Entity::insert_many(models)
            .exec_without_returning(&write.txn)
            .await?;
    }
    Ok(())
}

/// Input fields as a row fills them, with the cell each came from.
mod indexmap_lite {
    use async_graphql::indexmap::IndexMap;
    use async_graphql::{Name, Value};

    use super::columns::Spec;

    #[derive(Default)]
    pub struct Fields {
        values: Vec<(&'static str, Value, usize)>,
        cleared: Vec<(&'static str, usize)>,
        seen: Vec<(&'static str, usize)>,
    }

    impl Fields {
        pub fn set(&mut self, field: &'static str, value: Value, cell: usize) {
            self.values.retain(|(f, _, _)| *f != field);
            self.values.push((field, value, cell));
        }

        pub fn cleared(&mut self, field: &'static str, cell: usize) {
            self.cleared.push((field, cell));
        }

        pub fn seen(&mut self, field: &'static str, cell: usize) {
            self.seen.push((field, cell));
        }

        pub fn value(&self, field: &str) -> Option<&Value> {
            self.values
                .iter()
                .find(|(f, _, _)| *f == field)
                .map(|(_, v, _)| v)
        }

        /// The cell a field came from.
        pub fn cell(&self, field: &str) -> Option<usize> {
            self.values
                .iter()
                .map(|(f, _, c)| (*f, *c))
                .chain(self.seen.iter().copied())
                .chain(self.cleared.iter().copied())
                .find(|(f, _)| *f == field)
                .map(|(_, c)| c)
        }

        pub fn object(&self) -> IndexMap<Name, Value> {
            self.values
                .iter()
                .map(|(f, v, _)| (Name::new(f), v.clone()))
                .collect()
        }

        /// The fields an update sets (fixed ones left out), and null for the emptied cells of
        /// optional columns that are not texts.
        pub fn object_for_update(&self, spec: &Spec) -> IndexMap<Name, Value> {
            let mut object = IndexMap::new();
            for column in spec.columns.iter().filter(|c| !c.fixed) {
                if let Some(value) = self.value(column.field) {
                    object.insert(Name::new(column.field), value.clone());
                } else if !column.required
                    && !matches!(column.kind, super::Kind::Text)
                    && self.cleared.iter().any(|(f, _)| *f == column.field)
                    && !self.seen.iter().any(|(f, _)| *f == column.field)
                {
                    let empty = match column.kind {
                        super::Kind::Refs(_) | super::Kind::EnumList(_) => Value::List(Vec::new()),
                        _ => Value::Null,
                    };
                    object.insert(Name::new(column.field), empty);
                }
            }
            object
        }
    }
}
