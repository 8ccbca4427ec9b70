//! The demo data carries every fact of the Stroom case.
use serde_json::json;

use crate::helpers::{spawn_app, strings};

#[tokio::test]
async fn the_stroom_programme_carries_the_case_facts() {
    let app = spawn_app().await;
    let reply = app
        .graphql(
            r#"{ programmes(filter: {search: "stroom"}) { nodes {
                name
                municipality { name country }
                startDate
                budget { minimum maximum currency }
                nl: fundingChannel(locale: "nl") en: fundingChannel(locale: "en")
                staffing(locale: "en") staffingFte
                summary(locale: "en") summaryNl: summary(locale: "nl")
                themes { nodes { code label(locale: "nl") } }
                coordinatingDepartment { name(locale: "nl") description(locale: "en") }
                steering: partners(roles: [STEERING_GROUP]) { totalCount nodes { organisation { name(locale: "nl") kind } } }
                funders: partners(roles: [FUNDER]) { nodes { note(locale: "en") organisation { name(locale: "nl") } } }
                designers: partners(roles: [CO_DESIGNER]) { nodes { note(locale: "en") organisation { name description(locale: "en") } } }
                spread: partners(roles: [DISSEMINATION]) { nodes { note(locale: "en") organisation { name kind } } }
                learnings(first: 20) { totalCount }
                provenance
            } } }"#,
            json!({}),
        )
        .await;
    let programmes = reply.ok()["programmes"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let stroom = programmes
        .iter()
        .find(|p| p["name"] == "Stroom")
        .expect("the Stroom programme");
    assert_eq!(
        stroom["municipality"],
        json!({"name": "Mechelen", "country": "BE"})
    );
    assert_eq!(stroom["startDate"], "2018-01-01");
    assert_eq!(
        stroom["budget"],
        json!({"minimum": "50000", "maximum": "250000", "currency": "EUR"})
    );
    assert_eq!(stroom["nl"], "Vlaamse subsidies");
    assert_eq!(stroom["en"], "Flemish subsidies");
    assert_eq!(stroom["staffing"], "One half-time worker");
    assert_eq!(stroom["staffingFte"], "0.5");
    assert_eq!(stroom["provenance"], "CASE_STUDY");
    let summary = stroom["summary"].as_str().unwrap();
    for fact in [
        "Bethaniënpolder-Auwegemvaart",
        "1,250 households",
        "2018-2019",
        "socio-economically and culturally diverse",
        "Studio Dott",
        "Stroom CEnario",
        "Project Stroom",
        "50% fewer new raw materials by 2030",
        "fully circular by 2050",
        "CECI",
    ] {
        assert!(summary.contains(fact), "summary lacks {fact}");
    }
    assert!(
        stroom["summaryNl"]
            .as_str()
            .unwrap()
            .contains("buurtactieonderzoek")
    );
    let mut themes = strings(&json!(
        stroom["themes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["label"].clone())
            .collect::<Vec<_>>()
    ));
    themes.sort();
    assert_eq!(
        themes,
        ["Energie", "Materialen", "Textiel", "Voedselbeleid", "Water"]
    );
    assert_eq!(
        stroom["coordinatingDepartment"]["name"],
        "Strategie en Ontwikkeling"
    );
    assert!(
        stroom["coordinatingDepartment"]["description"]
            .as_str()
            .unwrap()
            .contains("smart city")
    );
    assert_eq!(stroom["steering"]["totalCount"], 5);
    let mut departments: Vec<String> = stroom["steering"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["organisation"]["name"].as_str().unwrap().to_owned())
        .collect();
    departments.sort();
    assert_eq!(
        departments,
        [
            "Duurzaamheid",
            "Economie",
            "Marketing en Communicatie",
            "Mobiliteit",
            "Sociaal Beleid"
        ]
    );
    let funder = &stroom["funders"]["nodes"][0];
    assert_eq!(funder["organisation"]["name"], "Vlaanderen Circulair");
    assert!(
        funder["note"]
            .as_str()
            .unwrap()
            .contains("interim consultation")
    );
    let designer = &stroom["designers"]["nodes"][0];
    assert_eq!(designer["organisation"]["name"], "Studio Dott");
    assert!(
        designer["organisation"]["description"]
            .as_str()
            .unwrap()
            .contains("service design")
    );
    let note = designer["note"].as_str().unwrap();
    assert!(note.contains("work packages 2 and 3"));
    for domain in [
        "food",
        "clothing",
        "materials",
        "waste",
        "mobility",
        "leisure and recreation",
        "water and energy",
        "greenery",
    ] {
        assert!(note.contains(domain), "Studio Dott's note lacks {domain}");
    }
    let spread = &stroom["spread"]["nodes"][0];
    assert_eq!(spread["organisation"]["kind"], "EU_PROJECT");
    assert!(
        spread["note"]
            .as_str()
            .unwrap()
            .contains("cities and municipalities in Flanders")
    );
    assert_eq!(stroom["learnings"]["totalCount"], 13);
}

#[tokio::test]
async fn the_neighbourhood_has_its_households_and_street_clusters() {
    let app = spawn_app().await;
    let reply = app
        .graphql(
            r#"{ areas(filter: {search: "bethanienpolder"}) { nodes {
                name kind households provenance municipality { name }
                children { totalCount nodes { kind provenance households } }
            } } }"#,
            json!({}),
        )
        .await;
    let area = &reply.ok()["areas"]["nodes"][0];
    assert_eq!(area["name"], "Bethaniënpolder-Auwegemvaart");
    assert_eq!(area["kind"], "NEIGHBOURHOOD");
    assert_eq!(area["households"], 1250);
    assert_eq!(area["provenance"], "CASE_STUDY");
    assert_eq!(area["municipality"]["name"], "Mechelen");
    assert_eq!(area["children"]["totalCount"], 3);
    for cluster in area["children"]["nodes"].as_array().unwrap() {
        assert_eq!(cluster["kind"], "STREET_CLUSTER");
        assert_eq!(cluster["provenance"], "ILLUSTRATIVE");
    }
}

#[tokio::test]
async fn the_thirteen_learnings_are_there_with_their_kinds_in_four_languages_and_their_origins() {
    let app = spawn_app().await;
    let reply = app
        .graphql(
            r#"{ programmes(filter: {search: "stroom"}) { nodes { name learnings(first: 20) { nodes {
                kind position nl: body(locale: "nl") en: body(locale: "en") titleTranslations { locale origin } bodyTranslations { locale origin }
            } } } } }"#,
            json!({}),
        )
        .await;
    let data = reply.ok();
    let stroom = data["programmes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Stroom")
        .unwrap();
    let learnings = stroom["learnings"]["nodes"].as_array().unwrap();
    assert_eq!(learnings.len(), 13);
    let kinds: Vec<&str> = learnings
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "SUCCESS_FACTOR").count(), 4);
    assert_eq!(kinds.iter().filter(|k| **k == "PITFALL").count(), 4);
    assert_eq!(kinds.iter().filter(|k| **k == "CHALLENGE").count(), 5);
    let positions: Vec<i64> = learnings
        .iter()
        .map(|l| l["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, (1..=13).collect::<Vec<_>>());
    // Dutch is the original, the English the case's own fact sheet (a human translation),
    // French and German are machine translations, and each says so.
    for learning in learnings {
        for field in ["titleTranslations", "bodyTranslations"] {
            let origins: Vec<(String, String)> = learning[field]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["locale"].as_str().unwrap().to_owned(),
                        t["origin"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(
                origins,
                [
                    ("de".to_owned(), "MACHINE".to_owned()),
                    ("en".to_owned(), "HUMAN".to_owned()),
                    ("fr".to_owned(), "MACHINE".to_owned()),
                    ("nl".to_owned(), "ORIGINAL".to_owned()),
                ],
                "{field} of {}",
                learning["position"]
            );
        }
    }
    let english: Vec<&str> = learnings
        .iter()
        .map(|l| l["en"].as_str().unwrap())
        .collect();
    for fact in [
        "voice of people a participation process does not usually reach",
        "social organisations and key figures",
        "one solution fits all",
        "Avoiding jargon",
        "Wanting to go too fast",
        "takes time",
        "1,250 households",
        "per street or per few streets",
        "Affordable, low-threshold",
        "limited staff",
        "lives on after the subsidy stops",
        "after the project (and its funds) end",
        "regular operations",
    ] {
        assert!(
            english.iter().any(|b| b.contains(fact)),
            "no learning says {fact}"
        );
    }
    assert!(
        learnings[10]["nl"]
            .as_str()
            .unwrap()
            .contains("zelfbedruipend")
    );
}

#[tokio::test]
async fn the_ceci_project_has_its_eight_partners_in_six_countries() {
    let app = spawn_app().await;
    let reply = app
        .graphql(
            r#"{ programmes(filter: {search: "ceci"}) { nodes {
                name(locale: "en") startDate endDate budget { minimum } summary(locale: "en") municipality { name }
                partners(first: 20) { totalCount nodes { role organisation { name(locale: "en") country city } } }
                themes(first: 20) { nodes { code } }
                outcomes { nodes { value periodStart periodEnd verified indicator { code } } }
            } } }"#,
            json!({}),
        )
        .await;
    let data = reply.ok();
    let ceci = data["programmes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str().unwrap().starts_with("CECI"))
        .expect("the CECI programme");
    assert_eq!(ceci["startDate"], "2019-08-01");
    assert_eq!(ceci["endDate"], "2023-07-31");
    assert_eq!(ceci["budget"]["minimum"], "1510000");
    assert_eq!(ceci["municipality"], json!(null));
    assert_eq!(ceci["partners"]["totalCount"], 8);
    let partners = ceci["partners"]["nodes"].as_array().unwrap();
    let lead: Vec<&serde_json::Value> = partners
        .iter()
        .filter(|p| p["role"] == "LEAD_PARTNER")
        .collect();
    assert_eq!(lead.len(), 1);
    assert_eq!(
        lead[0]["organisation"]["name"],
        "LAB University of Applied Sciences"
    );
    let mut countries: Vec<&str> = partners
        .iter()
        .map(|p| p["organisation"]["country"].as_str().unwrap())
        .collect();
    countries.sort();
    countries.dedup();
    assert_eq!(countries, ["BE", "BG", "CZ", "ES", "FI", "FR"]);
    for (name, city) in [
        ("Päijät-Häme Regional Council", "Lahti"),
        ("Provence-Alpes-Côte d'Azur Region", "Marseille"),
        ("Varna Business Agency", "Varna"),
        ("makesense", "Paris"),
        ("Moravian-Silesian Innovation Centre Ostrava", "Ostrava"),
        (
            "Government of Aragón, DG Climate Change and Environmental Education",
            "Zaragoza",
        ),
        ("City of Mechelen", "Mechelen"),
    ] {
        assert!(
            partners
                .iter()
                .any(|p| p["organisation"]["name"] == name && p["organisation"]["city"] == city),
            "no partner {name} in {city}"
        );
    }
    let summary = ceci["summary"].as_str().unwrap();
    for fact in [
        "2–3 June 2021",
        "24 November 2021",
        "Impact Factory",
        "about 50 participants from 6 countries",
        "library of things",
        "action plan",
        "4th call",
    ] {
        assert!(summary.contains(fact), "CECI summary lacks {fact}");
    }
    let themes = ceci["themes"]["nodes"].as_array().unwrap();
    assert_eq!(themes.len(), 7);
    let outcomes = ceci["outcomes"]["nodes"].as_array().unwrap();
    assert!(
        outcomes
            .iter()
            .any(|o| o["indicator"]["code"] == "participants"
                && o["value"] == "50"
                && o["periodStart"] == "2021-11-24"
                && o["verified"] == true)
    );
}

#[tokio::test]
async fn mechelen_initiatives_from_public_pages_are_there_and_illustrative_ones_say_so() {
    let app = spawn_app().await;
    let initiatives = app
        .all_nodes(
            "initiatives",
            "name(locale: \"en\") description(locale: \"en\") provenance businessModel affordability stage",
            json!({}),
        )
        .await;
    let find = |name: &str| {
        initiatives
            .iter()
            .find(|i| i["name"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("no initiative {name}"))
    };
    let klusbib = find("Klusbib");
    assert_eq!(klusbib["businessModel"], "MEMBERSHIP");
    let description = klusbib["description"].as_str().unwrap();
    for fact in ["€30 the first year", "€20 after", "5 tools for 2 weeks"] {
        assert!(description.contains(fact), "Klusbib lacks {fact}");
    }
    assert!(
        find("Deel-IT")["description"]
            .as_str()
            .unwrap()
            .contains("laptops")
    );
    assert!(
        find("Seed library")["description"]
            .as_str()
            .unwrap()
            .contains("100 varieties")
    );
    assert!(
        find("Oyster mushrooms")["description"]
            .as_str()
            .unwrap()
            .contains("coffee grounds")
    );
    find("Makerspace");
    find("building materials");
    assert!(
        find("Impact Factory")["description"]
            .as_str()
            .unwrap()
            .contains("150–200 workplaces")
    );
    for initiative in &initiatives {
        let name = initiative["name"].as_str().unwrap();
        if initiative["provenance"] == "ILLUSTRATIVE" {
            assert!(
                name.contains("illustrative"),
                "{name} is illustrative but does not say so"
            );
        }
    }
    // The case's point: initiatives living on subsidy alone stop when it stops.
    assert!(
        initiatives
            .iter()
            .any(|i| i["businessModel"] == "SUBSIDY" && i["stage"] == "STOPPED")
    );

    let outcomes = app
        .all_nodes(
            "outcomes",
            "provenance method(locale: \"en\") verified",
            json!({}),
        )
        .await;
    assert!(outcomes.len() > 100);
    for outcome in outcomes {
        if outcome["provenance"] == "ILLUSTRATIVE" {
            assert!(
                outcome["method"]
                    .as_str()
                    .unwrap()
                    .contains("not a measurement")
            );
            assert_eq!(outcome["verified"], false);
        }
    }
}

#[tokio::test]
async fn the_needs_cover_the_eight_domains_of_the_needs_mapping() {
    let app = spawn_app().await;
    let needs = app
        .all_nodes(
            "needs",
            "provenance theme { code } targetGroups area { name(locale: \"en\") }",
            json!({}),
        )
        .await;
    let mut domains: Vec<String> = needs
        .iter()
        .map(|n| n["theme"]["code"].as_str().unwrap().to_owned())
        .collect();
    domains.sort();
    domains.dedup();
    assert_eq!(
        domains,
        [
            "clothing",
            "food",
            "greenery",
            "leisure",
            "materials",
            "mobility",
            "waste",
            "water_energy"
        ]
    );
    assert!(needs.iter().all(|n| n["provenance"] == "ILLUSTRATIVE"));
    assert!(
        needs
            .iter()
            .all(|n| !n["targetGroups"].as_array().unwrap().is_empty())
    );
}

#[tokio::test]
async fn the_demo_is_not_loaded_twice_and_never_overwrites_data() {
    let app = spawn_app().await;
    let before = app
        .graphql("{ initiatives { totalCount } }", json!({}))
        .await;
    let loaded = stroom_seed::demo::load_if_empty(&app.db).await.unwrap();
    assert!(!loaded);
    let after = app
        .graphql("{ initiatives { totalCount } }", json!({}))
        .await;
    assert_eq!(before.ok(), after.ok());
}
