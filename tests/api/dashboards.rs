//! Dashboard numbers: every aggregate checked against the same count made in Rust over the rows
//! the lists return.
use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// The key of a group as `dimension=value` strings, for comparing with Rust's count.
fn key(group: &Value) -> Vec<String> {
    group["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            format!(
                "{}={}",
                k["dimension"].as_str().unwrap(),
                k["value"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

fn counted(groups: &Value, field: &str) -> BTreeMap<Vec<String>, i64> {
    groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (key(g), g[field].as_i64().unwrap()))
        .collect()
}

/// The values one record has for a dimension (several for themes and areas; `-` for none).
fn values(record: &Value, path: &str) -> Vec<String> {
    let value = &record[path];
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Object(o) if o.contains_key("nodes") => {
            let ids: Vec<String> = o["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect();
            if ids.is_empty() {
                vec!["-".into()]
            } else {
                ids
            }
        }
        Value::Object(o) => vec![o["id"].as_str().unwrap().to_owned()],
        Value::Array(items) if items.is_empty() => vec!["-".into()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap().to_owned())
            .collect(),
        _ => vec!["-".into()],
    }
}

/// Counts records per combination of dimension values, as the API should.
fn reference_count(
    records: &[Value],
    dimensions: &[(&str, &str)],
    weight: impl Fn(&Value) -> i64,
) -> BTreeMap<Vec<String>, i64> {
    let mut counts: BTreeMap<Vec<String>, i64> = BTreeMap::new();
    for record in records {
        let mut combinations: Vec<Vec<String>> = vec![vec![]];
        for (dimension, path) in dimensions {
            let mut next = Vec::new();
            for combination in &combinations {
                for value in values(record, path) {
                    let mut c = combination.clone();
                    c.push(format!("{dimension}={value}"));
                    next.push(c);
                }
            }
            combinations = next;
        }
        for combination in combinations {
            *counts.entry(combination).or_default() += weight(record);
        }
    }
    counts.retain(|_, n| *n > 0);
    counts
}

/// Gives each record, at `path` (a theme or a list of them), its themes and every theme above
/// them, as counting by theme rolls sub-themes up.
async fn with_theme_ancestors(app: &TestApp, records: &mut [Value], path: &str) {
    let themes = app.all_nodes("themes", "id parent { id }", json!({})).await;
    let parent: BTreeMap<String, String> = themes
        .iter()
        .filter_map(|t| {
            Some((
                t["id"].as_str()?.to_owned(),
                t["parent"]["id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    for record in records {
        let own: Vec<String> = match &record[path] {
            Value::Object(o) if o.contains_key("nodes") => o["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect(),
            Value::Object(o) => vec![o["id"].as_str().unwrap().to_owned()],
            _ => Vec::new(),
        };
        let mut all: Vec<String> = Vec::new();
        for mut theme in own {
            loop {
                if !all.contains(&theme) {
                    all.push(theme.clone());
                }
                match parent.get(&theme) {
                    Some(above) => theme = above.clone(),
                    None => break,
                }
            }
        }
        let nodes: Vec<Value> = all.into_iter().map(|id| json!({"id": id})).collect();
        record[path] = json!({"nodes": nodes});
    }
}

const INITIATIVE_FIELDS: &str = "id stage businessModel affordability initiatorKind municipality { id } programme { id } themes(first: 100) { nodes { id } } areas(first: 100) { nodes { id } }";

#[tokio::test]
async fn initiative_counts_match_a_count_in_rust() {
    let app = spawn_app().await;
    let mut initiatives = app
        .all_nodes("initiatives", INITIATIVE_FIELDS, json!({}))
        .await;
    with_theme_ancestors(&app, &mut initiatives, "themes").await;
    let dimensions = [
        ("STAGE", "stage"),
        ("THEME", "themes"),
        ("AREA", "areas"),
        ("BUSINESS_MODEL", "businessModel"),
        ("AFFORDABILITY", "affordability"),
        ("INITIATOR_KIND", "initiatorKind"),
        ("MUNICIPALITY", "municipality"),
        ("PROGRAMME", "programme"),
    ];
    // Counted by the area recorded, as the reference counts.
    let query = "query($g: [InitiativeDimension!], $f: InitiativeFilter) { initiativeStats(groupBy: $g, filter: $f, areaGrouping: OWN_AREA) { total groups { count keys { dimension value label } } } }";
    for dimension in &dimensions {
        let reply = app.graphql(query, json!({"g": [dimension.0]})).await;
        let stats = &reply.ok()["initiativeStats"];
        assert_eq!(stats["total"], initiatives.len() as i64);
        assert_eq!(
            counted(&stats["groups"], "count"),
            reference_count(&initiatives, &[*dimension], |_| 1),
            "{}",
            dimension.0
        );
    }
    // Two at a time: business model × stage (did the subsidy-dependent ones stop?).
    for pair in [
        [dimensions[3], dimensions[0]],
        [dimensions[1], dimensions[2]],
    ] {
        let reply = app
            .graphql(query, json!({"g": [pair[0].0, pair[1].0]}))
            .await;
        let stats = &reply.ok()["initiativeStats"];
        assert_eq!(
            counted(&stats["groups"], "count"),
            reference_count(&initiatives, &pair, |_| 1)
        );
    }
    let subsidy_stopped = app
        .graphql(
            query,
            json!({"g": ["STAGE"], "f": {"businessModels": ["SUBSIDY"]}}),
        )
        .await;
    let stats = &subsidy_stopped.ok()["initiativeStats"];
    let subsidised: Vec<Value> = initiatives
        .iter()
        .filter(|i| i["businessModel"] == "SUBSIDY")
        .cloned()
        .collect();
    assert_eq!(stats["total"], subsidised.len() as i64);
    assert_eq!(
        counted(&stats["groups"], "count"),
        reference_count(&subsidised, &[dimensions[0]], |_| 1)
    );
    // Labels name records in the request's language.
    let labelled = app
        .graphql_with(query, json!({"g": ["THEME"]}), &[("accept-language", "nl")])
        .await;
    let labels: Vec<&str> = labelled.ok()["initiativeStats"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["keys"][0]["label"].as_str())
        .collect();
    assert!(labels.contains(&"Deeleconomie"), "{labels:?}");
    let refused = app
        .graphql(query, json!({"g": ["STAGE", "THEME", "AREA"]}))
        .await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn need_counts_and_coverage_match_a_count_in_rust() {
    let app = spawn_app().await;
    let mut needs = app
        .all_nodes("needs", "id status source targetGroups theme { id } area { id } programme { id } municipality { id } answered initiatives(first: 100) { nodes { stage } }", json!({}))
        .await;
    with_theme_ancestors(&app, &mut needs, "theme").await;
    let active = |need: &Value| {
        need["initiatives"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| {
                ["PILOT", "RUNNING", "SELF_SUSTAINING"].contains(&i["stage"].as_str().unwrap())
            })
    };
    for need in &needs {
        assert_eq!(
            need["answered"],
            json!(active(need)),
            "`answered` of {}",
            need["id"]
        );
    }
    let query = "query($g: [NeedDimension!], $f: NeedFilter) { needStats(groupBy: $g, filter: $f, areaGrouping: OWN_AREA) { total answered answeredShare groups { count answered unanswered answeredShare keys { dimension value } } } }";
    let dimensions = [
        ("THEME", "theme"),
        ("AREA", "area"),
        ("TARGET_GROUP", "targetGroups"),
        ("STATUS", "status"),
        ("SOURCE", "source"),
        ("PROGRAMME", "programme"),
        ("MUNICIPALITY", "municipality"),
    ];
    let answered_total = needs.iter().filter(|n| active(n)).count() as i64;
    for dimension in &dimensions {
        let reply = app.graphql(query, json!({"g": [dimension.0]})).await;
        let stats = &reply.ok()["needStats"];
        assert_eq!(stats["total"], needs.len() as i64);
        assert_eq!(stats["answered"], answered_total);
        assert_eq!(
            counted(&stats["groups"], "count"),
            reference_count(&needs, &[*dimension], |_| 1),
            "{}",
            dimension.0
        );
        let expected_answered: BTreeMap<Vec<String>, i64> =
            reference_count(&needs, &[*dimension], |n| i64::from(active(n)));
        let mut got = counted(&stats["groups"], "answered");
        got.retain(|_, n| *n > 0);
        assert_eq!(got, expected_answered, "answered per {}", dimension.0);
        for group in stats["groups"].as_array().unwrap() {
            let (count, answered) = (
                group["count"].as_i64().unwrap(),
                group["answered"].as_i64().unwrap(),
            );
            assert_eq!(group["unanswered"], count - answered);
            assert!(
                (group["answeredShare"].as_f64().unwrap() - answered as f64 / count as f64).abs()
                    < 1e-9
            );
        }
    }
    // Uncovered needs per area: one request.
    let gaps = app
        .graphql(query, json!({"g": ["AREA"], "f": {"answered": false}}))
        .await;
    let unanswered: Vec<Value> = needs.iter().filter(|n| !active(n)).cloned().collect();
    assert_eq!(
        counted(&gaps.ok()["needStats"]["groups"], "count"),
        reference_count(&unanswered, &[dimensions[1]], |_| 1)
    );
    let listed = app
        .all_nodes("needs", "id", json!({"answered": false}))
        .await;
    assert_eq!(listed.len(), unanswered.len());
}

/// The first day of the quarter of a `YYYY-MM-DD` date.
fn quarter_of(date: &str) -> String {
    let month: u32 = date[5..7].parse().unwrap();
    format!("{}-{:02}-01", &date[..4], (month - 1) / 3 * 3 + 1)
}

fn dec(value: &Value) -> rust_decimal::Decimal {
    value.as_str().unwrap().parse().unwrap()
}

async fn outcomes_of(app: &TestApp, indicator: &str) -> Vec<Value> {
    app.all_nodes(
        "outcomes",
        "value periodStart area { id } municipality { id } programme { id } initiative { id themes(first: 100) { nodes { id } } areas(first: 100) { nodes { id } } }",
        json!({"indicators": [indicator]}),
    )
    .await
}

#[tokio::test]
async fn outcome_series_match_a_sum_in_rust() {
    use rust_decimal::Decimal;
    let app = spawn_app().await;
    let reply = app
        .graphql(
            r#"{ indicators { nodes { id code } } areas(first: 100) { nodes { id households } } }"#,
            json!({}),
        )
        .await;
    let data = reply.ok();
    let indicator = |code: &str| {
        data["indicators"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == code)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let households: BTreeMap<String, Option<i64>> = data["areas"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                a["households"].as_i64(),
            )
        })
        .collect();
    let query = r#"query($i: [ID!]!, $g: OutcomeDimension, $iv: Interval!, $per: Boolean) {
        outcomeSeries(indicators: $i, from: "2019-01-01", to: "2023-12-31", interval: $iv, groupBy: $g, perThousandHouseholds: $per) {
          interval series { key { dimension value } unit households total points { periodStart periodEnd count sum average minimum maximum sumPerThousandHouseholds } }
        } }"#;
    for code in ["devices_fixed", "food_shared", "items_lent"] {
        let id = indicator(code);
        let rows = outcomes_of(&app, &id).await;
        let in_range: Vec<&Value> = rows
            .iter()
            .filter(|o| ("2019-01-01"..="2023-12-31").contains(&o["periodStart"].as_str().unwrap()))
            .collect();
        for (group, path) in [
            (Value::Null, ""),
            (json!("THEME"), "themes"),
            (json!("AREA"), "areas"),
            (json!("INITIATIVE"), "initiative"),
        ] {
            let reply = app
                .graphql(
                    query,
                    json!({"i": [id], "g": group, "iv": "QUARTER", "per": group == json!("AREA")}),
                )
                .await;
            let series = reply.ok()["outcomeSeries"]["series"]
                .as_array()
                .unwrap()
                .clone();
            // Reference: (group value, quarter) → values.
            let mut expected: BTreeMap<(String, String), Vec<Decimal>> = BTreeMap::new();
            for outcome in &in_range {
                let groups: Vec<String> = match path {
                    "" => vec!["-".into()],
                    "themes" => values(&outcome["initiative"], "themes"),
                    "areas" => match outcome["area"]["id"].as_str() {
                        Some(area) => vec![area.to_owned()],
                        None => values(&outcome["initiative"], "areas"),
                    },
                    _ => vec![
                        outcome["initiative"]["id"]
                            .as_str()
                            .unwrap_or("-")
                            .to_owned(),
                    ],
                };
                for g in groups {
                    expected
                        .entry((g, quarter_of(outcome["periodStart"].as_str().unwrap())))
                        .or_default()
                        .push(dec(&outcome["value"]));
                }
            }
            let mut seen = 0;
            for s in &series {
                let g = s["key"]["value"].as_str().unwrap_or("-").to_owned();
                assert_eq!(
                    s["points"].as_array().unwrap().len(),
                    20,
                    "every quarter of five years, empty ones too"
                );
                let mut total = Decimal::ZERO;
                for point in s["points"].as_array().unwrap() {
                    let values = expected
                        .get(&(g.clone(), point["periodStart"].as_str().unwrap().to_owned()))
                        .cloned()
                        .unwrap_or_default();
                    let sum: Decimal = values.iter().copied().sum();
                    total += sum;
                    seen += values.len();
                    assert_eq!(
                        point["count"],
                        values.len() as i64,
                        "{code} {g} {}",
                        point["periodStart"]
                    );
                    assert_eq!(
                        dec(&point["sum"]),
                        sum,
                        "{code} {g} {}",
                        point["periodStart"]
                    );
                    if values.is_empty() {
                        assert!(point["average"].is_null() && point["minimum"].is_null());
                    } else {
                        assert_eq!(dec(&point["minimum"]), *values.iter().min().unwrap());
                        assert_eq!(dec(&point["maximum"]), *values.iter().max().unwrap());
                        assert_eq!(
                            dec(&point["average"]),
                            (sum / Decimal::from(values.len())).round_dp(6).normalize()
                        );
                    }
                    if group == json!("AREA") {
                        match households.get(&g).copied().flatten() {
                            Some(h) => assert_eq!(
                                dec(&point["sumPerThousandHouseholds"]),
                                (sum * Decimal::from(1000) / Decimal::from(h))
                                    .round_dp(6)
                                    .normalize()
                            ),
                            None => assert!(point["sumPerThousandHouseholds"].is_null()),
                        }
                    }
                }
                assert_eq!(dec(&s["total"]), total);
            }
            assert_eq!(
                seen,
                expected.values().map(Vec::len).sum::<usize>(),
                "{code} grouped by {group}: every outcome in a series"
            );
        }
    }
    // Years and months cover the same outcomes; units never mix.
    let years = app
        .graphql(
            query,
            json!({"i": [indicator("devices_fixed"), indicator("waste_prevented")], "iv": "YEAR"}),
        )
        .await;
    let series = years.ok()["outcomeSeries"]["series"]
        .as_array()
        .unwrap()
        .clone();
    let units: Vec<&str> = series.iter().map(|s| s["unit"].as_str().unwrap()).collect();
    assert_eq!(series.len(), 2);
    assert!(units.contains(&"ITEMS") && units.contains(&"KILOGRAM"));
    let months = app
        .graphql(
            query,
            json!({"i": [indicator("devices_fixed")], "iv": "MONTH"}),
        )
        .await;
    let month_total: i64 = months.ok()["outcomeSeries"]["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    let year_total: i64 = series.iter().find(|s| s["unit"] == "ITEMS").unwrap()["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(month_total, year_total);
    // Normalising needs a grouping with households.
    let refused = app
        .graphql(
            query,
            json!({"i": [indicator("devices_fixed")], "iv": "YEAR", "g": "THEME", "per": true}),
        )
        .await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_dashboard_gets_its_three_panels_in_one_request_each() {
    let app = spawn_app().await;
    let id = app
        .graphql(
            r#"{ indicators(filter: {codes: ["items_lent"]}) { nodes { id } } }"#,
            json!({}),
        )
        .await
        .ok()["indicators"]["nodes"][0]["id"]
        .clone();
    let reply = app
        .graphql(
            r#"query($i: ID!) {
                byModelAndStage: initiativeStats(groupBy: [BUSINESS_MODEL, STAGE]) { total groups { count keys { dimension value } } }
                gaps: needStats(groupBy: [AREA], filter: {answered: false}) { total groups { count keys { label } } }
                series: outcomeSeries(indicators: [$i], from: "2021-01-01", to: "2025-12-31", interval: QUARTER, groupBy: THEME) { series { key { label } points { periodStart sum } } }
            }"#,
            json!({"i": id}),
        )
        .await;
    let data = reply.ok();
    assert!(
        data["byModelAndStage"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| key(g) == ["BUSINESS_MODEL=SUBSIDY", "STAGE=STOPPED"])
    );
    assert!(data["gaps"]["total"].as_i64().unwrap() > 0);
    assert_eq!(
        data["series"]["series"][0]["points"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert!(
        reply.statements <= 12,
        "computed in the database: {} statements",
        reply.statements
    );
}

/// A list, its stats field, their dimension and filter types, and each dimension with the
/// filter field that selects one of its values.
type StatsOf = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const STATS: &[StatsOf] = &[
    (
        "initiatives",
        "initiativeStats",
        "InitiativeDimension",
        "InitiativeFilter",
        &[
            ("STAGE", "stages"),
            ("THEME", "themes"),
            ("AREA", "areas"),
            ("BUSINESS_MODEL", "businessModels"),
            ("AFFORDABILITY", "affordabilities"),
            ("INITIATOR_KIND", "initiatorKinds"),
            ("MUNICIPALITY", "municipalities"),
            ("PROGRAMME", "programmes"),
        ],
    ),
    (
        "needs",
        "needStats",
        "NeedDimension",
        "NeedFilter",
        &[
            ("THEME", "themes"),
            ("AREA", "areas"),
            ("TARGET_GROUP", "targetGroups"),
            ("STATUS", "statuses"),
            ("SOURCE", "sources"),
            ("PROGRAMME", "programmes"),
            ("MUNICIPALITY", "municipalities"),
        ],
    ),
];

/// Every group of every dimension (and of pairs of them), empty groups included, counts what
/// the list filtered by the group's values holds: the tile and the list never disagree.
async fn groups_agree_with_their_lists(app: &TestApp) {
    for (list, stats, dimension_type, filter_type, dimensions) in STATS {
        let mut pairs: Vec<Vec<(&str, &str)>> = dimensions.iter().map(|d| vec![*d]).collect();
        pairs.push(vec![dimensions[0], dimensions[1]]);
        pairs.push(vec![dimensions[1], dimensions[2]]);
        for grouping in pairs {
            let names: Vec<&str> = grouping.iter().map(|(d, _)| *d).collect();
            let grouped = app
                .graphql(
                    &format!("query($g: [{dimension_type}!]) {{ {stats}(groupBy: $g, includeEmptyGroups: true) {{ groups {{ count keys {{ value }} }} }} }}"),
                    json!({"g": names}),
                )
                .await;
            for group in grouped.ok()[*stats]["groups"].as_array().unwrap() {
                let mut filter = serde_json::Map::new();
                let mut none = false;
                for ((_, field), key) in grouping.iter().zip(group["keys"].as_array().unwrap()) {
                    match key["value"].as_str() {
                        Some(value) => {
                            filter.insert((*field).to_owned(), json!([value]));
                        }
                        None => none = true,
                    }
                }
                // "None" has no filter value to compare with.
                if none {
                    continue;
                }
                let listed = app
                    .graphql(
                        &format!(
                            "query($f: {filter_type}) {{ {list}(filter: $f) {{ totalCount }} }}"
                        ),
                        json!({"f": filter}),
                    )
                    .await;
                assert_eq!(
                    group["count"],
                    listed.ok()[*list]["totalCount"],
                    "{stats} {names:?} {filter:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_group_counts_what_the_list_under_its_filter_holds() {
    let app = spawn_app().await;
    groups_agree_with_their_lists(&app).await;
    // Nested values roll up: some area and some theme hold records of the ones below them.
    for dimension in ["AREA", "THEME"] {
        let query = format!(
            "{{ rolled: initiativeStats(groupBy: [{dimension}]) {{ groups {{ count keys {{ value }} }} }} \
               own: initiatives(first: 100) {{ nodes {{ themes(first: 50) {{ nodes {{ id }} }} areas(first: 50) {{ nodes {{ id }} }} }} }} }}"
        );
        let reply = app.graphql(&query, json!({})).await;
        let path = if dimension == "AREA" {
            "areas"
        } else {
            "themes"
        };
        let rolled_up = reply.ok()["rolled"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|group| {
                let value = &group["keys"][0]["value"];
                let own = reply.ok()["own"]["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|i| {
                        i[path]["nodes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|n| &n["id"] == value)
                    })
                    .count() as i64;
                own < group["count"].as_i64().unwrap()
            })
            .count();
        assert!(
            rolled_up > 0,
            "{dimension}: some group holds its sub-records"
        );
    }
}

#[tokio::test]
async fn new_areas_and_themes_are_groups_of_zero_when_empty_groups_are_asked_for() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    let neighbourhood = app.find_id("areas", "Bethani").await;
    let found = app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Area { municipality { id } } } }",
            json!({"id": neighbourhood}),
        )
        .await;
    let municipality = found.ok()["node"]["municipality"]["id"].clone();
    let created = app
        .graphql_as(
            &admin,
            "mutation($p: ID!, $m: ID!) { area: createArea(input: {municipality: $m, parent: $p, kind: STREET_CLUSTER, name: [{locale: \"en\", text: \"New cluster\"}]}) { area { id } userErrors { message } } theme: createTheme(input: {code: \"new_empty\", label: [{locale: \"en\", text: \"Nothing yet\"}]}) { theme { id } userErrors { message } } }",
            json!({"p": neighbourhood, "m": municipality}),
        )
        .await;
    let area = created.ok()["area"]["area"]["id"]
        .as_str()
        .expect("an area")
        .to_owned();
    let theme = created.ok()["theme"]["theme"]["id"]
        .as_str()
        .expect("a theme")
        .to_owned();
    for (stats, dimension_type) in [
        ("initiativeStats", "InitiativeDimension"),
        ("needStats", "NeedDimension"),
    ] {
        for (dimension, id) in [("AREA", &area), ("THEME", &theme)] {
            let reply = app
                .graphql(
                    &format!("query($g: [{dimension_type}!]) {{ {stats}(groupBy: $g, includeEmptyGroups: true) {{ groups {{ count keys {{ value }} }} }} }}"),
                    json!({"g": [dimension]}),
                )
                .await;
            let group = reply.ok()[stats]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["keys"][0]["value"] == id.as_str())
                .cloned();
            assert_eq!(
                group.map(|g| g["count"].clone()),
                Some(json!(0)),
                "{stats} {dimension}: the new record is a group of 0"
            );
        }
    }
    // The new empty groups agree with their (empty) lists too.
    groups_agree_with_their_lists(&app).await;
}

#[tokio::test]
async fn empty_groups_of_enumerations_are_there_when_asked_for() {
    let app = spawn_app().await;
    let stages = [
        "IDEA",
        "PILOT",
        "RUNNING",
        "SELF_SUSTAINING",
        "PAUSED",
        "STOPPED",
    ];
    let query = "query($g: [InitiativeDimension!], $f: InitiativeFilter, $e: Boolean) { initiativeStats(groupBy: $g, filter: $f, includeEmptyGroups: $e) { total groups { count keys { dimension value } } } }";
    // Only running initiatives: without empty groups one column, with them all six.
    let filter = json!({"stages": ["RUNNING"]});
    let plain = app
        .graphql(query, json!({"g": ["STAGE"], "f": filter, "e": false}))
        .await;
    assert_eq!(
        plain.ok()["initiativeStats"]["groups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let filled = app
        .graphql(query, json!({"g": ["STAGE"], "f": filter, "e": true}))
        .await;
    let groups = filled.ok()["initiativeStats"]["groups"]
        .as_array()
        .unwrap()
        .clone();
    let values: Vec<&str> = groups
        .iter()
        .map(|g| g["keys"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(values.len(), 6);
    assert_eq!(values[0], "RUNNING");
    // The empty ones follow in the schema's order.
    let empty: Vec<&str> = stages.iter().copied().filter(|s| *s != "RUNNING").collect();
    assert_eq!(&values[1..], empty.as_slice());
    assert!(groups[1..].iter().all(|g| g["count"] == 0));
    // Two enumerations: the whole grid. An empty filter result still has every column.
    let grid = app
        .graphql(
            query,
            json!({"g": ["BUSINESS_MODEL", "STAGE"], "f": {"stages": []}, "e": true}),
        )
        .await;
    let grid = &grid.ok()["initiativeStats"];
    assert_eq!(grid["total"], 0);
    assert_eq!(grid["groups"].as_array().unwrap().len(), 6 * 6);
    let needs = app
        .graphql(
            "{ needStats(groupBy: [STATUS], includeEmptyGroups: true) { groups { count answered unanswered keys { value } } } }",
            json!({}),
        )
        .await;
    let groups = needs.ok()["needStats"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4);
    for group in groups {
        assert_eq!(
            group["unanswered"].as_i64().unwrap(),
            group["count"].as_i64().unwrap() - group["answered"].as_i64().unwrap()
        );
    }
}
