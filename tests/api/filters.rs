//! Every filter of every list, checked against the same selection made in Rust over the full
//! list, and the orderings against a sort in Rust.
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// IDs of a list filtered by the API.
async fn filtered(app: &TestApp, field: &str, filter: Value) -> Vec<String> {
    let mut ids: Vec<String> = app
        .all_nodes(field, "id", filter)
        .await
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// IDs of the nodes that meet a condition.
fn expected(nodes: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<String> {
    let mut ids: Vec<String> = nodes
        .iter()
        .filter(|n| keep(n))
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn has(list: &Value, value: &str) -> bool {
    list.as_array()
        .is_some_and(|a| a.iter().any(|v| v == value))
}

fn ids_in(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn initiative_filters_select_what_they_say() {
    let app = spawn_app().await;
    let all = app
        .all_nodes(
            "initiatives",
            "id name(locale: \"en\") stage businessModel affordability initiatorKind startDate
             municipality { id } programme { id }
             themes { nodes { id code } } areas { nodes { id } } needs { nodes { id } }",
            json!({}),
        )
        .await;
    assert_eq!(all.len(), 13);
    for (field, key, values) in [
        (
            "stages",
            "stage",
            vec!["RUNNING", "PILOT", "STOPPED", "SELF_SUSTAINING", "IDEA"],
        ),
        (
            "businessModels",
            "businessModel",
            vec![
                "SUBSIDY",
                "MEMBERSHIP",
                "VOLUNTEER",
                "COMMERCIAL",
                "MIXED",
                "FEE",
            ],
        ),
        (
            "affordabilities",
            "affordability",
            vec!["FREE", "LOW_COST", "MARKET_PRICE"],
        ),
        (
            "initiatorKinds",
            "initiatorKind",
            vec![
                "CITIZENS",
                "CITY",
                "ENTREPRENEUR",
                "PARTNERSHIP",
                "SOCIAL_ORGANISATION",
            ],
        ),
    ] {
        for value in &values {
            let got = filtered(&app, "initiatives", json!({ field: [value] })).await;
            assert_eq!(
                got,
                expected(&all, |n| n[key] == *value),
                "{field} = {value}"
            );
        }
        let two = [values[0], values[1]];
        let got = filtered(&app, "initiatives", json!({ field: two })).await;
        assert_eq!(
            got,
            expected(&all, |n| two.contains(&n[key].as_str().unwrap())),
            "{field} any of two"
        );
    }
    // Combined criteria are all required.
    let got = filtered(
        &app,
        "initiatives",
        json!({"stages": ["RUNNING"], "affordabilities": ["FREE"]}),
    )
    .await;
    assert_eq!(
        got,
        expected(&all, |n| n["stage"] == "RUNNING"
            && n["affordability"] == "FREE")
    );

    let reply = app
        .graphql(
            r#"{ municipalities(first: 10) { nodes { id name(locale: "en") } }
                 programmes { nodes { id name(locale: "en") } }
                 themes(first: 100) { nodes { id code } }
                 areas { nodes { id name(locale: "en") kind } } }"#,
            json!({}),
        )
        .await;
    let data = reply.ok();
    let id_of = |list: &str, key: &str, value: &str| -> String {
        data[list]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n[key].as_str().unwrap().starts_with(value))
            .unwrap_or_else(|| panic!("no {list} {value}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mechelen = id_of("municipalities", "name", "Mechelen");
    let stroom = id_of("programmes", "name", "Stroom");
    let got = filtered(&app, "initiatives", json!({"municipalities": [mechelen]})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["municipality"]["id"] == mechelen.as_str())
    );
    let got = filtered(&app, "initiatives", json!({"programmes": [stroom]})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["programme"]["id"] == stroom.as_str())
    );
    assert_eq!(got.len(), 5);

    // A theme filter includes narrower themes: `materials` covers `repair` and `reuse`.
    let materials = id_of("themes", "code", "materials");
    let got = filtered(&app, "initiatives", json!({"themes": [materials]})).await;
    let narrower = ["materials", "repair", "reuse", "remanufacturing"];
    assert_eq!(
        got,
        expected(&all, |n| n["themes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| narrower.contains(&t["code"].as_str().unwrap())))
    );
    // An area filter includes the street clusters inside the neighbourhood.
    let neighbourhood = id_of("areas", "name", "Bethaniënpolder");
    let area_ids: Vec<String> = data["areas"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let got = filtered(&app, "initiatives", json!({"areas": [neighbourhood]})).await;
    let in_area = expected(&all, |n| {
        n["areas"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| area_ids.contains(&a["id"].as_str().unwrap().to_owned()))
    });
    assert_eq!(got, in_area);
    assert!(
        got.len()
            > expected(&all, |n| n["areas"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == neighbourhood.as_str()))
            .len()
    );

    let some_need = all
        .iter()
        .find_map(|n| {
            n["needs"]["nodes"]
                .as_array()
                .unwrap()
                .first()
                .map(|x| x["id"].as_str().unwrap().to_owned())
        })
        .unwrap();
    let got = filtered(&app, "initiatives", json!({"needs": [some_need]})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["needs"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == some_need.as_str()))
    );

    let got = filtered(
        &app,
        "initiatives",
        json!({"started": {"from": "2019-05-01", "to": "2020-12-31"}}),
    )
    .await;
    assert_eq!(
        got,
        expected(&all, |n| n["startDate"]
            .as_str()
            .is_some_and(|d| ("2019-05-01"..="2020-12-31").contains(&d)))
    );

    // Search ignores case and accents and looks in every language.
    let got = filtered(&app, "initiatives", json!({"search": "KLUSBIB"})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["name"].as_str().unwrap().contains("Klusbib"))
    );
    let got = filtered(&app, "initiatives", json!({"search": "oesterzwammen"})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["name"].as_str().unwrap().contains("Oyster"))
    );
    let got = filtered(
        &app,
        "initiatives",
        json!({"search": "bibliothèque d'outils"}),
    )
    .await;
    assert_eq!(got.len(), 1);
    let got = filtered(&app, "initiatives", json!({"search": "100%_"})).await;
    assert!(got.is_empty(), "LIKE wildcards are matched literally");

    let got = filtered(
        &app,
        "initiatives",
        json!({"provenances": ["ILLUSTRATIVE"]}),
    )
    .await;
    assert_eq!(got.len(), 5);
    let got = filtered(
        &app,
        "initiatives",
        json!({"updatedSince": "2000-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(got.len(), 13);
    let got = filtered(
        &app,
        "initiatives",
        json!({"updatedSince": "2999-01-01T00:00:00Z"}),
    )
    .await;
    assert!(got.is_empty());
}

#[tokio::test]
async fn need_filters_select_what_they_say() {
    let app = spawn_app().await;
    let all = app
        .all_nodes(
            "needs",
            "id status source recordedOn residentsCount targetGroups theme { id code } area { id parent { id } } programme { id } municipality { id } title(locale: \"nl\")",
            json!({}),
        )
        .await;
    assert_eq!(all.len(), 16);
    for (field, key, values) in [
        (
            "statuses",
            "status",
            vec!["OPEN", "BEING_ADDRESSED", "ADDRESSED", "ARCHIVED"],
        ),
        (
            "sources",
            "source",
            vec![
                "WORKSHOP",
                "DOOR_TO_DOOR",
                "SURVEY",
                "KEY_FIGURE",
                "SOCIAL_ORGANISATION",
                "OTHER",
            ],
        ),
    ] {
        for value in values {
            let got = filtered(&app, "needs", json!({ field: [value] })).await;
            assert_eq!(
                got,
                expected(&all, |n| n[key] == value),
                "{field} = {value}"
            );
        }
    }
    for group in [
        "FAMILIES",
        "ELDERLY",
        "NEWCOMERS",
        "YOUNG_PEOPLE",
        "VULNERABLE_SITUATIONS",
        "ALL_RESIDENTS",
    ] {
        let got = filtered(&app, "needs", json!({"targetGroups": [group]})).await;
        assert_eq!(
            got,
            expected(&all, |n| has(&n["targetGroups"], group)),
            "target group {group}"
        );
    }
    let theme = all[0]["theme"]["id"].as_str().unwrap().to_owned();
    let got = filtered(&app, "needs", json!({"themes": [theme]})).await;
    assert_eq!(got, expected(&all, |n| n["theme"]["id"] == theme.as_str()));
    // An area covers the street clusters inside it.
    for need in &all {
        let area = need["area"]["id"].as_str().unwrap().to_owned();
        let got = filtered(&app, "needs", json!({"areas": [area]})).await;
        assert_eq!(
            got,
            expected(&all, |n| n["area"]["id"] == area.as_str()
                || n["area"]["parent"]["id"] == area.as_str())
        );
    }
    let programme = all[0]["programme"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        filtered(&app, "needs", json!({"programmes": [programme]}))
            .await
            .len(),
        16
    );
    let municipality = all[0]["municipality"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        filtered(&app, "needs", json!({"municipalities": [municipality]}))
            .await
            .len(),
        16
    );
    let got = filtered(&app, "needs", json!({"recorded": {"from": "2019-01-01"}})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["recordedOn"].as_str().unwrap() >= "2019-01-01")
    );
    let got = filtered(&app, "needs", json!({"recorded": {"to": "2018-11-30"}})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["recordedOn"].as_str().unwrap() <= "2018-11-30")
    );
    let got = filtered(&app, "needs", json!({"search": "gereedschap"})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("gereedschap"))
    );

    // Orderings, checked against a sort in Rust.
    let ordered = app
        .graphql(
            r#"{ needs(first: 100, orderBy: {field: RESIDENTS_COUNT, direction: DESC}) { nodes { residentsCount } }
                 recorded: needs(first: 100, orderBy: {field: RECORDED_ON}) { nodes { recordedOn } }
                 byDefault: needs(first: 100) { nodes { recordedOn } } }"#,
            json!({}),
        )
        .await;
    let data = ordered.ok();
    let counts: Vec<i64> = data["needs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["residentsCount"].as_i64().unwrap())
        .collect();
    let mut sorted = counts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(counts, sorted);
    let dates: Vec<&str> = data["recorded"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["recordedOn"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
    let newest_first: Vec<&str> = data["byDefault"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["recordedOn"].as_str().unwrap())
        .collect();
    sorted.reverse();
    assert_eq!(newest_first, sorted);
}

#[tokio::test]
async fn the_other_lists_filter_too() {
    let app = spawn_app().await;
    // Municipalities by country.
    let all = app
        .all_nodes("municipalities", "id country", json!({}))
        .await;
    let got = filtered(&app, "municipalities", json!({"countries": ["fr"]})).await;
    assert_eq!(got, expected(&all, |n| n["country"] == "FR"));
    assert_eq!(got.len(), 2);

    // Organisations by kind, country, parent and text.
    let all = app
        .all_nodes(
            "organisations",
            "id kind country parent { id } name(locale: \"nl\")",
            json!({}),
        )
        .await;
    let got = filtered(&app, "organisations", json!({"kinds": ["CITY_DEPARTMENT"]})).await;
    assert_eq!(got, expected(&all, |n| n["kind"] == "CITY_DEPARTMENT"));
    assert_eq!(got.len(), 6);
    let got = filtered(&app, "organisations", json!({"countries": ["FI"]})).await;
    assert_eq!(got, expected(&all, |n| n["country"] == "FI"));
    let city = all.iter().find(|o| o["kind"] == "CITY").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = filtered(&app, "organisations", json!({"within": [city]})).await;
    assert_eq!(got, expected(&all, |n| n["parent"]["id"] == city.as_str()));
    let got = filtered(&app, "organisations", json!({"search": "paijat-hame"})).await;
    assert_eq!(got.len(), 1);

    // Areas by kind and nesting.
    let all = app
        .all_nodes("areas", "id kind parent { id }", json!({}))
        .await;
    let got = filtered(&app, "areas", json!({"kinds": ["STREET_CLUSTER"]})).await;
    assert_eq!(got, expected(&all, |n| n["kind"] == "STREET_CLUSTER"));
    let got = filtered(&app, "areas", json!({"topLevel": true})).await;
    assert_eq!(got, expected(&all, |n| n["parent"].is_null()));
    let top = all.iter().find(|n| n["parent"].is_null()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = filtered(&app, "areas", json!({"within": [top]})).await;
    assert_eq!(got, expected(&all, |n| n["parent"]["id"] == top.as_str()));

    // Themes by code and nesting.
    let all = app
        .all_nodes("themes", "id code parent { id code }", json!({}))
        .await;
    let got = filtered(&app, "themes", json!({"codes": ["water", "energy"]})).await;
    assert_eq!(got.len(), 2);
    let got = filtered(&app, "themes", json!({"topLevel": false})).await;
    assert_eq!(got, expected(&all, |n| !n["parent"].is_null()));

    // Indicators by unit.
    let all = app.all_nodes("indicators", "id unit code", json!({})).await;
    let got = filtered(&app, "indicators", json!({"units": ["ITEMS"]})).await;
    assert_eq!(got, expected(&all, |n| n["unit"] == "ITEMS"));

    // Outcomes by indicator, initiative, period overlap and verification.
    let all = app
        .all_nodes(
            "outcomes",
            "id periodStart periodEnd verified indicator { id } initiative { id } programme { id }",
            json!({}),
        )
        .await;
    let indicator = all[0]["indicator"]["id"].as_str().unwrap().to_owned();
    let got = filtered(&app, "outcomes", json!({"indicators": [indicator]})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["indicator"]["id"] == indicator.as_str())
    );
    let got = filtered(
        &app,
        "outcomes",
        json!({"period": {"from": "2021-01-15", "to": "2021-02-15"}}),
    )
    .await;
    assert_eq!(
        got,
        expected(&all, |n| n["periodEnd"].as_str().unwrap() >= "2021-01-15"
            && n["periodStart"].as_str().unwrap() <= "2021-02-15")
    );
    let got = filtered(&app, "outcomes", json!({"verified": true})).await;
    assert_eq!(got, expected(&all, |n| n["verified"] == true));
    assert_eq!(got.len(), 2);
    let initiative = all
        .iter()
        .find_map(|n| n["initiative"]["id"].as_str())
        .unwrap()
        .to_owned();
    let got = filtered(&app, "outcomes", json!({"initiatives": [initiative]})).await;
    assert_eq!(
        got,
        expected(&all, |n| n["initiative"]["id"] == initiative.as_str())
    );

    // Learnings by kind and text.
    let all = app.all_nodes("learnings", "id kind", json!({})).await;
    let got = filtered(&app, "learnings", json!({"kinds": ["PITFALL"]})).await;
    assert_eq!(got, expected(&all, |n| n["kind"] == "PITFALL"));
    assert_eq!(got.len(), 4);
    let got = filtered(&app, "learnings", json!({"search": "JARGON"})).await;
    assert_eq!(got.len(), 1);

    // Programmes running on a day.
    let got = filtered(&app, "programmes", json!({"activeOn": "2024-01-01"})).await;
    assert_eq!(got.len(), 1);
    let got = filtered(&app, "programmes", json!({"activeOn": "2020-01-01"})).await;
    assert_eq!(got.len(), 2);
}

#[tokio::test]
async fn archived_records_are_hidden_unless_asked_for() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let before = app
        .all_nodes("initiatives", "id name(locale: \"en\")", json!({}))
        .await;
    let target = before.iter().find(|n| n["name"] == "Makerspace").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_string(
            backend,
            "UPDATE initiative SET archived_at = updated_at WHERE search_text LIKE '%makerspace%'"
                .to_owned(),
        ))
        .await
        .unwrap();
    let visible = filtered(&app, "initiatives", json!({})).await;
    assert_eq!(visible.len(), before.len() - 1);
    assert!(!visible.contains(&target));
    let with_archived = filtered(&app, "initiatives", json!({"includeArchived": true})).await;
    assert!(with_archived.contains(&target));
    let node = app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Initiative { archived archivedAt } } }",
            json!({"id": target}),
        )
        .await;
    assert_eq!(node.ok()["node"]["archived"], true);
    let nested = app
        .graphql(
            "{ themes(first: 100) { nodes { initiatives(first: 100) { nodes { id } } } } }",
            json!({}),
        )
        .await;
    let data = nested.ok();
    for theme in data["themes"]["nodes"].as_array().unwrap() {
        assert!(
            !ids_in(&theme["initiatives"]).contains(&target),
            "nested lists hide archived records"
        );
    }
}

#[tokio::test]
async fn an_empty_list_in_any_filter_selects_nothing_on_every_list() {
    let app = spawn_app().await;
    let admin = app.admin_key().await;
    // Every list criterion of every filter input, read from the schema itself.
    let schema = app
        .graphql(
            "{ __schema { queryType { fields { name type { kind name ofType { name } } args { name type { name } } } } } }",
            json!({}),
        )
        .await;
    let fields = schema.ok()["__schema"]["queryType"]["fields"]
        .as_array()
        .unwrap()
        .clone();
    let mut checked = 0;
    for field in fields {
        let name = field["name"].as_str().unwrap();
        let returns = field["type"]["ofType"]["name"].as_str().unwrap_or_default();
        let Some(filter) = field["args"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "filter")
            .and_then(|a| a["type"]["name"].as_str())
        else {
            continue;
        };
        if !returns.ends_with("Connection") {
            continue;
        }
        let input = app
            .graphql(
                "query($t: String!) { __type(name: $t) { inputFields { name type { kind ofType { kind } } } } }",
                json!({"t": filter}),
            )
            .await;
        for criterion in input.ok()["__type"]["inputFields"].as_array().unwrap() {
            let is_list = criterion["type"]["kind"] == "LIST"
                || criterion["type"]["ofType"]["kind"] == "LIST";
            if !is_list {
                continue;
            }
            let criterion = criterion["name"].as_str().unwrap();
            let reply = app
                .graphql_as(
                    &admin,
                    &format!("query($f: {filter}) {{ {name}(filter: $f) {{ totalCount nodes {{ __typename }} }} }}"),
                    json!({"f": {criterion: []}}),
                )
                .await;
            let data = reply.ok();
            assert_eq!(
                data[name]["totalCount"], 0,
                "{name}(filter: {{{criterion}: []}}) selects nothing"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} list criteria checked");
}
