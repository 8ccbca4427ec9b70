//! Importing spreadsheets, as staff do: files uploaded to `importRecords` (the GraphQL
//! multipart request) and given to `stroom import`, in every format, with good rows, bad cells
//! of every kind and bad files. Each refusal names its cell and reason, and leaves the data as
//! it was.
use std::io::Write as _;
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{ACCEPT, Reply, TestApp, spawn_app};

const IMPORT: &str = "mutation($f: Upload!, $type: ImportType!, $dry: Boolean! = false, $partial: Boolean! = false) {
  importRecords(input: {recordType: $type, file: $f, dryRun: $dry, partial: $partial}) {
    report { recordType format locale dryRun applied created updated unchanged refused conflicts problems
      rows { row outcome externalId id version problems { column cell value message } } }
    userErrors { field message }
  }
}";

/// Uploads `file` to `importRecords` as the GraphQL multipart request spec says.
async fn upload(
    app: &TestApp,
    key: Option<&str>,
    name: &str,
    file: Vec<u8>,
    record_type: &str,
    options: Value,
) -> Reply {
    let mut variables = json!({"f": null, "type": record_type});
    if let Value::Object(extra) = options {
        for (k, v) in extra {
            variables[k] = v;
        }
    }
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({"query": IMPORT, "variables": variables}).to_string(),
        )
        .text("map", json!({"0": ["variables.f"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(file).file_name(name.to_owned()),
        );
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("accept", ACCEPT)
        .multipart(form);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    TestApp::reply(request.send().await.expect("the server answers")).await
}

fn report(reply: &Reply) -> Value {
    reply.ok()["importRecords"]["report"].clone()
}

/// The report without what differs between a dry run and a real run by design.
fn comparable(report: &Value) -> Value {
    let mut report = report.clone();
    report["dryRun"] = Value::Null;
    report["applied"] = Value::Null;
    for row in report["rows"].as_array_mut().unwrap() {
        row["id"] = Value::Null;
        row["version"] = Value::Null;
    }
    report
}

const HEADER: &str =
    "externe ID;naam;naam (en);fase;initiatiefnemer;verdienmodel;betaalbaarheid;startdatum;thema's";

fn csv(rows: &[&str]) -> Vec<u8> {
    // A UTF-8 BOM, as Excel writes "CSV UTF-8", and `;` as Belgian Excel separates.
    let mut out = vec![0xEF, 0xBB, 0xBF];
    out.extend_from_slice(HEADER.as_bytes());
    for row in rows {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(row.as_bytes());
    }
    out
}

async fn initiative_names(app: &TestApp, search: &str) -> Vec<String> {
    let nodes = app
        .all_nodes("initiatives", "name", json!({"search": search}))
        .await;
    let mut names: Vec<String> = nodes
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_file_imports_once_and_the_second_time_changes_nothing() {
    let app = spawn_app().await;
    let key = app.editor_key("Dienst Economie", "Mechelen").await;
    let file = csv(&[
        "RC-1;Repaircafé Vaartkwartier;Repair café Canal quarter;IDEA;CITIZENS;VOLUNTEER;FREE;01/03/2024;repair",
        "RC-2;Deelkast Nekkerspoel;;pilot;CITIZENS;VOLUNTEER;FREE;2024-04-15;\"repair; reuse\"",
    ]);
    let first = report(
        &upload(
            &app,
            Some(&key),
            "a.csv",
            file.clone(),
            "INITIATIVES",
            json!({}),
        )
        .await,
    );
    assert_eq!(first["applied"], true, "{first}");
    assert_eq!(
        (first["created"].as_i64(), first["format"].as_str()),
        (Some(2), Some("csv"))
    );
    assert_eq!(
        first["locale"], "nl",
        "the headers are Dutch, so are the texts"
    );
    let id = first["rows"][0]["id"].as_str().unwrap().to_owned();
    let read = app
        .graphql_with(
            "query($id: ID!) { node(id: $id) { ... on Initiative { name nameLocale stage startDate themes { nodes { code } } municipality { name } } } }",
            json!({"id": id}),
            &[("accept-language", "en")],
        )
        .await;
    let node = &read.ok()["node"];
    assert_eq!(node["name"], "Repair café Canal quarter");
    assert_eq!(node["stage"], "IDEA");
    assert_eq!(node["startDate"], "2024-03-01");
    assert_eq!(
        node["municipality"]["name"], "Mechelen",
        "an editor's own municipality"
    );
    assert_eq!(node["themes"]["nodes"], json!([{"code": "repair"}]));

    let before = app.fingerprint().await;
    let second = report(&upload(&app, Some(&key), "a.csv", file, "INITIATIVES", json!({})).await);
    assert_eq!(
        (second["created"].as_i64(), second["unchanged"].as_i64()),
        (Some(0), Some(2)),
        "{second}"
    );
    assert_eq!(
        app.fingerprint().await,
        before,
        "importing the same file again writes nothing"
    );

    // A changed cell updates that record only, keeping the translation the file does not name.
    let changed = csv(&[
        "RC-1;Repaircafé Vaartkwartier;Repair café Canal quarter;IDEA;CITIZENS;VOLUNTEER;FREE;01/03/2024;repair",
        "RC-2;Deelkast Nekkerspoel-Noord;;pilot;CITIZENS;VOLUNTEER;FREE;2024-04-15;\"repair; reuse\"",
    ]);
    let third = report(&upload(&app, Some(&key), "a.csv", changed, "INITIATIVES", json!({})).await);
    assert_eq!(
        (third["updated"].as_i64(), third["unchanged"].as_i64()),
        (Some(1), Some(1)),
        "{third}"
    );
    assert_eq!(third["rows"][1]["version"], 2);
    assert_eq!(initiative_names(&app, "Nekkerspoel-Noord").await.len(), 1);

    // Audit trail and change feed, as for any mutation.
    let audit = app
        .graphql_as(
            &key,
            "{ auditEntries(first: 5, filter: {mutations: [\"importRecords\"]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        audit.ok()["auditEntries"]["totalCount"],
        3,
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn a_dry_run_and_the_real_run_give_the_same_report_and_bad_rows_stop_the_whole_file() {
    let app = spawn_app().await;
    let key = app.editor_key("Dienst Economie", "Mechelen").await;
    let file = csv(&[
        "G-1;Goede rij;;IDEA;CITIZENS;VOLUNTEER;FREE;;repair",
        "B-1;Slechte rij;;IDEE;CITIZENS;VOLUNTEER;FREE;31/02/2024;reparatie",
        "G-2;Nog een goede;;RUNNING;CITIZENS;FEE;LOW_COST;;",
    ]);
    let before = app.fingerprint().await;
    let dry = report(
        &upload(
            &app,
            Some(&key),
            "f.csv",
            file.clone(),
            "INITIATIVES",
            json!({"dry": true}),
        )
        .await,
    );
    assert_eq!(dry["applied"], false);
    assert_eq!(app.fingerprint().await, before, "a dry run writes nothing");
    let real = report(
        &upload(
            &app,
            Some(&key),
            "f.csv",
            file.clone(),
            "INITIATIVES",
            json!({}),
        )
        .await,
    );
    assert_eq!(comparable(&dry), comparable(&real), "the same report");
    assert_eq!(
        real["applied"], false,
        "all or nothing: one refused row stops the file"
    );
    assert_eq!(
        app.fingerprint().await,
        before,
        "nothing lost, nothing half-written"
    );
    assert_eq!(
        (real["created"].as_i64(), real["refused"].as_i64()),
        (Some(2), Some(1))
    );
    let problems = &real["rows"][1]["problems"];
    let by_cell: Vec<(&str, &str)> = problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["cell"].as_str().unwrap(), p["message"].as_str().unwrap()))
        .collect();
    assert!(
        by_cell
            .iter()
            .any(|(c, m)| *c == "D3" && m.contains("Did you mean `IDEA`")),
        "{problems}"
    );
    assert!(
        by_cell
            .iter()
            .any(|(c, m)| *c == "H3" && m.contains("not understood as a date")),
        "{problems}"
    );
    assert!(
        by_cell
            .iter()
            .any(|(c, m)| *c == "I3" && m.contains("No Theme")),
        "{problems}"
    );

    let partial = report(
        &upload(
            &app,
            Some(&key),
            "f.csv",
            file,
            "INITIATIVES",
            json!({"partial": true}),
        )
        .await,
    );
    assert_eq!(partial["applied"], true);
    assert_eq!(
        initiative_names(&app, "goede").await,
        vec!["Goede rij", "Nog een goede"]
    );
    assert!(initiative_names(&app, "Slechte").await.is_empty());
}

/// One bad cell of each kind the columns read, each in a row of its own, with what the
/// report must say about it.
#[tokio::test]
async fn every_kind_of_bad_cell_is_refused_with_its_column_value_and_reason() {
    let app = spawn_app().await;
    let key = app.editor_key("Dienst Sociaal", "Mechelen").await;
    let header = "externe ID,titel,bron,bewoners,doelgroepen,thema,gebied,vastgesteld op,status";
    let good = [
        "N-{n}",
        "Nood {n}",
        "SURVEY",
        "12",
        "ELDERLY; FAMILIES",
        "repair",
        "Bethaniënpolder-Auwegemvaart",
        "2024-02-01",
        "OPEN",
    ];
    // (column, bad value, what the message says)
    let cases: &[(usize, &str, &str)] = &[
        (1, "", "required"),
        (2, "ENQUETE", "is not one of"),
        (3, "twaalf", "not a whole number"),
        (3, "99999999999", "too large"),
        (4, "ELDERLY; KIDS", "is not one of"),
        (5, "repairs", "The closest known: `repair`"),
        (6, "Nergensland", "No Area"),
        (7, "1 februari", "not understood as a date"),
        (8, "GESLOTEN", "is not one of"),
        (3, "-4", "residentsCount"),
    ];
    let mut lines = vec![header.to_owned()];
    for (n, (column, bad, _)) in cases.iter().enumerate() {
        let mut cells: Vec<String> = good
            .iter()
            .map(|c| c.replace("{n}", &n.to_string()))
            .collect();
        cells[*column] = bad.to_string();
        lines.push(cells.join(","));
    }
    // A good row, and one repeating the first row's external ID.
    lines.push(good.map(|c| c.replace("{n}", "ok")).join(","));
    lines.push(good.map(|c| c.replace("{n}", "0")).join(","));
    let before = app.fingerprint().await;
    let reply = upload(
        &app,
        Some(&key),
        "needs.csv",
        lines.join("\n").into_bytes(),
        "NEEDS",
        json!({}),
    )
    .await;
    let report = report(&reply);
    assert_eq!(app.fingerprint().await, before);
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), cases.len() + 2, "{report}");
    for (n, (column, bad, says)) in cases.iter().enumerate() {
        let row = &rows[n];
        assert_eq!(row["outcome"], "REFUSED", "case {n}: {row}");
        let letter = (b'A' + *column as u8) as char;
        let problem = row["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["cell"] == format!("{letter}{}", n + 2))
            .unwrap_or_else(|| panic!("case {n} ({bad}): no problem at its cell: {row}"));
        assert!(
            problem["message"].as_str().unwrap().contains(says),
            "case {n}: {problem}"
        );
        if !bad.is_empty() {
            assert_eq!(problem["value"], *bad, "case {n}");
        }
        assert!(problem["column"].is_string());
    }
    assert_eq!(rows[cases.len()]["outcome"], "CREATED");
    let duplicate = &rows[cases.len() + 1];
    assert_eq!(duplicate["outcome"], "REFUSED");
    assert!(
        duplicate["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("also on row 2"),
        "{duplicate}"
    );
}

#[tokio::test]
async fn a_record_changed_since_the_file_was_imported_is_a_conflict_never_overwritten() {
    let app = spawn_app().await;
    let key = app.editor_key("Dienst Economie", "Mechelen").await;
    let file = csv(&["C-1;Kringloopwinkel;;RUNNING;ENTREPRENEUR;COMMERCIAL;LOW_COST;;reuse"]);
    let first = report(&upload(&app, Some(&key), "c.csv", file, "INITIATIVES", json!({})).await);
    let id = first["rows"][0]["id"].as_str().unwrap().to_owned();
    // Someone changes it in the API.
    let changed = app
        .graphql_as(
            &key,
            "mutation($id: ID!) { updateInitiative(input: {id: $id, version: 1, stage: SELF_SUSTAINING}) { userErrors { message } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(changed.ok()["updateInitiative"]["userErrors"], json!([]));
    let stale =
        csv(&["C-1;Kringloopwinkel De Cirkel;;RUNNING;ENTREPRENEUR;COMMERCIAL;LOW_COST;;reuse"]);
    let before = app.fingerprint().await;
    let second = report(
        &upload(
            &app,
            Some(&key),
            "c.csv",
            stale,
            "INITIATIVES",
            json!({"partial": true}),
        )
        .await,
    );
    let row = &second["rows"][0];
    assert_eq!(row["outcome"], "CONFLICT", "{row}");
    assert!(
        row["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("now at version 2"),
        "{row}"
    );
    assert_eq!(
        app.fingerprint().await,
        before,
        "not overwritten, even with --partial"
    );
    // With the version it was read at, the row goes in.
    let header = format!("{HEADER};versie");
    let current = format!(
        "{header}\nC-1;Kringloopwinkel De Cirkel;;SELF_SUSTAINING;ENTREPRENEUR;COMMERCIAL;LOW_COST;;reuse;2"
    );
    let third = report(
        &upload(
            &app,
            Some(&key),
            "c.csv",
            current.into_bytes(),
            "INITIATIVES",
            json!({}),
        )
        .await,
    );
    assert_eq!(third["rows"][0]["outcome"], "UPDATED", "{third}");
    assert_eq!(third["rows"][0]["version"], 3);
    // Another municipality's editor naming the same external ID changes nothing of it: the
    // row is refused, the file's other rows are not stopped by it.
    let paris = app.editor_key("Ville de Paris", "Paris").await;
    let before = app.fingerprint().await;
    let theirs = csv(&["C-1;Ressourcerie;;RUNNING;ENTREPRENEUR;COMMERCIAL;LOW_COST;;reuse"]);
    let fourth = report(
        &upload(
            &app,
            Some(&paris),
            "p.csv",
            theirs,
            "INITIATIVES",
            json!({}),
        )
        .await,
    );
    assert_eq!(fourth["rows"][0]["outcome"], "REFUSED", "{fourth}");
    assert_eq!(app.fingerprint().await, before);
}

/// A stored (uncompressed) zip entry, enough to build an OpenDocument spreadsheet by hand.
fn ods(rows: &[&[&str]]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("META-INF/manifest.xml", stored).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
    zip.start_file("content.xml", stored).unwrap();
    let mut content = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Blad1">"#,
    );
    for row in rows {
        content.push_str("<table:table-row>");
        for cell in row.iter() {
            content.push_str(&format!(
                r#"<table:table-cell office:value-type="string"><text:p>{cell}</text:p></table:table-cell>"#
            ));
        }
        content.push_str("</table:table-row>");
    }
    content.push_str("</table:table></office:spreadsheet></office:body></office:document-content>");
    zip.write_all(content.as_bytes()).unwrap();
    zip.finish().unwrap();
    buffer.into_inner()
}

fn xlsx(build: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    build(book.add_worksheet());
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn xlsx_ods_and_both_csv_encodings_import_the_same_records() {
    let app = spawn_app().await;
    let key = app.editor_key("Dienst Economie", "Mechelen").await;
    let header = [
        "external ID",
        "name",
        "stage",
        "initiator",
        "business model",
        "affordability",
        "start date",
    ];
    let row = |n: &str| {
        [
            format!("F-{n}"),
            format!("Café {n}"),
            "IDEA".into(),
            "CITIZENS".into(),
            "VOLUNTEER".into(),
            "FREE".into(),
            "2024-03-01".into(),
        ]
    };
    let book = xlsx(|sheet| {
        for (c, h) in header.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        let cells = row("xlsx");
        for (c, v) in cells.iter().enumerate().take(6) {
            sheet.write_string(1, c as u16, v).unwrap();
        }
        // A real date cell, as Excel stores dates.
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 3, 1).unwrap();
        let format = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
        sheet
            .write_datetime_with_format(1, 6, date, &format)
            .unwrap();
    });
    let ods_row = row("ods");
    let ods_cells: Vec<&str> = ods_row.iter().map(String::as_str).collect();
    let sheet = ods(&[&header, &ods_cells]);
    let utf8 = format!("{}\n{}", header.join(","), row("utf8").join(",")).into_bytes();
    let latin: Vec<u8> = format!("{}\r\n{}", header.join(";"), row("latin").join(";"))
        .chars()
        .map(|c| if c == 'é' { 0xE9 } else { c as u8 })
        .collect();
    for (name, file, format) in [
        ("f.xlsx", book, "xlsx"),
        ("f.ods", sheet, "ods"),
        ("f.csv", utf8, "csv"),
        ("f-1252.csv", latin, "csv"),
    ] {
        let report = report(
            &upload(
                &app,
                Some(&key),
                name,
                file,
                "INITIATIVES",
                json!({"type": "INITIATIVES"}),
            )
            .await,
        );
        assert_eq!(report["format"], format, "{name}: {report}");
        assert_eq!(report["created"], 1, "{name}: {report}");
        assert_eq!(report["locale"], "en", "{name}");
    }
    let mut imported = initiative_names(&app, "Café").await;
    imported.retain(|n| n.starts_with("Café "));
    assert_eq!(
        imported,
        vec!["Café latin", "Café ods", "Café utf8", "Café xlsx"]
    );
    let dates = app
        .all_nodes("initiatives", "name startDate", json!({"search": "Café"}))
        .await;
    assert!(
        dates
            .iter()
            .filter(|d| d["name"].as_str().unwrap().starts_with("Café "))
            .all(|d| d["startDate"] == "2024-03-01"),
        "{dates:?}"
    );
}

#[tokio::test]
async fn bad_files_and_bad_callers_are_refused_with_nothing_lost() {
    let app = spawn_app().await;
    let key = app.editor_key("Dienst Economie", "Mechelen").await;
    let partner = app.partner_key().await;
    let before = app.fingerprint().await;
    let good = csv(&["X-1;Iets;;IDEA;CITIZENS;VOLUNTEER;FREE;;"]);
    let formula = xlsx(|sheet| {
        for (c, h) in [
            "naam",
            "fase",
            "initiatiefnemer",
            "verdienmodel",
            "betaalbaarheid",
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet
            .write_formula(1, 0, "=CONCAT(\"Re\",\"pair\")")
            .unwrap();
        for (c, v) in ["IDEA", "CITIZENS", "VOLUNTEER", "FREE"].iter().enumerate() {
            sheet.write_string(1, c as u16 + 1, *v).unwrap();
        }
    });
    let merged = xlsx(|sheet| {
        let format = rust_xlsxwriter::Format::new();
        sheet.merge_range(0, 0, 0, 1, "naam", &format).unwrap();
        sheet.write_string(0, 2, "fase").unwrap();
        sheet.write_string(1, 0, "Iets").unwrap();
    });
    let mut mixed = b"naam;fase;initiatiefnemer;verdienmodel;betaalbaarheid\n".to_vec();
    mixed.extend_from_slice("Café;IDEA;CITIZENS;VOLUNTEER;FREE\n".as_bytes());
    mixed.extend_from_slice(b"Caf\xe9 2;IDEA;CITIZENS;VOLUNTEER;FREE\n");
    let mut corrupt = formula.clone();
    corrupt.truncate(corrupt.len() / 2);
    let protected = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/password-protected.xlsx"
    ))
    .unwrap();
    let unknown_column = b"naam;fase;kleur\nIets;IDEA;rood\n".to_vec();
    // (file, name, what the report's problems or the row's say)
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        ("corrupt.xlsx", corrupt, "could not be read as xlsx"),
        ("protected.xlsx", protected, "protected with a password"),
        ("merged.xlsx", merged, "merged"),
        ("mixed.csv", mixed, "mixes text encodings"),
        (
            "colour.csv",
            unknown_column,
            "is not a column of initiatives",
        ),
        (
            "binary.bin",
            vec![0u8, 1, 2, 3, 0, 0, 7],
            "neither a spreadsheet",
        ),
        ("empty.csv", Vec::new(), "empty"),
    ];
    for (name, file, says) in files {
        let reply = upload(&app, Some(&key), name, file, "INITIATIVES", json!({})).await;
        let report = report(&reply);
        assert_eq!(report["applied"], false, "{name}");
        let problems = report["problems"].to_string();
        assert!(problems.contains(says), "{name}: {problems}");
    }
    let reply = upload(
        &app,
        Some(&key),
        "formula.xlsx",
        formula,
        "INITIATIVES",
        json!({}),
    )
    .await;
    let row = &report(&reply)["rows"][0];
    assert_eq!(row["outcome"], "REFUSED");
    assert_eq!(row["problems"][0]["cell"], "A2");
    assert!(
        row["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("formula"),
        "{row}"
    );

    // Callers: a partner key reads only; no key, no upload.
    let reply = upload(
        &app,
        Some(&partner),
        "a.csv",
        good.clone(),
        "INITIATIVES",
        json!({}),
    )
    .await;
    assert_eq!(reply.code(), "FORBIDDEN");
    let reply = upload(&app, None, "a.csv", good, "INITIATIVES", json!({})).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "UNAUTHENTICATED");
    assert_eq!(
        app.fingerprint().await,
        before,
        "nothing changed by any of them"
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_unread() {
    let app =
        crate::helpers::spawn_configured(true, |serve| serve.max_upload_bytes = 64 * 1024).await;
    let key = app.editor_key("Dienst Economie", "Mechelen").await;
    let before = app.fingerprint().await;
    let mut big = csv(&[]);
    big.resize(100 * 1024, b'\n');
    let reply = upload(&app, Some(&key), "big.csv", big, "INITIATIVES", json!({})).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.message().contains("65536 bytes"), "{}", reply.body);
    // Within the limit, the same key imports.
    let small = csv(&["S-1;Klein;;IDEA;CITIZENS;VOLUNTEER;FREE;;"]);
    let report = report(
        &upload(
            &app,
            Some(&key),
            "small.csv",
            small,
            "INITIATIVES",
            json!({}),
        )
        .await,
    );
    assert_eq!(report["created"], 1);
    assert_ne!(app.fingerprint().await, before);
}

fn stroom() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stroom"));
    command.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    command
}

#[tokio::test]
async fn the_command_line_writes_templates_imports_and_reports() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let url = app.database_url();
    // A template per type and language, readable back with the same column names.
    for record_type in [
        "initiatives",
        "needs",
        "organisations",
        "partnerships",
        "outcomes",
        "learnings",
    ] {
        for language in ["en", "nl", "fr"] {
            let path = dir.path().join(format!("{record_type}-{language}.xlsx"));
            let out = stroom()
                .args(["import", "--template", record_type, "--language", language])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // The template's example row, imported as a dry run, is understood column by column.
            let out = stroom()
                .args([
                    "import",
                    "--type",
                    record_type,
                    "--dry-run",
                    "--quiet",
                    "--database-url",
                    &url,
                ])
                .arg(&path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                !stdout.contains("file:"),
                "{record_type}/{language}: {stdout}"
            );
            assert!(
                stdout.contains("1 rows"),
                "{record_type}/{language}: {stdout}"
            );
        }
    }
    let file = dir.path().join("needs.csv");
    std::fs::write(
        &file,
        "titel,bron,thema,gemeente\nLekkende kranen,SURVEY,water,Mechelen\nGeen bron,,water,Mechelen\n",
    )
    .unwrap();
    let json_report = dir.path().join("report.json");
    let xlsx_report = dir.path().join("report.xlsx");
    let out = stroom()
        .args([
            "import",
            "--type",
            "needs",
            "--quiet",
            "--database-url",
            &url,
        ])
        .arg(&file)
        .arg("--report")
        .arg(&json_report)
        .arg("--report")
        .arg(&xlsx_report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "refused rows end with status 1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("B3") && stdout.contains("required"),
        "{stdout}"
    );
    assert!(stdout.contains("Nothing was written"), "{stdout}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json_report).unwrap()).unwrap();
    assert_eq!(report["rows"][1]["problems"][0]["cell"], "B3");
    // The annotated copy: the outcome first, the problems beside it, the bad cell noted.
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx_report).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    assert_eq!(range.get_value((0, 0)).unwrap().to_string(), "outcome");
    assert_eq!(range.get_value((2, 0)).unwrap().to_string(), "refused");
    assert!(range.get_value((2, 1)).unwrap().to_string().contains("B3"));
    assert_eq!(
        range.get_value((1, 2)).unwrap().to_string(),
        "Lekkende kranen"
    );

    // A partner key may not import; a file over the size limit is refused unread.
    let partner = app.partner_key().await;
    let out = stroom()
        .args([
            "import",
            "--type",
            "needs",
            "--quiet",
            "--database-url",
            &url,
            "--key",
            &partner,
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let huge = dir.path().join("huge.csv");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(500 * 1024 * 1024)
        .unwrap();
    let out = stroom()
        .args([
            "import",
            "--type",
            "needs",
            "--quiet",
            "--database-url",
            &url,
        ])
        .arg(&huge)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("500 MB"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_column_reference_is_generated_from_the_code() {
    let written = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/import-columns.md"
    ))
    .unwrap_or_default();
    assert!(
        written == stroom_api::domain::import::template::columns_markdown(),
        "docs/import-columns.md is out of date: run `stroom import --columns > docs/import-columns.md`"
    );
}
