//! Search across everything in every language, ranked, highlighted, in step with every write,
//! and private where it must be.
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const SEARCH: &str = r#"query($q: String!, $types: [SearchType!], $locale: String, $first: Int, $after: String) {
  search(query: $q, types: $types, locale: $locale, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    nodes { type score locale title snippet id node { __typename ... on Initiative { name(locale: "en") } ... on Learning { kind } } }
  }
}"#;

async fn search(app: &TestApp, query: &str, extra: Value) -> Value {
    let mut variables = json!({"q": query});
    for (k, v) in extra.as_object().unwrap() {
        variables[k] = v.clone();
    }
    app.graphql(SEARCH, variables).await.ok()["search"].clone()
}

fn titles(result: &Value) -> Vec<String> {
    result["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["title"]
                .as_str()
                .unwrap()
                .replace("<mark>", "")
                .replace("</mark>", "")
        })
        .collect()
}

#[tokio::test]
async fn accents_case_and_languages_do_not_matter() {
    let app = spawn_app().await;
    // "bethanienpolder" finds "Bethaniënpolder".
    let found = search(&app, "bethanienpolder", json!({})).await;
    assert!(found["totalCount"].as_i64().unwrap() >= 3);
    let types: Vec<&str> = found["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"PROGRAMME") && types.contains(&"INITIATIVE"),
        "{types:?}"
    );
    assert!(
        found["nodes"][0]["title"]
            .as_str()
            .unwrap()
            .contains("<mark>Bethaniënpolder</mark>")
            || found["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["snippet"]
                    .as_str()
                    .unwrap()
                    .contains("<mark>Bethaniënpolder"))
    );
    assert_eq!(
        search(&app, "BETHANIËNPOLDER", json!({})).await["totalCount"],
        found["totalCount"]
    );

    // Dutch: a word finds longer words it starts ("gereedschap" → "Gereedschapsbibliotheek").
    let dutch = search(&app, "gereedschap", json!({"locale": "nl"})).await;
    let dutch_titles = titles(&dutch);
    assert!(
        dutch_titles.iter().any(|t| t == "Klusbib"),
        "{dutch_titles:?}"
    );
    assert!(
        dutch_titles.iter().any(|t| t.contains("Gereedschap lenen")),
        "{dutch_titles:?}"
    );
    // English: the name is the best match.
    let english = search(&app, "tool library", json!({"locale": "en"})).await;
    assert_eq!(titles(&english)[0], "Klusbib tool library");
    assert_eq!(english["nodes"][0]["locale"], "en");
    // French, without its accents.
    let french = search(&app, "bibliotheque outils", json!({"locale": "fr"})).await;
    assert_eq!(titles(&french)[0], "Klusbib, bibliothèque d'outils");
    assert_eq!(
        french["nodes"][0]["title"],
        "Klusbib, <mark>bibliothèque</mark> d'<mark>outils</mark>"
    );
    // Every word must match.
    assert_eq!(
        search(&app, "klusbib zzzzzz", json!({})).await["totalCount"],
        0
    );
    // A title match outranks a mention in a text.
    let ranked = search(&app, "klusbib", json!({})).await;
    assert_eq!(ranked["nodes"][0]["type"], "INITIATIVE");
    let scores: Vec<f64> = ranked["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        titles(&ranked).iter().any(|t| t == "Deelbaar Mechelen"),
        "the organisation mentions Klusbib in its description"
    );
}

#[tokio::test]
async fn a_partner_city_finds_learnings_in_its_own_language_and_pages_through() {
    let app = spawn_app().await;
    let found = search(
        &app,
        "jargon",
        json!({"types": ["LEARNING"], "locale": "nl"}),
    )
    .await;
    assert_eq!(found["totalCount"], 1);
    assert_eq!(found["nodes"][0]["title"], "<mark>Jargon</mark> vermijden");
    assert_eq!(found["nodes"][0]["node"]["kind"], "SUCCESS_FACTOR");
    let english = search(
        &app,
        "jargon",
        json!({"types": ["LEARNING"], "locale": "en"}),
    )
    .await;
    assert_eq!(english["nodes"][0]["title"], "Avoid <mark>jargon</mark>");
    // Paging: two at a time until the end, nothing twice.
    let mut seen: Vec<String> = Vec::new();
    let mut after = Value::Null;
    let total = search(&app, "the", json!({"locale": "en"})).await["totalCount"]
        .as_i64()
        .unwrap();
    loop {
        let page = search(
            &app,
            "the",
            json!({"locale": "en", "first": 2, "after": after}),
        )
        .await;
        for node in page["nodes"].as_array().unwrap() {
            let id = node["id"].as_str().unwrap().to_owned();
            assert!(!seen.contains(&id));
            seen.push(id);
        }
        if page["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len() as i64, total);
    let bad = app.graphql(SEARCH, json!({"q": "   ", })).await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn search_keeps_in_step_with_writes_and_privacy() {
    let app = spawn_app().await;
    // Partner-only learnings are found with a partner key only.
    assert_eq!(
        search(&app, "volunteers street", json!({"types": ["LEARNING"]})).await["totalCount"],
        0
    );
    let partner = app.partner_key().await;
    let as_partner = app
        .graphql_as(
            &partner,
            SEARCH,
            json!({"q": "volunteers street", "types": ["LEARNING"]}),
        )
        .await;
    assert_eq!(as_partner.ok()["search"]["totalCount"], 1);

    let editor = app.editor_key("Search editor", "Mechelen").await;
    let mechelen = app
        .graphql(
            r#"{ municipalities(filter: {countries: ["BE"]}) { nodes { id } } }"#,
            json!({}),
        )
        .await
        .ok()["municipalities"]["nodes"][0]["id"]
        .clone();
    let created = app
        .graphql_as(&editor, r#"mutation($m: ID!) { createInitiative(input: {municipality: $m, name: [{locale: "nl", text: "Speelgoedbieb Nekkerspoel"}], initiatorKind: CITIZENS, stage: IDEA, businessModel: VOLUNTEER, affordability: FREE}) { initiative { id version } } }"#, json!({"m": mechelen}))
        .await;
    let initiative = created.ok()["createInitiative"]["initiative"].clone();
    assert_eq!(
        search(&app, "speelgoedbieb", json!({})).await["totalCount"],
        1,
        "found at once"
    );
    app.graphql_as(&editor, r#"mutation($id: ID!) { updateInitiative(input: {id: $id, version: 1, name: [{locale: "nl", text: "Ludotheek Nekkerspoel"}]}) { initiative { version } } }"#, json!({"id": initiative["id"]}))
        .await
        .ok();
    assert_eq!(
        search(&app, "speelgoedbieb", json!({})).await["totalCount"],
        0,
        "the old name is gone"
    );
    assert_eq!(search(&app, "ludotheek", json!({})).await["totalCount"], 1);
    app.graphql_as(&editor, r#"mutation($id: ID!) { addTranslation(input: {id: $id, version: 2, field: "name", locale: "fr", text: "Ludothèque de Nekkerspoel"}) { userErrors { message } } }"#, json!({"id": initiative["id"]}))
        .await
        .ok();
    assert_eq!(
        search(&app, "ludotheque", json!({"locale": "fr"})).await["nodes"][0]["locale"],
        "fr"
    );
    app.graphql_as(&editor, r#"mutation($id: ID!) { archiveInitiative(input: {id: $id, version: 3}) { initiative { archived } } }"#, json!({"id": initiative["id"]}))
        .await
        .ok();
    assert_eq!(
        search(&app, "ludotheek", json!({})).await["totalCount"],
        0,
        "archived records are not found"
    );
}

/// The IDs of a search's hits, best first.
fn hit_ids(result: &Value) -> Vec<String> {
    result["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn parts_of_words_and_theme_labels_find_records_in_four_languages() {
    let app = spawn_app().await;
    let klusbib = app.find_id("initiatives", "Klusbib").await;
    let repair_cafe = app.find_id("initiatives", "Repair café").await;

    // Dutch compounds: "bibliotheek" is part of "gereedschapsbibliotheek".
    let found = search(&app, "bibliotheek", json!({"locale": "nl"})).await;
    assert!(hit_ids(&found).contains(&klusbib), "{found}");
    // French and German: "outils" is a whole word of the French name, "werkzeug" a part of the
    // German compound "Werkzeugbibliothek" in no text at all: it finds nothing.
    let found = search(&app, "outils", json!({"locale": "fr"})).await;
    assert_eq!(hit_ids(&found).first(), Some(&klusbib), "{found}");
    let found = search(&app, "werkzeug", json!({"locale": "de"})).await;
    assert_eq!(found["totalCount"], 0, "{found}");
    // English: a part of a word ("brary" in "library").
    let found = search(&app, "brary", json!({"locale": "en"})).await;
    assert!(hit_ids(&found).contains(&klusbib), "{found}");

    // Whole-word hits rank above parts of words: "herstel" is a whole word of some texts and a
    // part of "herstelcafé" and "herstellen".
    let found = search(&app, "cafe", json!({"types": ["INITIATIVE"]})).await;
    let scores: Vec<f64> = found["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(hit_ids(&found).first(), Some(&repair_cafe), "{found}");

    // Theme labels, in any language, find the records of that theme (and of its sub-themes),
    // ranked below records whose own text matches.
    for (query, locale) in [
        ("réparation", "fr"),
        ("reparatur", "de"),
        ("herstel", "nl"),
        ("repair", "en"),
    ] {
        let found = search(&app, query, json!({"locale": locale, "first": 50})).await;
        let ids = hit_ids(&found);
        assert!(ids.contains(&repair_cafe), "{query}: {found}");
    }
    // "matériaux" (Materials) reaches the records of its sub-themes too (repair is one).
    let found = search(&app, "materiaux", json!({"locale": "fr", "first": 50})).await;
    assert!(hit_ids(&found).contains(&repair_cafe), "{found}");
    let direct = search(&app, "reparatur", json!({"locale": "de", "first": 50})).await;
    assert!(
        direct["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["score"].as_f64().unwrap() < 1.0),
        "only theme hits: {direct}"
    );

    // A theme's new label finds its records at once (the index follows the theme).
    let admin = app.admin_key().await;
    let theme = app
        .graphql(
            "{ themes(filter: {codes: [\"repair\"]}) { nodes { id version } } }",
            json!({}),
        )
        .await
        .ok()["themes"]["nodes"][0]
        .clone();
    assert_eq!(
        search(&app, "riparazione", json!({})).await["totalCount"],
        0
    );
    let added = app
        .graphql_as(
            &admin,
            "mutation($id: ID!, $v: Int!) { addTranslation(input: {id: $id, version: $v, field: \"label\", locale: \"it\", text: \"Riparazione\"}) { userErrors { message } } }",
            json!({"id": theme["id"], "v": theme["version"]}),
        )
        .await;
    assert_eq!(added.ok()["addTranslation"]["userErrors"], json!([]));
    let found = search(&app, "riparazione", json!({"locale": "it"})).await;
    assert!(hit_ids(&found).contains(&repair_cafe), "{found}");

    // The lists' `filter.search` finds parts of words and theme labels too.
    let listed = app
        .all_nodes("initiatives", "id", json!({"search": "réparation"}))
        .await;
    let listed: Vec<&str> = listed.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert!(listed.contains(&repair_cafe.as_str()), "{listed:?}");
    let listed = app
        .all_nodes("initiatives", "id", json!({"search": "bibliotheek"}))
        .await;
    assert!(listed.iter().any(|n| n["id"] == klusbib.as_str()));
    let needs = app
        .all_nodes("needs", "id title", json!({"search": "Matériaux"}))
        .await;
    assert!(!needs.is_empty(), "needs of the materials theme");
}

/// Every word of the demo's titles (and typos of some), as each database answers it: the
/// number of hits, the hits shown (type, locale, plain title) as a set, and the suggestion.
async fn answers(app: &TestApp, words: &[String]) -> Vec<(String, Value)> {
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        let reply = app
            .graphql(
                "query($q: String!) { search(query: $q, first: 100, locale: \"en\") { totalCount didYouMean nodes { type locale title } } }",
                json!({"q": word}),
            )
            .await;
        let result = &reply.ok()["search"];
        let mut shown: Vec<String> = result["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| format!("{} {} {}", n["type"], n["locale"], n["title"]))
            .collect();
        shown.sort();
        out.push((
            word.clone(),
            json!({"total": result["totalCount"], "didYouMean": result["didYouMean"], "shown": shown}),
        ));
    }
    out
}

/// The words of every title and name of the demo in English and Dutch.
async fn demo_words(app: &TestApp) -> Vec<String> {
    let mut words = std::collections::BTreeSet::new();
    for (list, field) in [
        ("initiatives", "name"),
        ("needs", "title"),
        ("organisations", "name"),
        ("programmes", "name"),
        ("learnings", "title"),
    ] {
        for locale in ["en", "nl"] {
            let nodes = app
                .all_nodes(
                    list,
                    &format!("t: {field}(locale: \"{locale}\")"),
                    json!({}),
                )
                .await;
            for node in nodes {
                let text = node["t"].as_str().unwrap_or_default().to_lowercase();
                for word in text.split(|c: char| !c.is_alphanumeric()) {
                    if word.chars().count() >= 3 {
                        words.insert(word.to_owned());
                    }
                }
            }
        }
    }
    words.into_iter().collect()
}

#[tokio::test]
async fn postgresql_and_sqlite_give_the_same_answers_to_every_word() {
    if crate::helpers::postgres_url().is_none() {
        // Two databases are needed: this runs in the PostgreSQL pass.
        return;
    }
    let postgres = spawn_app().await;
    let sqlite = crate::helpers::spawn_demo_on_sqlite().await;
    let mut words = demo_words(&sqlite).await;
    assert!(words.len() > 100, "{}", words.len());
    words.extend(
        [
            "circulair",
            "biblioteek",
            "repiar",
            "Mechlen",
            "herstel",
            "kringloopwinkle",
        ]
        .map(str::to_owned),
    );
    let (a, b) = (
        answers(&postgres, &words).await,
        answers(&sqlite, &words).await,
    );
    for ((word, on_postgres), (_, on_sqlite)) in a.iter().zip(&b) {
        assert_eq!(on_postgres, on_sqlite, "`{word}`: PostgreSQL, then SQLite");
    }
}

#[tokio::test]
async fn titles_and_snippets_come_in_the_asked_language_whichever_matched() {
    let app = spawn_app().await;
    // "herstel" is Dutch; a record with an English translation shows it when English is asked.
    for (locale, header) in [("en", None), ("en", Some("nl")), ("fr", Some("nl"))] {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .header("accept", crate::helpers::ACCEPT);
        if let Some(header) = header {
            request = request.header("accept-language", header);
        }
        let reply: Value = request
            .json(&json!({"query": "query($l: String) { search(query: \"herstel\", locale: $l, first: 50) { totalCount nodes { locale title node { ... on Initiative { en: name(locale: \"en\") } } } } }", "variables": {"l": locale}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let nodes = reply["data"]["search"]["nodes"].as_array().unwrap();
        assert!(!nodes.is_empty(), "{reply}");
        for node in nodes {
            // The argument wins over Accept-Language; French falls back along the chain, never
            // to the matched Dutch text when an English one exists.
            if let Some(english) = node["node"]["en"].as_str() {
                let shown = node["title"]
                    .as_str()
                    .unwrap()
                    .replace("<mark>", "")
                    .replace("</mark>", "");
                if locale == "en" {
                    assert_eq!(node["locale"], "en", "{node}");
                    assert_eq!(shown, english, "{node}");
                }
            }
        }
    }
}

#[tokio::test]
async fn misspelt_words_find_what_they_meant_with_a_suggestion() {
    let app = spawn_app().await;
    for (typed, meant) in [
        ("repiar", "repair"),
        ("biblioteek", "bibliotheek"),
        ("Mechlen", "mechelen"),
        ("deelbar", "deelbaar"),
        ("repiar cafe", "repair cafe"),
    ] {
        let corrected = search(&app, typed, json!({})).await;
        let intended = search(&app, meant, json!({})).await;
        assert!(intended["totalCount"].as_i64().unwrap() > 0, "{meant}");
        let reply = app
            .graphql(
                "query($q: String!) { search(query: $q) { totalCount didYouMean } }",
                json!({"q": typed}),
            )
            .await;
        assert_eq!(reply.ok()["search"]["didYouMean"], meant, "{typed}");
        assert_eq!(corrected["totalCount"], intended["totalCount"], "{typed}");
    }
    // Words that find something are never corrected; nor is what matches nothing near
    // ("kringloopwinkel" shares a start with "kringloopdenken", but is another word).
    for query in ["repair", "herstel", "zzzzqqq", "kringloopwinkel"] {
        let reply = app
            .graphql(
                "query($q: String!) { search(query: $q) { totalCount didYouMean } }",
                json!({"q": query}),
            )
            .await;
        assert!(reply.ok()["search"]["didYouMean"].is_null(), "{query}");
    }
    // A partner-only learning's words are never suggested to anonymous callers.
    let admin = app.admin_key().await;
    let created = app
        .graphql_as(
            &admin,
            r#"mutation($i: ID!) { createLearning(input: {initiative: $i, kind: SUCCESS_FACTOR, audience: PARTNERS, title: [{locale: "en", text: "Zwoggelmeister confidential"}], body: [{locale: "en", text: "Text"}]}) { userErrors { message } } }"#,
            json!({"i": app.graphql("{ initiatives(first: 1) { nodes { id } } }", json!({})).await.ok()["initiatives"]["nodes"][0]["id"]}),
        )
        .await;
    assert_eq!(created.ok()["createLearning"]["userErrors"], json!([]));
    let anonymous = app
        .graphql(
            "{ search(query: \"zwoggelmiester\") { totalCount didYouMean } }",
            json!({}),
        )
        .await;
    assert!(anonymous.ok()["search"]["didYouMean"].is_null());
    assert_eq!(anonymous.ok()["search"]["totalCount"], 0);
    let partner = app.partner_key().await;
    let seen = app
        .graphql_as(
            &partner,
            "{ search(query: \"zwoggelmiester\") { totalCount didYouMean } }",
            json!({}),
        )
        .await;
    assert_eq!(seen.ok()["search"]["didYouMean"], "zwoggelmeister");
}
