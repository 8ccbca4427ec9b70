//! Open data: every file parses, matches the API's totals, and holds only public data.
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn get(app: &TestApp, path: &str) -> (u16, String, String) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// API list fields of the data sets that have one.
const TOTALS: &[(&str, &str)] = &[
    ("municipalities", "municipalities"),
    ("areas", "areas"),
    ("themes", "themes"),
    ("organisations", "organisations"),
    ("programmes", "programmes"),
    ("needs", "needs"),
    ("initiatives", "initiatives"),
    ("indicators", "indicators"),
    ("outcomes", "outcomes"),
    ("learnings", "learnings"),
];

#[tokio::test]
async fn every_data_set_parses_and_matches_the_api() {
    let app = spawn_app().await;
    let (status, _, index) = get(&app, "/open-data/").await;
    assert_eq!(status, 200);
    let index: Value = serde_json::from_str(&index).unwrap();
    let datasets = index["datasets"].as_array().unwrap().clone();
    assert!(datasets.len() >= 15);
    let (_, _, package) = get(&app, "/open-data/en/datapackage.json").await;
    let package: Value = serde_json::from_str(&package).unwrap();
    assert_eq!(package["profile"], "tabular-data-package");

    let totals = app
        .graphql("{ municipalities { totalCount } areas { totalCount } themes { totalCount } organisations { totalCount } programmes { totalCount } needs { totalCount } initiatives { totalCount } indicators { totalCount } outcomes { totalCount } learnings { totalCount } }", json!({}))
        .await;
    let totals = totals.ok().clone();
    for dataset in &datasets {
        let name = dataset["name"].as_str().unwrap();
        let (status, content_type, csv_text) =
            get(&app, &format!("/open-data/en/{name}.csv")).await;
        assert_eq!(status, 200, "{name}");
        assert!(content_type.starts_with("text/csv"));
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let resource = package["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap();
        let described: Vec<String> = resource["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            header, described,
            "{name}: the descriptor describes every column"
        );
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .map(|r| r.expect("a well-formed CSV row"))
            .collect();
        let (_, content_type, ndjson) = get(&app, &format!("/open-data/en/{name}.ndjson")).await;
        assert_eq!(content_type, "application/x-ndjson");
        let objects: Vec<Value> = ndjson
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(objects.len(), rows.len(), "{name}: CSV and NDJSON agree");
        if let Some((_, field)) = TOTALS.iter().find(|(n, _)| *n == name) {
            assert_eq!(
                rows.len() as i64,
                totals[*field]["totalCount"].as_i64().unwrap(),
                "{name}: the API's total"
            );
        }
        for text in [&csv_text, &ndjson] {
            for secret in [
                "julie.poppe",
                "Poppe",
                "klusbib@example.org",
                "volunteers from the same street",
            ] {
                assert!(!text.contains(secret), "{name} leaks {secret}");
            }
        }
    }
    // Types are honoured: numbers are numbers, dates dates.
    let (_, _, outcomes) = get(&app, "/open-data/en/outcomes.ndjson").await;
    let first: Value = serde_json::from_str(outcomes.lines().next().unwrap()).unwrap();
    assert!(first["value"].is_number());
    assert!(first["verified"].is_boolean());
    assert_eq!(first["period_start"].as_str().unwrap().len(), 10);
}

#[tokio::test]
async fn locales_geojson_and_archived_records() {
    let app = spawn_app().await;
    let (_, _, dutch) = get(&app, "/open-data/nl/themes.csv").await;
    assert!(dutch.contains("Deeleconomie"));
    let (_, _, english) = get(&app, "/open-data/en/themes.csv").await;
    assert!(english.contains("Sharing economy") && !english.contains("Deeleconomie"));
    let (status, content_type, geojson) = get(&app, "/open-data/nl/areas.geojson").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/geo+json");
    let geojson: Value = serde_json::from_str(&geojson).unwrap();
    assert_eq!(geojson["type"], "FeatureCollection");
    assert_eq!(geojson["features"].as_array().unwrap().len(), 4);
    assert_eq!(geojson["features"][0]["properties"]["households"], 1250);
    assert_eq!(get(&app, "/open-data/xx_!/themes.csv").await.0, 400);
    assert_eq!(get(&app, "/open-data/en/contacts.csv").await.0, 404);

    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_string(
            backend,
            "UPDATE initiative SET archived_at = updated_at WHERE search_text LIKE '%makerspace%'"
                .to_owned(),
        ))
        .await
        .unwrap();
    let count = |text: &str| text.lines().count();
    let (_, _, current) = get(&app, "/open-data/en/initiatives.ndjson").await;
    let (_, _, all) = get(&app, "/open-data/en/initiatives.ndjson?archived=include").await;
    assert_eq!(count(&all), count(&current) + 1);
    assert!(!current.contains("Makerspace") && all.contains("Makerspace"));
    let (_, _, links) = get(&app, "/open-data/en/initiative-themes.csv").await;
    let (_, _, all_links) = get(&app, "/open-data/en/initiative-themes.csv?archived=include").await;
    assert!(
        count(&all_links) > count(&links),
        "links of archived records stay out too"
    );
}

#[tokio::test]
async fn every_file_downloads_whole_under_gzip_as_browsers_ask() {
    let app = spawn_app().await;
    // A client that asks for gzip and inflates the answer, as browsers, `requests` and
    // frictionless do.
    let browser = reqwest::Client::builder().gzip(true).build().unwrap();
    let (_, _, index) = get(&app, "/open-data/").await;
    let index: Value = serde_json::from_str(&index).unwrap();
    // Without a locale, the descriptor is the default locale's, its paths leading there.
    let (status, _, default) = get(&app, "/open-data/datapackage.json").await;
    assert_eq!(status, 200);
    let default: Value = serde_json::from_str(&default).unwrap();
    let resources = default["resources"].as_array().unwrap();
    assert!(resources.len() >= 15);
    for resource in resources {
        let path = resource["path"].as_str().unwrap();
        assert!(path.starts_with("en/"), "{path}");
        assert_eq!(
            get(&app, &format!("/open-data/{path}")).await.0,
            200,
            "{path}"
        );
    }
    let mut paths = vec![
        "/open-data/datapackage.json".to_owned(),
        "/open-data/en/datapackage.json".to_owned(),
    ];
    for locale in ["en", "nl"] {
        paths.push(format!("/open-data/{locale}/areas.geojson"));
        for dataset in index["datasets"].as_array().unwrap() {
            let name = dataset["name"].as_str().unwrap();
            for format in ["csv", "ndjson"] {
                paths.push(format!("/open-data/{locale}/{name}.{format}"));
            }
        }
    }
    for path in &paths {
        let plain = get(&app, path).await.2;
        let response = browser
            .get(app.url(path))
            .header("accept-encoding", "gzip, deflate, br")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let inflated = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            inflated.len(),
            plain.len(),
            "{path}: the whole file arrives"
        );
        assert_eq!(inflated, plain, "{path}");
    }
    // The raw bytes really are gzip.
    let raw = reqwest::Client::builder()
        .gzip(false)
        .build()
        .unwrap()
        .get(app.url("/open-data/en/learnings.ndjson"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-encoding"], "gzip");
    let bytes = raw.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
}

#[tokio::test]
async fn endorsements_are_open_data_and_files_say_their_language() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/open-data/fr/learning-endorsements.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-language"], "fr");
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let api = app
        .graphql(
            "{ learnings(first: 100) { nodes { endorsements(first: 100) { totalCount } } } }",
            json!({}),
        )
        .await;
    let endorsed: i64 = api.ok()["learnings"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["endorsements"]["totalCount"].as_i64().unwrap())
        .sum();
    assert_eq!(rows.len() as i64, endorsed);
    assert!(rows.len() >= 3);
    let (_, _, package) = get(&app, "/open-data/en/datapackage.json").await;
    let package: Value = serde_json::from_str(&package).unwrap();
    assert!(
        package["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "learning-endorsements")
    );
}

/// Geometries broken in every way a GeoJSON geometry breaks (positions that are not numbers
/// or out of range, lines too short, rings open or too short, nesting wrong) are refused on
/// create and on update with the place named, nothing is stored, and the areas' GeoJSON keeps
/// only valid geometries.
#[tokio::test]
async fn malformed_geometries_are_refused_on_every_write_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    const AREAS: &str =
        "{ areas(first: 50) { totalCount nodes { id version geometry municipality { id } } } }";
    let before = app.graphql_as(&admin, AREAS, json!({})).await.ok()["areas"].clone();
    let area = &before["nodes"][0];
    let ring = |last: Value| json!([[4.47, 51.02], [4.48, 51.02], [4.48, 51.03], last]);
    let closed = ring(json!([4.47, 51.02]));
    let mut shapes = vec![
        json!({"type": "Polygon", "coordinates": [ring(json!([4.47, 51.03]))]}),
        json!({"type": "Polygon", "coordinates": [[[4, 51], [5, 51], [4, 51]]]}),
        json!({"type": "LineString", "coordinates": [[4, 51]]}),
        json!({"type": "MultiPolygon", "coordinates": [closed.clone()]}),
        json!({"type": "Circle", "coordinates": [4, 51]}),
        json!({"type": "Point", "coordinates": [4, 51], "radius": 10}),
        json!({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [4, 95]}]}),
    ];
    for position in [
        json!(["NaN", 51]),
        json!([4, "Infinity"]),
        json!([4]),
        json!([4, 51, 0, 0]),
        json!([200, 51]),
        json!([4, -91]),
    ] {
        let mut broken = closed.clone();
        broken[2] = position.clone();
        shapes.extend([
            json!({"type": "Point", "coordinates": position.clone()}),
            json!({"type": "LineString", "coordinates": [[4, 51], position.clone()]}),
            json!({"type": "Polygon", "coordinates": [broken.clone()]}),
            json!({"type": "MultiPolygon", "coordinates": [[closed.clone()], [broken]]}),
        ]);
    }
    let create = "mutation($input: CreateAreaInput!) { createArea(input: $input) { area { id } userErrors { message } } }";
    let update = "mutation($input: UpdateAreaInput!) { updateArea(input: $input) { area { id } userErrors { message } } }";
    for shape in &shapes {
        let created = app
            .graphql_as(
                &admin,
                create,
                json!({"input": {"municipality": area["municipality"]["id"], "kind": "SITE", "name": [{"locale": "en", "text": "Broken"}], "geometry": shape}}),
            )
            .await;
        let updated = app
            .graphql_as(
                &admin,
                update,
                json!({"input": {"id": area["id"], "version": area["version"], "geometry": shape}}),
            )
            .await;
        for reply in [created, updated] {
            let error = &reply.errors()[0];
            assert_eq!(
                error["extensions"]["code"], "BAD_USER_INPUT",
                "{shape}: {error}"
            );
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.contains("geometry"), "{shape}: {message}");
            assert!(
                reply.body["data"].is_null()
                    || reply.body["data"]
                        .as_object()
                        .is_none_or(|d| d.values().all(Value::is_null)),
                "{shape}: {}",
                reply.body
            );
        }
    }
    // Nothing stored, nothing changed.
    let after = app.graphql_as(&admin, AREAS, json!({})).await.ok()["areas"].clone();
    assert_eq!(after, before);
    // A well-formed polygon with a hole is taken, and published as given.
    let hole = json!([
        [4.475, 51.025],
        [4.476, 51.025],
        [4.476, 51.026],
        [4.475, 51.025]
    ]);
    let polygon = json!({"type": "Polygon", "coordinates": [closed, hole]});
    let created = app
        .graphql_as(
            &admin,
            create,
            json!({"input": {"municipality": area["municipality"]["id"], "kind": "SITE", "name": [{"locale": "en", "text": "Repair café garden"}], "geometry": polygon}}),
        )
        .await;
    assert_eq!(created.ok()["createArea"]["userErrors"], json!([]));
    let (_, _, geojson) = get(&app, "/open-data/en/areas.geojson").await;
    let geojson: Value = serde_json::from_str(&geojson).unwrap();
    let features = geojson["features"].as_array().unwrap();
    assert!(features.iter().any(|f| f["geometry"] == polygon));
}

/// Checks that every reference in every file of a locale's package (`suffix` added to each
/// file's path) names a row of the file it refers to, as the descriptor's foreign keys say.
/// Returns how many references were checked.
async fn references_agree(app: &TestApp, suffix: &str) -> usize {
    use std::collections::{HashMap, HashSet};
    let (_, _, descriptor) = get(app, "/open-data/en/datapackage.json").await;
    let descriptor: Value = serde_json::from_str(&descriptor).unwrap();
    let resources = descriptor["resources"].as_array().unwrap();
    let mut tables: HashMap<String, (Vec<String>, Vec<Vec<String>>)> = HashMap::new();
    for resource in resources {
        let name = resource["name"].as_str().unwrap();
        let (status, _, body) = get(app, &format!("/open-data/en/{name}.csv{suffix}")).await;
        assert_eq!(status, 200, "{name}");
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let headers: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        tables.insert(name.to_owned(), (headers, rows));
    }
    let ids = |name: &str| -> HashSet<String> {
        let (headers, rows) = &tables[name];
        let Some(at) = headers.iter().position(|h| h == "id") else {
            return HashSet::new();
        };
        rows.iter().map(|r| r[at].clone()).collect()
    };
    let mut checked = 0;
    for resource in resources {
        let name = resource["name"].as_str().unwrap();
        let (headers, rows) = &tables[name];
        for key in resource["schema"]["foreignKeys"].as_array().unwrap() {
            let field = key["fields"].as_str().unwrap();
            let target = match key["reference"]["resource"].as_str().unwrap() {
                "" => name,
                other => other,
            };
            let known = ids(target);
            let at = headers.iter().position(|h| h == field).unwrap();
            for row in rows {
                if row[at].is_empty() {
                    continue;
                }
                assert!(
                    known.contains(&row[at]),
                    "{name}.{field} = {} is not a row of {target}{suffix}",
                    row[at]
                );
                checked += 1;
            }
        }
    }
    checked
}

/// Archives the first records of every archivable kind and withdraws public learnings to
/// partners only, as staff would.
async fn archive_and_withdraw(app: &TestApp, key: &str, per_kind: usize) {
    for (list, mutation) in [
        ("initiatives", "archiveInitiative"),
        ("organisations", "archiveOrganisation"),
        ("themes", "archiveTheme"),
        ("areas", "archiveArea"),
        ("programmes", "archiveProgramme"),
        ("indicators", "archiveIndicator"),
        ("needs", "archiveNeed"),
    ] {
        // Parents first where there are any (a theme or area with records below it).
        let listed = app
            .graphql(
                &format!("{{ {list}(first: 100) {{ nodes {{ id version }} }} }}"),
                json!({}),
            )
            .await;
        let nodes = listed.ok()[list]["nodes"].as_array().unwrap().clone();
        let step = (nodes.len() / per_kind.max(1)).max(1);
        for node in nodes.iter().step_by(step).take(per_kind) {
            let reply = app
                .graphql_as(
                    key,
                    &format!("mutation($id: ID!, $v: Int!) {{ {mutation}(input: {{id: $id, version: $v}}) {{ userErrors {{ message }} }} }}"),
                    json!({"id": node["id"], "v": node["version"]}),
                )
                .await;
            assert_eq!(
                reply.ok()[mutation]["userErrors"],
                json!([]),
                "{mutation} {}",
                node["id"]
            );
        }
    }
    let learnings = app
        .graphql(
            "{ learnings(first: 100) { nodes { id version } } }",
            json!({}),
        )
        .await;
    let nodes = learnings.ok()["learnings"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    for node in nodes.iter().step_by(3) {
        let reply = app
            .graphql_as(
                key,
                "mutation($id: ID!, $v: Int!) { updateLearning(input: {id: $id, version: $v, audience: PARTNERS}) { userErrors { message } } }",
                json!({"id": node["id"], "v": node["version"]}),
            )
            .await;
        assert_eq!(reply.ok()["updateLearning"]["userErrors"], json!([]));
    }
}

#[tokio::test]
async fn every_file_agrees_with_the_others_whatever_is_archived_or_withdrawn() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    assert!(references_agree(&app, "").await > 100);
    archive_and_withdraw(&app, &admin, 2).await;
    for suffix in ["", "?archived=include"] {
        assert!(references_agree(&app, suffix).await > 50, "{suffix}");
    }
}

#[tokio::test]
async fn a_generated_data_set_stays_consistent_whatever_is_archived_or_withdrawn() {
    let app = crate::helpers::spawn_generated(
        stroom_seed::Scale {
            municipalities: 3,
            organisations: 40,
            needs: 80,
            initiatives: 60,
            outcomes: 200,
            learnings: 30,
        },
        |_| {},
    )
    .await;
    let admin = app.admin_key().await;
    assert!(references_agree(&app, "").await > 100);
    archive_and_withdraw(&app, &admin, 5).await;
    for suffix in ["", "?archived=include"] {
        assert!(references_agree(&app, suffix).await > 50, "{suffix}");
    }
}
