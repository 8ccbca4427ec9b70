//! Reading a spreadsheet row by row: `.xlsx` (streamed), `.ods`, legacy `.xls` and `.csv` (streamed;
//! UTF-8 with or without BOM, or Windows-1252 from older Excel; `,`, `;` or tab separated). A
//! thread reads the file and hands rows over a small channel, so memory stays bounded however
//! long the file is.
use std::io::{BufRead, BufReader, Cursor, Read, Seek};
use std::path::PathBuf;

use calamine::{DataRef, Reader};
use chrono::NaiveDateTime;

/// More rows than this is not a department's spreadsheet.
pub const MAX_ROWS: u32 = 1_000_000;
/// More columns than this neither.
pub const MAX_COLUMNS: usize = 256;
/// Rows waiting between the reading thread and the import.
const QUEUE: usize = 256;

/// Where the file comes from.
pub enum Source {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

/// The text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Windows1252,
}

/// How to read the file when it cannot say itself.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// CSV: the encoding (detected when not given).
    pub encoding: Option<Encoding>,
    /// CSV: the separator (detected from the header line when not given).
    pub separator: Option<u8>,
}

/// A cell as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    DateTime(NaiveDateTime),
    /// A formula: its text. Only values are imported.
    Formula(String),
    /// An error value (`#REF!`, `#N/A`…).
    Error(String),
}

impl CellValue {
    pub fn is_empty(&self) -> bool {
        match self {
            CellValue::Empty => true,
            CellValue::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as a person reads it (in reports).
    pub fn display(&self) -> String {
        match self {
            CellValue::Empty => String::new(),
            CellValue::Text(t) => t.clone(),
            CellValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            CellValue::Number(n) => n.to_string(),
            CellValue::Bool(b) => b.to_string(),
            CellValue::DateTime(d) if d.time() == chrono::NaiveTime::MIN => d.date().to_string(),
            CellValue::DateTime(d) => d.to_string(),
            CellValue::Formula(f) => format!("={}", f.trim_start_matches('=')),
            CellValue::Error(e) => e.clone(),
        }
    }
}

/// One data row: its number as the spreadsheet shows it (the header is row 1) and its cells,
/// one per header column.
#[derive(Debug, Clone)]
pub struct SheetRow {
    pub number: u32,
    pub cells: Vec<CellValue>,
}

/// The file's format, as read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Ods,
    Xls,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Ods => "ods",
            Format::Xls => "xls",
            Format::Csv => "csv",
        }
    }
}

/// An open spreadsheet: its header row, and its data rows as they are read.
pub struct Sheet {
    pub format: Format,
    pub headers: Vec<String>,
    pub rows: tokio::sync::mpsc::Receiver<Result<SheetRow, String>>,
}

/// Opens the file and reads its header row; the data rows follow on `Sheet::rows`. A file that
/// cannot be read (corrupt, password-protected, not a spreadsheet, merged header cells…) is
/// refused with a message for a person.
pub async fn open(source: Source, options: ReadOptions) -> Result<Sheet, String> {
    let (header_tx, header_rx) = tokio::sync::oneshot::channel();
    let (row_tx, row_rx) = tokio::sync::mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("import-reader".into())
        .spawn(move || {
            let mut out = Out {
                header: Some(header_tx),
                rows: row_tx,
            };
            let result = match source {
                Source::Path(path) => match std::fs::File::open(&path) {
                    Ok(file) => read(BufReader::new(file), &options, &mut out),
                    Err(e) => Err(format!(
                        "The file {} could not be opened: {e}.",
                        path.display()
                    )),
                },
                Source::Bytes(bytes) => read(Cursor::new(bytes), &options, &mut out),
            };
            if let Err(message) = result {
                out.fail(message);
            }
        })
        .map_err(|e| format!("The file could not be read: {e}."))?;
    let (format, headers) = header_rx
        .await
        .map_err(|_| "The file could not be read.".to_owned())??;
    Ok(Sheet {
        format,
        headers,
        rows: row_rx,
    })
}

/// The file's format and header row, or why it cannot be read.
type Header = Result<(Format, Vec<String>), String>;

/// Where the reading thread sends what it read.
struct Out {
    header: Option<tokio::sync::oneshot::Sender<Header>>,
    rows: tokio::sync::mpsc::Sender<Result<SheetRow, String>>,
}

impl Out {
    fn header(&mut self, format: Format, cells: Vec<CellValue>) -> Result<usize, String> {
        let headers = headers(cells)?;
        let width = headers.len();
        if let Some(tx) = self.header.take() {
            let _ = tx.send(Ok((format, headers)));
        }
        Ok(width)
    }

    /// Sends a data row; false when the import stopped listening.
    fn row(
        &mut self,
        number: u32,
        mut cells: Vec<CellValue>,
        width: usize,
    ) -> Result<bool, String> {
        if number > MAX_ROWS + 1 {
            return Err(format!(
                "The sheet has more than {MAX_ROWS} rows; split it into smaller files."
            ));
        }
        if cells.iter().skip(width).any(|c| !c.is_empty()) {
            return Err(format!(
                "Row {number} has a value right of the last header; give every column a header."
            ));
        }
        cells.resize(width, CellValue::Empty);
        if cells.iter().all(CellValue::is_empty) {
            return Ok(true);
        }
        Ok(self
            .rows
            .blocking_send(Ok(SheetRow { number, cells }))
            .is_ok())
    }

    fn fail(mut self, message: String) {
        match self.header.take() {
            Some(tx) => {
                let _ = tx.send(Err(message));
            }
            None => {
                let _ = self.rows.blocking_send(Err(message));
            }
        }
    }
}

/// The header row's names; an empty header cell under which there are values, or a name
/// twice, is refused (merged header cells leave empty ones).
fn headers(cells: Vec<CellValue>) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = cells
        .iter()
        .map(|c| c.display().trim().to_owned())
        .collect();
    while names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    if names.is_empty() {
        return Err("The first row must hold the column names; it is empty.".into());
    }
    if names.len() > MAX_COLUMNS {
        return Err(format!("The sheet has more than {MAX_COLUMNS} columns."));
    }
    if let Some(i) = names.iter().position(String::is_empty) {
        return Err(format!(
            "Column {} has no name in the first row (are header cells merged?); give every \
             column its own name.",
            column_letter(i)
        ));
    }
    if let Some(formula) = cells.iter().find_map(|c| match c {
        CellValue::Formula(f) => Some(f.clone()),
        _ => None,
    }) {
        return Err(format!(
            "A column name is a formula (={formula}); type the names as text."
        ));
    }
    Ok(names)
}

/// `A`, `B`, … `Z`, `AA`: a column as spreadsheets name it.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn read<RS: Read + Seek + BufRead>(
    mut reader: RS,
    options: &ReadOptions,
    out: &mut Out,
) -> Result<(), String> {
    let mut magic = [0u8; 256];
    let n = read_up_to(&mut reader, &mut magic)?;
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|e| format!("The file could not be read: {e}."))?;
    let magic = &magic[..n];
    if magic.starts_with(b"PK\x03\x04") {
        // An OpenDocument file starts with its `mimetype` entry, stored as it is.
        let ods = magic
            .windows(46)
            .any(|w| w == b"application/vnd.oasis.opendocument.spreadsheet");
        if ods {
            read_ods(reader, out)
        } else {
            read_xlsx(reader, out)
        }
    } else if magic.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        // A compound file: an encrypted (password-protected) workbook, or an old `.xls`.
        match calamine::Xlsx::new(&mut reader) {
            Err(calamine::XlsxError::Password) => Err(PROTECTED.into()),
            _ => {
                reader
                    .seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| format!("The file could not be read: {e}."))?;
                read_xls(reader, out)
            }
        }
    } else if magic.starts_with(&[0xFF, 0xFE]) || magic.starts_with(&[0xFE, 0xFF]) {
        Err(
            "The file is UTF-16 text; save it as \"CSV UTF-8\" (or as .xlsx) and import that."
                .into(),
        )
    } else if magic.contains(&0) {
        Err("The file is neither a spreadsheet (.xlsx, .ods, .xls) nor CSV text.".into())
    } else {
        read_csv(reader, options, out)
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, String> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(format!("The file could not be read: {e}.")),
        }
    }
    if filled == 0 {
        return Err("The file is empty.".into());
    }
    Ok(filled)
}

fn corrupt(format: &str, error: impl std::fmt::Display) -> String {
    format!("The file could not be read as {format} (is it damaged?): {error}.")
}

fn from_ref(value: DataRef<'_>) -> CellValue {
    match value {
        DataRef::Empty => CellValue::Empty,
        DataRef::Int(i) => CellValue::Number(i as f64),
        DataRef::Float(f) => CellValue::Number(f),
        DataRef::String(s) => CellValue::Text(s),
        DataRef::SharedString(s) => CellValue::Text(s.to_owned()),
        DataRef::Bool(b) => CellValue::Bool(b),
        DataRef::DateTime(d) => d
            .as_datetime()
            .map(CellValue::DateTime)
            .unwrap_or_else(|| CellValue::Number(d.as_f64())),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => CellValue::Text(s),
        DataRef::Error(e) => CellValue::Error(format!("#{e:?}")),
    }
}

fn from_data(value: &calamine::Data) -> CellValue {
    use calamine::Data;
    match value {
        Data::Empty => CellValue::Empty,
        Data::Int(i) => CellValue::Number(*i as f64),
        Data::Float(f) => CellValue::Number(*f),
        Data::String(s) => CellValue::Text(s.clone()),
        Data::Bool(b) => CellValue::Bool(*b),
        Data::DateTime(d) => d
            .as_datetime()
            .map(CellValue::DateTime)
            .unwrap_or_else(|| CellValue::Number(d.as_f64())),
        Data::DateTimeIso(s) | Data::DurationIso(s) => CellValue::Text(s.clone()),
        Data::Error(e) => CellValue::Error(format!("#{e:?}")),
    }
}

fn read_xlsx<RS: Read + Seek>(reader: RS, out: &mut Out) -> Result<(), String> {
    let mut book = calamine::Xlsx::new(reader).map_err(|e| match e {
        calamine::XlsxError::Password => PROTECTED.to_owned(),
        other => corrupt("xlsx", other),
    })?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| "The workbook has no sheet.".to_owned())?;
    let merged = book
        .merge_cells_by_sheet_name(&name)
        .map_err(|e| corrupt("xlsx", e))?;
    if let Some(region) = merged.iter().find(|d| d.start.0 == 0) {
        return Err(format!(
            "The header cells {}1:{}1 are merged; give every column its own name in the first row.",
            column_letter(region.start.1 as usize),
            column_letter(region.end.1 as usize)
        ));
    }
    let mut cells = book
        .worksheet_cells_reader(&name)
        .map_err(|e| corrupt("xlsx", e))?;
    let mut width = None;
    let mut current: Vec<CellValue> = Vec::new();
    let mut current_row: u32 = 0;
    let mut flush =
        |row: u32, values: Vec<CellValue>, width: &mut Option<usize>| -> Result<bool, String> {
            match width {
                None => {
                    if row != 0 {
                        return Err("The first row must hold the column names; it is empty.".into());
                    }
                    *width = Some(out.header(Format::Xlsx, values)?);
                    Ok(true)
                }
                Some(w) => out.row(row + 1, values, *w),
            }
        };
    while let Some(cell) = cells
        .next_cell_with_formula()
        .map_err(|e| corrupt("xlsx", e))?
    {
        let (row, column) = cell.pos;
        if row != current_row {
            if !flush(current_row, std::mem::take(&mut current), &mut width)? {
                return Ok(());
            }
            current_row = row;
        }
        if column as usize >= MAX_COLUMNS {
            return Err(format!("The sheet has more than {MAX_COLUMNS} columns."));
        }
        let value = match cell.formula {
            Some(formula) if !formula.is_empty() => CellValue::Formula(formula),
            _ => from_ref(cell.value),
        };
        if current.len() <= column as usize {
            current.resize(column as usize + 1, CellValue::Empty);
        }
        current[column as usize] = value;
    }
    if width.is_none() || !current.is_empty() {
        flush(current_row, current, &mut width)?;
    }
    Ok(())
}

fn read_ranges(
    format: Format,
    values: calamine::Range<calamine::Data>,
    formulas: Option<calamine::Range<String>>,
    out: &mut Out,
) -> Result<(), String> {
    let start = values.start().unwrap_or((0, 0));
    let mut width = None;
    for (i, row) in values.rows().enumerate() {
        let at = start.0 + i as u32;
        let mut cells: Vec<CellValue> = std::iter::repeat_n(CellValue::Empty, start.1 as usize)
            .chain(row.iter().map(from_data))
            .collect();
        if let Some(formulas) = &formulas {
            for (c, cell) in cells.iter_mut().enumerate() {
                if let Some(f) = formulas.get_value((at, c as u32))
                    && !f.is_empty()
                {
                    *cell = CellValue::Formula(f.clone());
                }
            }
        }
        match width {
            None => {
                if at != 0 {
                    return Err("The first row must hold the column names; it is empty.".into());
                }
                width = Some(out.header(format, cells)?);
            }
            Some(w) => {
                if !out.row(at + 1, cells, w)? {
                    return Ok(());
                }
            }
        }
    }
    if width.is_none() {
        return Err("The sheet is empty.".into());
    }
    Ok(())
}

const PROTECTED: &str =
    "The workbook is protected with a password; save a copy without one and import that.";

fn read_ods<RS: Read + Seek>(reader: RS, out: &mut Out) -> Result<(), String> {
    let book = calamine::Ods::new(reader).map_err(|e| match e {
        calamine::OdsError::Password => PROTECTED.to_owned(),
        other => corrupt("ods", other),
    })?;
    read_first_sheet(Format::Ods, book, out)
}

fn read_xls<RS: Read + Seek>(reader: RS, out: &mut Out) -> Result<(), String> {
    let book = calamine::Xls::new(reader).map_err(|e| match e {
        calamine::XlsError::Password => PROTECTED.to_owned(),
        other => corrupt("xls", other),
    })?;
    read_first_sheet(Format::Xls, book, out)
}

/// The first sheet of a workbook read whole (`.ods`, `.xls`: calamine does not stream them).
fn read_first_sheet<RS: Read + Seek, B: Reader<RS>>(
    format: Format,
    mut book: B,
    out: &mut Out,
) -> Result<(), String>
where
    B::Error: std::fmt::Display,
{
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| "The workbook has no sheet.".to_owned())?;
    let values = book
        .worksheet_range(&name)
        .map_err(|e| corrupt(format.as_str(), e))?;
    let formulas = book.worksheet_formula(&name).ok();
    read_ranges(format, values, formulas, out)
}

/// The separator the header line uses most, outside quotes.
fn detect_separator(line: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    candidates[best]
}

/// Decodes CSV fields, telling apart UTF-8 and Windows-1252 and refusing a file that mixes them.
struct Decoder {
    forced: Option<Encoding>,
    /// The first row seen with non-ASCII text in each encoding.
    utf8_row: Option<u32>,
    latin_row: Option<u32>,
}

impl Decoder {
    fn field(&mut self, bytes: &[u8], row: u32) -> Result<String, String> {
        let windows_1252 = |b: &[u8]| {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(b)
                .0
                .into_owned()
        };
        match self.forced {
            Some(Encoding::Windows1252) => return Ok(windows_1252(bytes)),
            Some(Encoding::Utf8) => {
                return std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| {
                    format!("Row {row} is not UTF-8 text; is the file in another encoding (--encoding windows-1252)?")
                });
            }
            None => {}
        }
        if bytes.is_ascii() {
            return Ok(String::from_utf8_lossy(bytes).into_owned());
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                self.utf8_row.get_or_insert(row);
                self.mixed()?;
                Ok(text.to_owned())
            }
            Err(_) => {
                self.latin_row.get_or_insert(row);
                self.mixed()?;
                Ok(windows_1252(bytes))
            }
        }
    }

    fn mixed(&self) -> Result<(), String> {
        match (self.utf8_row, self.latin_row) {
            (Some(utf8), Some(latin)) => Err(format!(
                "The file mixes text encodings: row {utf8} is UTF-8, row {latin} is not (Windows-1252?). \
                 Save the whole file in one encoding (\"CSV UTF-8\") and import it again."
            )),
            _ => Ok(()),
        }
    }
}

fn read_csv<R: BufRead>(mut reader: R, options: &ReadOptions, out: &mut Out) -> Result<(), String> {
    let buffered = reader
        .fill_buf()
        .map_err(|e| format!("The file could not be read: {e}."))?;
    let bom = buffered.starts_with(&[0xEF, 0xBB, 0xBF]);
    if bom {
        reader.consume(3);
    }
    let buffered = reader
        .fill_buf()
        .map_err(|e| format!("The file could not be read: {e}."))?;
    let first_line = buffered.split(|&b| b == b'\n').next().unwrap_or_default();
    let separator = options
        .separator
        .unwrap_or_else(|| detect_separator(first_line));
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut decoder = Decoder {
        forced: options.encoding.or(bom.then_some(Encoding::Utf8)),
        utf8_row: None,
        latin_row: None,
    };
    let mut record = csv::ByteRecord::new();
    let mut width = None;
    let mut number = 0u32;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(format!("The CSV file could not be read: {e}.")),
        }
        number += 1;
        if record.len() > MAX_COLUMNS {
            return Err(format!("Row {number} has more than {MAX_COLUMNS} columns."));
        }
        let mut cells = Vec::with_capacity(record.len());
        for field in record.iter() {
            let text = decoder.field(field, number)?;
            cells.push(if text.trim().is_empty() {
                CellValue::Empty
            } else {
                CellValue::Text(text)
            });
        }
        match width {
            None => width = Some(out.header(Format::Csv, cells)?),
            Some(w) => {
                if !out.row(number, cells, w)? {
                    return Ok(());
                }
            }
        }
    }
    if width.is_none() {
        return Err("The file is empty.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_told_apart_outside_quotes() {
        assert_eq!(detect_separator(b"naam;stage;\"a,b,c\""), b';');
        assert_eq!(detect_separator(b"name,stage"), b',');
        assert_eq!(detect_separator(b"name\tstage"), b'\t');
    }

    #[test]
    fn columns_are_lettered_as_spreadsheets_do() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
    }

    #[test]
    fn mixed_encodings_are_refused() {
        let mut d = Decoder {
            forced: None,
            utf8_row: None,
            latin_row: None,
        };
        assert_eq!(d.field("Café".as_bytes(), 2).unwrap(), "Café");
        assert!(d.field(b"Caf\xe9", 3).is_err());
        let mut d = Decoder {
            forced: None,
            utf8_row: None,
            latin_row: None,
        };
        assert_eq!(d.field(b"Caf\xe9", 2).unwrap(), "Café");
    }
}
