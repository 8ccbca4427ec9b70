//! `/open-data/`: the domain's open data sets over HTTP — the index, the Data Package
//! descriptors and the files, streamed, with their media types, cache headers and language.
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};

use super::AppState;
use crate::domain::open_data::{
    DEFAULT_LOCALE, Format, datapackage, find, geojson, index_document, rows,
};
use crate::kernel::i18n::{Locale, LocalePreferences};

/// A streamed body of text chunks.
fn body(chunks: impl Stream<Item = Result<String, std::io::Error>> + Send + 'static) -> Body {
    Body::from_stream(chunks.map(|chunk| chunk.map(Bytes::from)))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open-data", get(index))
        .route("/open-data/", get(index))
        .route("/open-data/datapackage.json", get(default_datapackage))
        .route("/open-data/{locale}/{file}", get(file))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn not_found(message: String) -> Response {
    json_response(StatusCode::NOT_FOUND, json!({"error": message}))
}

/// `GET /open-data/`: what can be downloaded.
async fn index() -> Response {
    let mut response = json_response(StatusCode::OK, index_document());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /open-data/datapackage.json`: the default locale's descriptor, its paths leading into
/// that locale's folder.
async fn default_datapackage() -> Response {
    match Locale::parse(DEFAULT_LOCALE) {
        Ok(locale) => json_response(
            StatusCode::OK,
            datapackage(&locale, &format!("{DEFAULT_LOCALE}/")),
        ),
        Err(message) => json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": message})),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct FileParams {
    archived: Option<String>,
}

async fn file(
    state: State<AppState>,
    path: Path<(String, String)>,
    params: UrlQuery<FileParams>,
) -> Response {
    let locale = path.0.0.clone();
    let mut response = file_in_locale(state, path, params).await;
    // The file's texts are in its locale (falling back where a translation is missing).
    if response.status() == StatusCode::OK
        && let Ok(locale) = Locale::parse(&locale)
        && let Ok(value) = header::HeaderValue::from_str(locale.as_str())
    {
        response
            .headers_mut()
            .insert(header::CONTENT_LANGUAGE, value);
    }
    response
}

async fn file_in_locale(
    State(state): State<AppState>,
    Path((locale, file)): Path<(String, String)>,
    UrlQuery(params): UrlQuery<FileParams>,
) -> Response {
    let locale = match Locale::parse(&locale) {
        Ok(locale) => locale,
        Err(message) => return json_response(StatusCode::BAD_REQUEST, json!({"error": message})),
    };
    let include_archived = match params.archived.as_deref() {
        None | Some("exclude") => false,
        Some("include") => true,
        Some(other) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("`archived` is `include` or `exclude`, not `{other}`.")}),
            );
        }
    };
    let chain = LocalePreferences::default().chain(Some(&locale));
    if file != "datapackage.json" && state.database.is_open() {
        let mut response = json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "The database is unreachable; retry shortly."}),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    }
    if file == "datapackage.json" {
        return json_response(StatusCode::OK, datapackage(&locale, ""));
    }
    if file == "areas.geojson" {
        return stream_response(
            body(geojson(state.db.clone(), chain, include_archived)),
            "application/geo+json",
            &format!("areas.{locale}.geojson"),
        );
    }
    let (name, format) = match file.rsplit_once('.') {
        Some((name, "csv")) => (name, Format::Csv),
        Some((name, "ndjson")) => (name, Format::Ndjson),
        _ => return not_found(format!("No file `{file}`: see /open-data/ for the list.")),
    };
    let Some(dataset) = find(name) else {
        return not_found(format!(
            "No data set `{name}`: see /open-data/ for the list."
        ));
    };
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8; header=present",
        Format::Ndjson => "application/x-ndjson",
    };
    stream_response(
        body(rows(
            state.db.clone(),
            dataset,
            chain,
            include_archived,
            format,
        )),
        content_type,
        &format!(
            "{name}.{locale}.{}",
            file.rsplit('.').next().unwrap_or("csv")
        ),
    )
}

fn stream_response(body: Body, content_type: &'static str, filename: &str) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, no-cache"),
    );
    if let Ok(value) = header::HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
