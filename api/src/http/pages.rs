//! The pages a browser gets: a landing page at `/`, GraphiQL at `/graphql`, and the schema at
//! `/schema.graphql`. GraphiQL's production assets are part of the binary (pinned, never
//! fetched from elsewhere), so it works offline and under a strict content-security policy.
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

use super::AppState;

/// GraphiQL's version.
pub const GRAPHIQL_VERSION: &str = "3.9.0";

/// The assets' path segment: GraphiQL's version and a digest of every asset's bytes, so an
/// asset can be cached for good and a browser still never runs an old copy of one that changed.
static ASSETS_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for (name, bytes, _) in ASSETS {
        digest.update(name.as_bytes());
        digest.update(bytes);
    }
    let digest = hex::encode(digest.finalize());
    format!("graphiql-{GRAPHIQL_VERSION}-{}", &digest[..12])
});

/// The assets, by file name: contents and media type.
const ASSETS: &[(&str, &[u8], &str)] = &[
    (
        "graphiql.min.js",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "graphiql.min.css",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
        "text/css; charset=utf-8",
    ),
    (
        "react.production.min.js",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "react-dom.production.min.js",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "init.js",
        include_bytes!("../../assets/graphiql/init.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "page.css",
        include_bytes!("../../assets/graphiql/page.css"),
        "text/css; charset=utf-8",
    ),
    (
        "chart.umd.min.js",
        include_bytes!("../../assets/dashboard/chart.umd.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "dashboard.js",
        include_bytes!("../../assets/dashboard/dashboard.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "dashboard.css",
        include_bytes!("../../assets/dashboard/dashboard.css"),
        "text/css; charset=utf-8",
    ),
    (
        "landing.js",
        include_bytes!("../../assets/dashboard/landing.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "LICENSE.chartjs",
        include_bytes!("../../assets/dashboard/LICENSE.chartjs"),
        "text/plain; charset=utf-8",
    ),
    (
        "LICENSE.graphiql",
        include_bytes!("../../assets/graphiql/LICENSE.graphiql"),
        "text/plain; charset=utf-8",
    ),
    (
        "LICENSE.react",
        include_bytes!("../../assets/graphiql/LICENSE.react"),
        "text/plain; charset=utf-8",
    ),
];

/// What the pages may load: only this server's own scripts, styles and API (fonts and icons
/// come inline as data), nothing inline, nothing framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

fn html(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// GraphiQL, for a browser at `GET /graphql`.
pub fn graphiql() -> Response {
    let base = format!("/assets/{}", *ASSETS_VERSION);
    html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stroom API · GraphiQL</title>
<link rel="stylesheet" href="{base}/graphiql.min.css">
<link rel="stylesheet" href="{base}/page.css">
</head>
<body>
<div id="graphiql"><p class="stroom-loading">Loading GraphiQL…</p></div>
<script src="{base}/react.production.min.js"></script>
<script src="{base}/react-dom.production.min.js"></script>
<script src="{base}/graphiql.min.js"></script>
<script src="{base}/init.js"></script>
</body>
</html>
"#
    ))
}

/// `GET /assets/graphiql-{version}/{file}`: an embedded asset, cacheable for good (its path
/// changes with its version).
pub async fn asset(Path((version, file)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|(name, _, _)| *name == file);
    match found {
        Some((_, bytes, media_type)) if version == *ASSETS_VERSION => {
            let mut response = (StatusCode::OK, *bytes).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        _ => (StatusCode::NOT_FOUND, "No such asset.").into_response(),
    }
}

/// `GET /schema.graphql`: the schema in SDL, the API's manual.
pub async fn schema(State(state): State<AppState>) -> Response {
    let mut response = (StatusCode::OK, state.schema.sdl()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /dashboard`: the programme at a glance, built in the browser from the public GraphQL
/// API (charts by Chart.js, part of the binary like GraphiQL), in the reader's language, live.
pub async fn dashboard() -> Response {
    let base = format!("/assets/{}", *ASSETS_VERSION);
    html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Programme dashboard · Stroom API</title>
<link rel="stylesheet" href="{base}/dashboard.css">
</head>
<body>
<header>
<nav><a href="/" data-text="home">Home</a><a href="/graphql" data-text="graphiql">GraphiQL</a><a href="/open-data/" data-text="openData">Open data</a></nav>
<h1 data-text="title">Programme dashboard</h1>
<p data-text="intro">The circular programme at a glance, from the live data.</p>
</header>
<main>
<form id="filters" class="filters">
<label><span data-text="programme">Programme</span><select id="programme"></select></label>
<label><span data-text="area">Area</span><select id="area"></select></label>
<label><span data-text="from">From</span><input id="from" type="date"></label>
<label><span data-text="to">To</span><input id="to" type="date"></label>
<button type="submit" data-text="apply">Apply</button>
</form>
<p id="status" class="status" role="status" aria-live="polite"></p>
<div class="figures">
<div class="figure"><div class="value" id="total-initiatives">–</div><div class="label" data-text="initiatives">Initiatives</div></div>
<div class="figure"><div class="value" id="total-needs">–</div><div class="label" data-text="needs">Needs</div></div>
<div class="figure"><div class="value" id="answered-needs">–</div><div class="label" data-text="answered">answered</div></div>
</div>
<div class="panels">
<section class="panel" aria-labelledby="h-stages"><h2 id="h-stages" data-text="byStage">Initiatives by stage</h2>
<div class="chart"><canvas id="chart-stages" role="img" aria-labelledby="h-stages"></canvas></div>
<details><summary data-text="table">Show the figures as a table</summary><div id="table-stages"></div></details></section>
<section class="panel" aria-labelledby="h-themes"><h2 id="h-themes" data-text="byTheme">Initiatives by theme</h2>
<div class="chart"><canvas id="chart-themes" role="img" aria-labelledby="h-themes"></canvas></div>
<details><summary data-text="table">Show the figures as a table</summary><div id="table-themes"></div></details></section>
<section class="panel" aria-labelledby="h-coverage"><h2 id="h-coverage" data-text="coverage">Needs answered per area</h2>
<div class="chart"><canvas id="chart-coverage" role="img" aria-labelledby="h-coverage"></canvas></div>
<details><summary data-text="table">Show the figures as a table</summary><div id="table-coverage"></div></details></section>
<section class="panel" aria-labelledby="h-outcomes"><h2 id="h-outcomes" data-text="outcomes">Outcomes over time</h2>
<label><span data-text="indicator">Indicator</span> <select id="indicator"></select></label>
<div class="chart"><canvas id="chart-outcomes" role="img" aria-labelledby="h-outcomes"></canvas></div>
<details><summary data-text="table">Show the figures as a table</summary><div id="table-outcomes"></div></details></section>
<section class="panel" aria-labelledby="h-learnings"><h2 id="h-learnings" data-text="learnings">Latest learnings</h2>
<ul id="learnings" class="learnings"></ul></section>
</div>
</main>
<script src="{base}/chart.umd.min.js"></script>
<script src="{base}/dashboard.js"></script>
</body>
</html>
"#
    ))
}

/// The landing page's texts in one language.
struct FrontDoor {
    lang: &'static str,
    intro: &'static str,
    figures: [&'static str; 5],
    dashboard: &'static str,
    graphiql: &'static str,
    schema: &'static str,
    open_data: &'static str,
    docs: &'static str,
}

const FRONT_DOORS: [FrontDoor; 4] = [
    FrontDoor {
        lang: "en",
        intro: "The data of a city's circular-economy citizen programme: the circular initiatives it supports, the residents' needs they answer, the partners involved, the outcomes measured and the lessons learnt — for the city's services, partner cities and developers.",
        figures: [
            "initiatives",
            "needs",
            "of them answered",
            "learnings",
            "municipalities",
        ],
        dashboard: "The programme dashboard: the programme at a glance, live.",
        graphiql: "GraphiQL: write and run queries; its Docs pane describes every type and field.",
        schema: "The schema (SDL): for code generators and for reading.",
        open_data: "Open data: every public data set as CSV, NDJSON and GeoJSON, with a Frictionless Data Package.",
        docs: "Reads need no key; writes need an API key (Authorization: Bearer …).",
    },
    FrontDoor {
        lang: "nl",
        intro: "De gegevens van een circulair burgerprogramma van een stad: de circulaire initiatieven die het steunt, de noden van bewoners die ze beantwoorden, de partners, de gemeten resultaten en de geleerde lessen — voor de diensten van de stad, partnersteden en ontwikkelaars.",
        figures: [
            "initiatieven",
            "noden",
            "waarvan beantwoord",
            "lessen",
            "gemeenten",
        ],
        dashboard: "Het programmadashboard: het programma in één oogopslag, live.",
        graphiql: "GraphiQL: schrijf en voer queries uit; het Docs-paneel beschrijft elk type en veld.",
        schema: "Het schema (SDL): voor codegeneratoren en om te lezen.",
        open_data: "Open data: elke publieke dataset als CSV, NDJSON en GeoJSON, met een Frictionless Data Package.",
        docs: "Lezen kan zonder sleutel; schrijven vraagt een API-sleutel (Authorization: Bearer …).",
    },
    FrontDoor {
        lang: "fr",
        intro: "Les données d'un programme citoyen d'économie circulaire d'une ville : les initiatives circulaires qu'il soutient, les besoins des habitants auxquels elles répondent, les partenaires, les résultats mesurés et les enseignements — pour les services de la ville, les villes partenaires et les développeurs.",
        figures: [
            "initiatives",
            "besoins",
            "dont satisfaits",
            "enseignements",
            "communes",
        ],
        dashboard: "Le tableau de bord du programme : le programme en un coup d'œil, en direct.",
        graphiql: "GraphiQL : écrire et exécuter des requêtes ; le panneau Docs décrit chaque type et champ.",
        schema: "Le schéma (SDL) : pour les générateurs de code et pour la lecture.",
        open_data: "Données ouvertes : chaque jeu de données public en CSV, NDJSON et GeoJSON, avec un Frictionless Data Package.",
        docs: "La lecture se fait sans clé ; l'écriture demande une clé d'API (Authorization: Bearer …).",
    },
    FrontDoor {
        lang: "de",
        intro: "Die Daten eines Bürgerprogramms einer Stadt zur Kreislaufwirtschaft: die unterstützten Kreislaufinitiativen, die Bedarfe der Bewohner, die sie decken, die Partner, die gemessenen Ergebnisse und die Erkenntnisse — für die Dienste der Stadt, Partnerstädte und Entwickler.",
        figures: [
            "Initiativen",
            "Bedarfe",
            "davon gedeckt",
            "Erkenntnisse",
            "Gemeinden",
        ],
        dashboard: "Das Programm-Dashboard: das Programm auf einen Blick, live.",
        graphiql: "GraphiQL: Abfragen schreiben und ausführen; der Docs-Bereich beschreibt jeden Typ und jedes Feld.",
        schema: "Das Schema (SDL): für Codegeneratoren und zum Lesen.",
        open_data: "Offene Daten: jeder öffentliche Datensatz als CSV, NDJSON und GeoJSON, mit einem Frictionless Data Package.",
        docs: "Lesen geht ohne Schlüssel; Schreiben braucht einen API-Schlüssel (Authorization: Bearer …).",
    },
];

/// `GET /`: the instance's front door, in the caller's language (`Accept-Language`): what it
/// is, the programme's key figures (read from the public API by the page), and the way in.
pub async fn landing(headers: axum::http::HeaderMap) -> Response {
    let preferences = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(crate::kernel::i18n::LocalePreferences::from_accept_language)
        .unwrap_or_default();
    let door = preferences
        .chain(None)
        .iter()
        .find_map(|code| FRONT_DOORS.iter().find(|d| d.lang == code))
        .unwrap_or(&FRONT_DOORS[0]);
    let base = format!("/assets/{}", *ASSETS_VERSION);
    let figures: String = ["initiatives", "needs", "answered", "learnings", "municipalities"]
        .iter()
        .zip(door.figures)
        .map(|(key, label)| {
            format!(
                "<div class=\"figure\"><div class=\"value\" data-figure=\"{key}\">–</div><div class=\"label\">{label}</div></div>\n"
            )
        })
        .collect();
    let mut response = html(format!(
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stroom API</title>
<link rel="stylesheet" href="{base}/dashboard.css">
</head>
<body>
<header>
<h1>Stroom API</h1>
<p>{intro}</p>
</header>
<main>
<div class="figures">
{figures}</div>
<ul>
<li><a href="/dashboard">{dashboard}</a></li>
<li><a href="/graphql">{graphiql}</a></li>
<li><a href="/schema.graphql">{schema}</a></li>
<li><a href="/open-data/">{open_data}</a> (<a href="/open-data/datapackage.json">datapackage.json</a>)</li>
<li>{docs} <code>POST /graphql</code>, <code>GET /graphql?query=…</code></li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li>
</ul>
<p><code>curl -s &lt;this server&gt;/graphql -H 'content-type: application/json' -d
'{{"query":"{{ initiatives(first: 3) {{ nodes {{ name stage }} }} }}"}}'</code></p>
</main>
<script src="{base}/landing.js"></script>
</body>
</html>
"#,
        lang = door.lang,
        intro = door.intro,
        dashboard = door.dashboard,
        graphiql = door.graphiql,
        schema = door.schema,
        open_data = door.open_data,
        docs = door.docs,
    ));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(door.lang),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    response
}
