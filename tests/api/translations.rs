//! Partner cities read each other's lessons in their own languages: an editor of any
//! municipality contributes a translation of a learning, never changing the original; every
//! translation says where it comes from, and each response says which language it served.
use serde_json::{Value, json};

use crate::helpers::{ACCEPT, spawn_app};

const TRANSLATE: &str = r#"mutation($input: TranslateLearningInput!) {
  translateLearning(input: $input) {
    learning { version title(locale: "fi") titleLocale(locale: "fi")
      titleTranslations { locale text origin contributor { name(locale: "en") } } }
    userErrors { field message code }
  }
}"#;

#[tokio::test]
async fn an_editor_of_another_city_translates_a_learning_and_the_original_stays() {
    let app = spawn_app().await;
    let lahti = app.editor_key("Lahti editor", "Lahti").await;
    let admin = app.admin_key().await;
    let partner = app.partner_key().await;
    let learning = app.find_id("learnings", "jargon").await;
    let read = |id: &str| {
        let id = id.to_owned();
        let app = &app;
        async move {
            app.graphql(
                "query($id: ID!) { node(id: $id) { ... on Learning { version title(locale: \"nl\") } } }",
                json!({"id": id}),
            )
            .await
            .ok()["node"]
                .clone()
        }
    };
    let before = read(&learning).await;
    let version = before["version"].as_i64().unwrap();
    let input = |locale: &str, text: &str, version: i64, origin: Option<&str>| {
        let mut input = json!({"learning": learning, "version": version, "text": "TITLE",
            "locale": locale, "translation": text});
        if let Some(origin) = origin {
            input["origin"] = json!(origin);
        }
        json!({"input": input})
    };

    // Refused, with nothing changed: the original language, an "original" origin, a stale
    // version, a partner key, no key.
    let fingerprint = app.fingerprint().await;
    let original = app
        .graphql_as(&lahti, TRANSLATE, input("nl", "Geen jargon", version, None))
        .await;
    let error = &original.ok()["translateLearning"]["userErrors"][0];
    assert_eq!(error["field"], json!(["input", "locale"]));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("never replaces the original")
    );
    let as_original = app
        .graphql_as(
            &lahti,
            TRANSLATE,
            input("fi", "Vältä jargonia", version, Some("ORIGINAL")),
        )
        .await;
    assert_eq!(
        as_original.ok()["translateLearning"]["userErrors"][0]["field"],
        json!(["input", "origin"])
    );
    let stale = app
        .graphql_as(
            &lahti,
            TRANSLATE,
            input("fi", "Vältä jargonia", version - 1 + 10, None),
        )
        .await;
    assert_eq!(
        stale.ok()["translateLearning"]["userErrors"][0]["code"],
        "CONFLICT"
    );
    let by_partner = app
        .graphql_as(
            &partner,
            TRANSLATE,
            input("fi", "Vältä jargonia", version, None),
        )
        .await;
    assert_eq!(by_partner.code(), "FORBIDDEN");
    let anonymous = app
        .graphql(TRANSLATE, input("fi", "Vältä jargonia", version, None))
        .await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    assert_eq!(fingerprint, app.fingerprint().await, "nothing changed");

    // Lahti's editor adds Finnish, by a person: the Dutch original is untouched.
    let done = app
        .graphql_as(
            &lahti,
            TRANSLATE,
            input("fi", "Vältä ammattikieltä", version, None),
        )
        .await;
    let payload = &done.ok()["translateLearning"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["learning"]["title"], "Vältä ammattikieltä");
    assert_eq!(payload["learning"]["titleLocale"], "fi");
    let finnish = payload["learning"]["titleTranslations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["locale"] == "fi")
        .unwrap()
        .clone();
    assert_eq!(finnish["origin"], "HUMAN");
    assert_eq!(finnish["contributor"]["name"], "Lahti");
    let after = read(&learning).await;
    assert_eq!(after["title"], before["title"], "the original stays");
    assert_eq!(after["version"], version + 1);

    // It replaces a machine translation, and the learning's municipality sees who did it.
    let french = app
        .graphql_as(
            &lahti,
            TRANSLATE,
            input("fr", "Bannir le jargon", version + 1, Some("HUMAN")),
        )
        .await;
    let translations = french.ok()["translateLearning"]["learning"]["titleTranslations"].clone();
    let french = translations
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["locale"] == "fr")
        .unwrap();
    assert_eq!(french["text"], "Bannir le jargon");
    assert_eq!(french["origin"], "HUMAN");
    let audit = app
        .graphql_as(
            &admin,
            "query($id: ID!) { auditEntries(filter: {subjects: [$id]}) { nodes { actor mutation changes { field } } } }",
            json!({"id": learning}),
        )
        .await;
    let entries = audit.ok()["auditEntries"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["mutation"] == "translateLearning" && e["actor"] == "Lahti editor")
    );
    let mechelen = app.editor_key("Mechelen editor", "Mechelen").await;
    let own_audit = app
        .graphql_as(
            &mechelen,
            "query($id: ID!) { auditEntries(filter: {subjects: [$id]}) { totalCount } }",
            json!({"id": learning}),
        )
        .await;
    assert_eq!(own_audit.ok()["auditEntries"]["totalCount"], 2);

    // Search finds the learning in Finnish at once.
    let found = app
        .graphql(
            "{ search(query: \"ammattikieltä\") { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(found.ok()["search"]["nodes"][0]["id"], learning.as_str());
}

#[tokio::test]
async fn responses_say_which_language_they_served() {
    let app = spawn_app().await;
    let ask = |language: &'static str, query: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("accept", ACCEPT)
            .header("accept-language", language)
            .json(&json!({"query": query}))
            .send()
    };
    // Every title in French: `Content-Language: fr`, and each text says its locale.
    let response = ask(
        "fr",
        "{ learnings(filter: {kinds: [PITFALL]}) { nodes { title titleLocale } } }",
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["content-language"], "fr");
    let body: Value = response.json().await.unwrap();
    for node in body["data"]["learnings"]["nodes"].as_array().unwrap() {
        assert_eq!(node["titleLocale"], "fr", "{node}");
    }
    // Finnish is not there: English serves (the fallback), and says so.
    let response = ask(
        "fi",
        "{ learnings(first: 3) { nodes { title titleLocale } } }",
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["content-language"], "en");
    // Mixed languages (a municipality named only in its own language): no single header, but
    // each text still says its locale.
    let response = ask("de", "{ municipalities { nodes { name nameLocale } } }")
        .await
        .unwrap();
    assert!(response.headers().get("content-language").is_none());
    let body: Value = response.json().await.unwrap();
    let locales: Vec<&str> = body["data"]["municipalities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["nameLocale"].as_str().unwrap())
        .collect();
    assert!(
        locales.contains(&"de") && locales.contains(&"en"),
        "{locales:?}"
    );
}
