//! `stroom import`: records from a spreadsheet through the same import (and so the same
//! mutations, audit trail and change feed) as the `importRecords` mutation, with the report on
//! the terminal and in files; `stroom import --template TYPE` writes a template to fill in.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use sea_orm::DatabaseConnection;

use crate::config::ImportArgs;
use crate::domain::import::columns::ImportType;
use crate::domain::import::sheet::{self, Encoding, ReadOptions, Source};
use crate::domain::import::{ImportError, ImportOptions, ImportReport, run as import, template};
use crate::kernel::access::{Role, Viewer, authenticate};

/// Who the audit trail says imported from the command line without a key.
fn command_line() -> Viewer {
    Viewer {
        role: Role::Admin,
        key: Some((0, "command line".to_owned())),
        municipality_id: None,
    }
}

fn record_type(name: &str) -> anyhow::Result<ImportType> {
    ImportType::parse(name).ok_or_else(|| anyhow!("`{name}` is not a record type that imports"))
}

/// `--template TYPE`: writes the template (no database needed).
pub fn run_template(args: &ImportArgs) -> anyhow::Result<()> {
    if args.columns {
        print!("{}", template::columns_markdown());
        return Ok(());
    }
    match args.template.as_deref() {
        Some(name) => write_template(args, name),
        None => bail!("name the record type of the template: --template TYPE"),
    }
}

fn write_template(args: &ImportArgs, name: &str) -> anyhow::Result<()> {
    let record_type = record_type(name)?;
    let bytes = template::template(record_type, &args.language).map_err(|e| anyhow!(e))?;
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}-template.xlsx")));
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    println!("Wrote the {name} template to {}.", path.display());
    Ok(())
}

fn read_options(args: &ImportArgs) -> anyhow::Result<ReadOptions> {
    let separator = match args.separator.as_deref() {
        None => None,
        Some("tab" | "\\t" | "\t") => Some(b'\t'),
        Some(s @ ("," | ";" | "|")) => Some(s.as_bytes()[0]),
        Some(other) => bail!("`{other}` is not a separator: use `,`, `;`, `|` or `tab`"),
    };
    Ok(ReadOptions {
        encoding: args.encoding.as_deref().map(|e| match e {
            "windows-1252" => Encoding::Windows1252,
            _ => Encoding::Utf8,
        }),
        separator,
    })
}

/// Imports the file; true when every row went in (or would, in a dry run).
pub async fn run(db: &DatabaseConnection, args: ImportArgs) -> anyhow::Result<bool> {
    if let Some(name) = args.template.as_deref() {
        write_template(&args, name)?;
        return Ok(true);
    }
    let Some(path) = args.file.clone() else {
        bail!("name the spreadsheet to import (or --template TYPE to write a template)");
    };
    let Some(name) = args.record_type.as_deref() else {
        bail!(
            "say what the rows are: --type initiatives|needs|organisations|partnerships|outcomes|learnings"
        );
    };
    let options = ImportOptions {
        record_type: record_type(name)?,
        dry_run: args.dry_run,
        partial: args.partial,
        locale: args.locale.clone(),
    };
    let viewer = match args.key.as_deref() {
        None => command_line(),
        Some(token) => authenticate(db, Some(&format!("Bearer {token}")))
            .await?
            .map_err(|refusal| anyhow!("the key was refused: {}", refusal.message()))?,
    };
    let size = std::fs::metadata(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let limit = args.max_file_mb * 1024 * 1024;
    let read = read_options(&args)?;
    let report = if size > limit {
        ImportReport::refused_file(
            &options,
            format!(
                "The file is {} MB, more than the {} MB an import takes (--max-file-mb); split it.",
                size / (1024 * 1024),
                args.max_file_mb
            ),
        )
    } else {
        match sheet::open(Source::Path(path.clone()), read.clone()).await {
            Err(message) => ImportReport::refused_file(&options, message),
            Ok(sheet) => {
                let started = Instant::now();
                let bar = progress(args.quiet);
                let tick = bar.clone();
                let result = import(db, viewer, sheet, &options, &move |row| {
                    tick.set_position(u64::from(row.saturating_sub(1)))
                })
                .await;
                bar.finish_and_clear();
                let report = match result {
                    Ok(report) | Err(ImportError::File(report)) => report,
                    Err(ImportError::Api(error)) => bail!("{error:?}"),
                };
                if !args.quiet {
                    let seconds = started.elapsed().as_secs_f64();
                    eprintln!(
                        "{} rows in {seconds:.1} s ({:.0} rows/s)",
                        report.rows.len(),
                        report.rows.len() as f64 / seconds.max(1e-6)
                    );
                }
                report
            }
        }
    };
    // A closed pipe (`| head`) ends the output, not the import.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), report.table(50).as_bytes());
    for out in &args.report {
        write_report(out, &path, read.clone(), &report).await?;
        eprintln!("Wrote the report to {}.", out.display());
    }
    Ok(!report.has_problems())
}

async fn write_report(
    out: &Path,
    source: &Path,
    read: ReadOptions,
    report: &ImportReport,
) -> anyhow::Result<()> {
    let bytes = match out.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::to_vec_pretty(&report.to_json())?,
        Some("xlsx") if report.format.is_empty() => {
            bail!("the file could not be read, so there is no copy to annotate; use a .json report")
        }
        Some("xlsx") => template::annotated(Source::Path(source.to_owned()), read, report)
            .await
            .map_err(|e| anyhow!(e))?,
        _ => bail!(
            "a report is written as .json or .xlsx, not {}",
            out.display()
        ),
    };
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))
}

/// Rows read so far, with the rate, on a terminal (nothing when output is not a terminal).
fn progress(quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {pos} rows imported ({per_sec}, {elapsed})",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
