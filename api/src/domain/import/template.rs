//! Spreadsheets the service writes: the template of a record type (its columns in the chosen
//! language, an example row, lists to pick enumeration values from, and a sheet explaining
//! every column), and the annotated copy of an imported file (each row's outcome, the cells
//! at fault marked with a note saying why).
use std::collections::HashMap;

use rust_xlsxwriter::{
    Color, DataValidation, ExcelDateTime, Format, FormatBorder, Formula, Note, Workbook, XlsxError,
};

use super::columns::{self, ImportType, Kind};
use super::report::{ImportReport, RowOutcome};
use super::sheet::{self, CellValue, ReadOptions, Source};

/// The languages a template is written in, in `Column::names` order.
pub const TEMPLATE_LANGUAGES: [&str; 3] = ["en", "nl", "fr"];

fn failed(e: XlsxError) -> String {
    format!("The spreadsheet could not be written: {e}.")
}

/// Rows a template's lists and checks reach.
const TEMPLATE_ROWS: u32 = 10_000;

/// The template of a record type, in `language` (`en`, `nl` or `fr`).
pub fn template(record_type: ImportType, language: &str) -> Result<Vec<u8>, String> {
    let lang = TEMPLATE_LANGUAGES
        .iter()
        .position(|l| *l == language)
        .ok_or_else(|| format!("Templates are written in en, nl or fr, not `{language}`."))?;
    let spec = record_type.spec();
    let words = &WORDS[lang];
    let mut book = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_border_bottom(FormatBorder::Thin);
    let required = header.clone().set_font_color(Color::RGB(0x9C0006));
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let wrap = Format::new()
        .set_text_wrap()
        .set_align(rust_xlsxwriter::FormatAlign::Top);

    // The enumeration values, on a sheet the lists point to.
    let mut lists: Vec<(String, Vec<&'static str>)> = Vec::new();
    for column in spec.columns {
        if let Kind::Enum(names) = column.kind {
            lists.push((column.field.to_owned(), names()));
        }
        if let Kind::Bool = column.kind {
            lists.push((column.field.to_owned(), words.yes_no.to_vec()));
        }
    }

    let data = book.add_worksheet();
    data.set_name(words.records).map_err(failed)?;
    let mut at: u16 = 0;
    data.write_string_with_format(0, at, columns::EXTERNAL_ID[lang], &header)
        .map_err(failed)?;
    data.write_string(1, at, "1").map_err(failed)?;
    data.set_column_width(at, 14).map_err(failed)?;
    for column in spec.columns {
        at += 1;
        let name = if column.required {
            format!("{} *", column.names[lang])
        } else {
            column.names[lang].to_owned()
        };
        let format = if column.required { &required } else { &header };
        data.write_string_with_format(0, at, &name, format)
            .map_err(failed)?;
        data.set_column_width(at, (name.chars().count() as f64 + 4.0).max(14.0))
            .map_err(failed)?;
        match column.kind {
            Kind::Date if !column.example.is_empty() => {
                let day = chrono::NaiveDate::parse_from_str(column.example, "%Y-%m-%d")
                    .map_err(|e| e.to_string())?;
                use chrono::Datelike;
                let cell =
                    ExcelDateTime::from_ymd(day.year() as u16, day.month() as u8, day.day() as u8)
                        .map_err(failed)?;
                data.write_datetime_with_format(1, at, cell, &date)
                    .map_err(failed)?;
            }
            Kind::Int | Kind::Decimal if !column.example.is_empty() => {
                let number: f64 = column.example.parse().unwrap_or_default();
                data.write_number(1, at, number).map_err(failed)?;
            }
            Kind::Bool if !column.example.is_empty() => {
                data.write_string(1, at, words.yes_no[1]).map_err(failed)?;
            }
            _ if !column.example.is_empty() => {
                data.write_string(1, at, column.example).map_err(failed)?;
            }
            _ => {}
        }
        if let Kind::Date = column.kind {
            data.set_column_format(at, &date).map_err(failed)?;
        }
        if let Some(list) = lists.iter().position(|(field, _)| field == column.field) {
            let letter = sheet::column_letter(list);
            let count = lists[list].1.len() + 1;
            let validation = DataValidation::new()
                .allow_list_formula(Formula::new(format!(
                    "='{}'!${letter}$2:${letter}${count}",
                    words.lists
                )))
                .set_error_message(words.pick)
                .map_err(failed)?;
            data.add_data_validation(1, at, TEMPLATE_ROWS, at, &validation)
                .map_err(failed)?;
        }
    }
    data.set_freeze_panes(1, 0).map_err(failed)?;

    let help = book.add_worksheet();
    help.set_name(words.explanation).map_err(failed)?;
    for (i, title) in words.help_headers.iter().enumerate() {
        help.write_string_with_format(0, i as u16, *title, &header)
            .map_err(failed)?;
    }
    let widths = [24.0, 10.0, 70.0, 60.0];
    for (i, width) in widths.iter().enumerate() {
        help.set_column_width(i as u16, *width).map_err(failed)?;
    }
    let identity = [
        (
            columns::EXTERNAL_ID[lang],
            words.external_id_help.to_owned(),
            String::new(),
        ),
        (columns::ID[lang], words.id_help.to_owned(), String::new()),
        (
            columns::VERSION[lang],
            words.version_help.to_owned(),
            String::new(),
        ),
    ];
    let described = spec.columns.iter().map(|c| {
        let values = match c.kind {
            Kind::Enum(names) | Kind::EnumList(names) => names().join(", "),
            Kind::Bool => words.yes_no.join(" / "),
            Kind::Date => "YYYY-MM-DD, DD/MM/YYYY".to_owned(),
            _ => String::new(),
        };
        let mut text = c.help.to_owned();
        if c.fixed {
            text.push(' ');
            text.push_str(words.fixed);
        }
        if matches!(c.kind, Kind::Text) {
            text.push(' ');
            text.push_str(&words.text_help.replace("{name}", c.names[lang]));
        }
        (c.names[lang], text, values)
    });
    for (i, (name, text, values)) in identity.into_iter().chain(described).enumerate() {
        let row = i as u32 + 1;
        let is_required = i >= 3 && spec.columns[i - 3].required;
        help.write_string(row, 0, name).map_err(failed)?;
        help.write_string(row, 1, if is_required { words.yes_no[0] } else { "" })
            .map_err(failed)?;
        help.write_string_with_format(row, 2, &text, &wrap)
            .map_err(failed)?;
        help.write_string_with_format(row, 3, &values, &wrap)
            .map_err(failed)?;
    }

    let sheet_of_lists = book.add_worksheet();
    sheet_of_lists.set_name(words.lists).map_err(failed)?;
    for (i, (field, values)) in lists.iter().enumerate() {
        sheet_of_lists
            .write_string_with_format(0, i as u16, field, &header)
            .map_err(failed)?;
        for (j, value) in values.iter().enumerate() {
            sheet_of_lists
                .write_string(j as u32 + 1, i as u16, *value)
                .map_err(failed)?;
        }
    }
    book.save_to_buffer().map_err(failed)
}

/// The words of a template, per language.
struct Words {
    records: &'static str,
    explanation: &'static str,
    lists: &'static str,
    pick: &'static str,
    yes_no: [&'static str; 2],
    help_headers: [&'static str; 4],
    external_id_help: &'static str,
    id_help: &'static str,
    version_help: &'static str,
    fixed: &'static str,
    text_help: &'static str,
}

const WORDS: [Words; 3] = [
    Words {
        records: "Records",
        explanation: "Explanation",
        lists: "Lists",
        pick: "Pick a value from the list.",
        yes_no: ["yes", "no"],
        help_headers: ["Column", "Required", "What it holds", "Values"],
        external_id_help: "Your own number or code for the record. Importing the file again finds the record by it, so nothing is made twice.",
        id_help: "Or: the record's ID in the API, to change a record made elsewhere.",
        version_help: "The version of the record you exported; a record changed since is reported as a conflict, not overwritten.",
        fixed: "Set when the record is made; it cannot change later.",
        text_help: "Add columns such as `{name} (en)` or `{name} (fr)` for translations.",
    },
    Words {
        records: "Gegevens",
        explanation: "Uitleg",
        lists: "Lijsten",
        pick: "Kies een waarde uit de lijst.",
        yes_no: ["ja", "nee"],
        help_headers: ["Kolom", "Verplicht", "Inhoud", "Waarden"],
        external_id_help: "Uw eigen nummer of code voor het record. Wie het bestand opnieuw importeert, vindt het record daarmee terug: niets wordt twee keer gemaakt.",
        id_help: "Of: de ID van het record in de API, om een record te wijzigen dat elders werd gemaakt.",
        version_help: "De versie van het record die u exporteerde; een record dat intussen wijzigde, wordt als conflict gemeld en niet overschreven.",
        fixed: "Wordt vastgelegd bij het maken van het record en kan daarna niet meer wijzigen.",
        text_help: "Voeg kolommen toe zoals `{name} (en)` of `{name} (fr)` voor vertalingen.",
    },
    Words {
        records: "Données",
        explanation: "Explication",
        lists: "Listes",
        pick: "Choisissez une valeur dans la liste.",
        yes_no: ["oui", "non"],
        help_headers: ["Colonne", "Obligatoire", "Contenu", "Valeurs"],
        external_id_help: "Votre propre numéro ou code pour l'enregistrement. Importer le fichier à nouveau le retrouve : rien n'est créé deux fois.",
        id_help: "Ou : l'ID de l'enregistrement dans l'API, pour modifier un enregistrement créé ailleurs.",
        version_help: "La version de l'enregistrement exporté ; un enregistrement modifié entre-temps est signalé comme conflit, jamais écrasé.",
        fixed: "Fixé à la création de l'enregistrement ; ne peut plus changer ensuite.",
        text_help: "Ajoutez des colonnes comme `{name} (en)` ou `{name} (nl)` pour les traductions.",
    },
];

/// The imported file again, with each row's outcome and its problems: cells at fault in red
/// with a note saying why.
pub async fn annotated(
    source: Source,
    options: ReadOptions,
    report: &ImportReport,
) -> Result<Vec<u8>, String> {
    let mut file = sheet::open(source, options).await?;
    let mut book = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7));
    let bad = Format::new().set_background_color(Color::RGB(0xFFC7CE));
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let outcome_format = |o: RowOutcome| match o {
        RowOutcome::Created | RowOutcome::Updated => {
            Format::new().set_background_color(Color::RGB(0xC6EFCE))
        }
        RowOutcome::Unchanged => Format::new().set_font_color(Color::RGB(0x7F7F7F)),
        RowOutcome::Refused | RowOutcome::Conflict => bad.clone().set_bold(),
    };
    let rows: HashMap<u32, &super::report::ImportRow> =
        report.rows.iter().map(|r| (r.row, r)).collect();
    let data = book.add_worksheet();
    data.write_string_with_format(0, 0, "outcome", &header)
        .map_err(failed)?;
    data.write_string_with_format(0, 1, "problems", &header)
        .map_err(failed)?;
    data.set_column_width(1, 60).map_err(failed)?;
    for (i, name) in file.headers.iter().enumerate() {
        data.write_string_with_format(0, i as u16 + 2, name, &header)
            .map_err(failed)?;
    }
    let mut out_row = 1u32;
    while let Some(next) = file.rows.recv().await {
        let row = next?;
        let outcome = rows.get(&row.number);
        if let Some(outcome) = outcome {
            data.write_string_with_format(
                out_row,
                0,
                outcome.outcome.as_str(),
                &outcome_format(outcome.outcome),
            )
            .map_err(failed)?;
            let messages: Vec<String> = outcome
                .problems
                .iter()
                .map(|p| match &p.cell {
                    Some(cell) => format!("{cell}: {}", p.message),
                    None => p.message.clone(),
                })
                .collect();
            data.write_string(out_row, 1, messages.join("\n"))
                .map_err(failed)?;
        }
        for (i, cell) in row.cells.iter().enumerate() {
            let col = i as u16 + 2;
            let problem = outcome.and_then(|o| {
                let letter = sheet::column_letter(i);
                o.problems
                    .iter()
                    .find(|p| p.cell.as_deref() == Some(&format!("{letter}{}", row.number)))
            });
            let format = if problem.is_some() {
                bad.clone()
            } else {
                Format::new()
            };
            match cell {
                CellValue::Empty => {
                    if problem.is_some() {
                        data.write_blank(out_row, col, &format).map_err(failed)?;
                    }
                }
                CellValue::Number(n) => {
                    data.write_number_with_format(out_row, col, *n, &format)
                        .map_err(failed)?;
                }
                CellValue::Bool(b) => {
                    data.write_boolean_with_format(out_row, col, *b, &format)
                        .map_err(failed)?;
                }
                CellValue::DateTime(d) => {
                    use chrono::{Datelike, Timelike};
                    let cell =
                        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                            .and_then(|c| c.and_hms(d.hour() as u16, d.minute() as u8, d.second()))
                            .map_err(failed)?;
                    let format = if problem.is_some() {
                        bad.clone().set_num_format("yyyy-mm-dd")
                    } else {
                        date.clone()
                    };
                    data.write_datetime_with_format(out_row, col, cell, &format)
                        .map_err(failed)?;
                }
                other => {
                    data.write_string_with_format(out_row, col, other.display(), &format)
                        .map_err(failed)?;
                }
            }
            if let Some(problem) = problem {
                data.insert_note(
                    out_row,
                    col,
                    &Note::new(&problem.message).set_author("stroom"),
                )
                .map_err(failed)?;
            }
        }
        out_row += 1;
    }
    data.set_freeze_panes(1, 2).map_err(failed)?;
    book.save_to_buffer().map_err(failed)
}

/// Every record type's columns as Markdown (`docs/import-columns.md`, kept in step by a test).
pub fn columns_markdown() -> String {
    let mut out = String::from(
        "# Spreadsheet columns\n\n\
         Generated by `stroom import --columns`; a test fails when it drifts from the code.\n\n\
         A column is found by its name in English, Dutch or French (case, spaces and `_` do not \
         matter, a trailing `*` is ignored). Every type also takes `external ID` / `externe ID` / \
         `ID externe` (your own identity for the record: importing again finds it), `ID` (the \
         record's global ID) and `version` / `versie` (the version you exported: a record changed \
         since is a conflict). A text column may name its language, `naam (en)`; without one it \
         holds the file's language (the language of the column names, or `--locale`). Lists are \
         separated by `;`, `|` or line breaks (quote the cell in a `;`-separated CSV). Dates are \
         date cells, `YYYY-MM-DD` or `DD/MM/YYYY`; numbers take a decimal point or comma; yes/no \
         is yes/no, ja/nee, oui/non, true/false or 1/0.\n",
    );
    for record_type in ImportType::ALL {
        let spec = record_type.spec();
        out.push_str(&format!(
            "\n## {}\n\n| English | Dutch | French | required | what it holds | values |\n|---|---|---|---|---|---|\n",
            record_type.as_str()
        ));
        for c in spec.columns {
            let values = match c.kind {
                Kind::Enum(names) | Kind::EnumList(names) => names().join(", "),
                Kind::Bool => "yes / no".to_owned(),
                Kind::Date => "a date".to_owned(),
                Kind::Int => "a whole number".to_owned(),
                Kind::Decimal => "a number".to_owned(),
                Kind::Ref(kind) | Kind::Refs(kind) => kind.with_article(),
                Kind::Text => "text, per language".to_owned(),
                Kind::Plain => "text".to_owned(),
            };
            let list = if matches!(c.kind, Kind::Refs(_) | Kind::EnumList(_)) {
                " (a list)"
            } else {
                ""
            };
            let fixed = if c.fixed { " Set at creation." } else { "" };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {}{fixed} | {values}{list} |\n",
                c.names[0],
                c.names[1],
                c.names[2],
                if c.required { "yes" } else { "" },
                c.help.replace('|', "\\|"),
            ));
        }
    }
    out
}
