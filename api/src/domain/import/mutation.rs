//! `importRecords`: a spreadsheet uploaded with the GraphQL multipart request, for staff
//! without a shell. Editor and admin keys only, as for every change.
use async_graphql::{Context, InputObject, Object, SimpleObject, Upload};

use super::columns::ImportType;
use super::sheet::{Encoding, ReadOptions, Source};
use super::{ImportError, ImportOptions, ImportReport};
use crate::graphql::context::request;
use crate::kernel::error::ApiError;
use crate::kernel::write::{UserError, require_writer};

/// The text encoding of an uploaded CSV file.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvEncoding {
    /// UTF-8, with or without a byte-order mark ("CSV UTF-8").
    Utf8,
    /// Windows-1252, as older Excel saves CSV in Western Europe.
    Windows1252,
}

/// A spreadsheet to import.
#[derive(InputObject)]
pub struct ImportRecordsInput {
    /// What the rows are.
    pub record_type: ImportType,
    /// The file: `.xlsx`, `.ods`, `.xls` or `.csv`, sent as a multipart upload.
    pub file: Upload,
    /// Check everything and report, change nothing.
    #[graphql(default = false)]
    pub dry_run: bool,
    /// Write the good rows even when others are refused (otherwise all or nothing).
    #[graphql(default = false)]
    pub partial: bool,
    /// The language of texts whose column names none (`naam` rather than `naam (en)`); by
    /// default the language the column names are in.
    pub locale: Option<String>,
    /// CSV only: the encoding, when detecting it is not wanted.
    pub encoding: Option<CsvEncoding>,
    /// CSV only: the separator (`,`, `;` or a tab), when detecting it is not wanted.
    pub separator: Option<String>,
}

/// The result of an import.
#[derive(SimpleObject)]
pub struct ImportRecordsPayload {
    /// What the import did, row by row; null when the request itself was refused.
    pub report: Option<ImportReport>,
    /// What was wrong with the request (not with rows: those are in the report).
    pub user_errors: Vec<UserError>,
}

fn refused(field: &str, message: impl Into<String>) -> ImportRecordsPayload {
    ImportRecordsPayload {
        report: None,
        user_errors: vec![UserError::invalid(field, message)],
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports records from a spreadsheet: each row is created, updated, found unchanged or
    /// refused, with the reason per cell. All or nothing unless `partial`; nothing at all
    /// with `dryRun`. Rows go through the same checks, audit trail and change feed as the
    /// other mutations.
    async fn import_records(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file and how to read it.")] input: ImportRecordsInput,
    ) -> async_graphql::Result<ImportRecordsPayload> {
        let request = request(ctx);
        require_writer(&request.viewer)?;
        let upload = input.file.value(ctx).map_err(|e| ApiError::BadUserInput {
            field: Some("input.file".into()),
            message: format!("The file could not be read: {e}."),
        })?;
        let separator = match input.separator.as_deref() {
            None => None,
            Some("\\t" | "\t" | "tab") => Some(b'\t'),
            Some(s) if s.len() == 1 && [",", ";", "|"].contains(&s) => Some(s.as_bytes()[0]),
            Some(other) => {
                return Ok(refused(
                    "separator",
                    format!("`{other}` is not a separator: use `,`, `;`, `|` or `tab`."),
                ));
            }
        };
        let read = ReadOptions {
            encoding: input.encoding.map(|e| match e {
                CsvEncoding::Utf8 => Encoding::Utf8,
                CsvEncoding::Windows1252 => Encoding::Windows1252,
            }),
            separator,
        };
        let options = ImportOptions {
            record_type: input.record_type,
            dry_run: input.dry_run,
            partial: input.partial,
            locale: input.locale,
        };
        let sheet = match super::sheet::open(Source::Bytes(upload.content.to_vec()), read).await {
            Ok(sheet) => sheet,
            Err(message) => {
                return Ok(ImportRecordsPayload {
                    report: Some(ImportReport::refused_file(&options, message)),
                    user_errors: Vec::new(),
                });
            }
        };
        let report = match super::run(
            &request.db,
            request.viewer.clone(),
            sheet,
            &options,
            &|_| {},
        )
        .await
        {
            Ok(report) | Err(ImportError::File(report)) => report,
            Err(ImportError::Api(error)) => return Err(error.into()),
        };
        Ok(ImportRecordsPayload {
            report: Some(report),
            user_errors: Vec::new(),
        })
    }
}
