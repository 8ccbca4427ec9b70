//! Text in the request's language, with fallback, and every translation on demand.
use serde_json::json;

use crate::helpers::spawn_app;

const QUERY: &str = r#"query($locale: String) { themes(filter: {codes: ["water", "sharing_economy"]}) { nodes {
    code label(locale: $locale) labelTranslations { locale text }
} } }"#;

fn label(reply: &crate::helpers::Reply, code: &str) -> String {
    reply.ok()["themes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == code)
        .unwrap()["label"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn text_follows_accept_language_and_the_locale_argument() {
    let app = spawn_app().await;
    let dutch = app
        .graphql_with(
            QUERY,
            json!({}),
            &[("accept-language", "nl-BE,nl;q=0.9,en;q=0.5")],
        )
        .await;
    assert_eq!(label(&dutch, "water"), "Water");
    assert_eq!(label(&dutch, "sharing_economy"), "Deeleconomie");
    let french = app
        .graphql_with(QUERY, json!({}), &[("accept-language", "fr")])
        .await;
    assert_eq!(label(&french, "sharing_economy"), "Économie du partage");
    // The argument wins over the header.
    let german = app
        .graphql_with(QUERY, json!({"locale": "de"}), &[("accept-language", "fr")])
        .await;
    assert_eq!(label(&german, "water"), "Wasser");
    // No German for this theme: the header's French comes next in the chain.
    assert_eq!(label(&german, "sharing_economy"), "Économie du partage");
    // No header at all: English.
    let default = app.graphql(QUERY, json!({})).await;
    assert_eq!(label(&default, "sharing_economy"), "Sharing economy");
}

#[tokio::test]
async fn an_unknown_locale_falls_back_and_a_malformed_one_is_refused() {
    let app = spawn_app().await;
    let japanese = app.graphql(QUERY, json!({"locale": "ja"})).await;
    assert_eq!(label(&japanese, "water"), "Water");
    let header = app
        .graphql_with(QUERY, json!({}), &[("accept-language", "xx-!!, *;q=0.1")])
        .await;
    assert_eq!(
        label(&header, "water"),
        "Water",
        "a malformed header is a negotiation, not an error"
    );
    for bad in ["english", "nl_BE_x", "x", "12"] {
        let reply = app.graphql(QUERY, json!({"locale": bad})).await;
        assert_eq!(reply.code(), "BAD_USER_INPUT", "{bad}");
        assert!(
            reply.message().contains("not a valid locale"),
            "{}",
            reply.message()
        );
    }
    // A region falls back to its language.
    let belgian = app.graphql(QUERY, json!({"locale": "nl-BE"})).await;
    assert_eq!(label(&belgian, "sharing_economy"), "Deeleconomie");
}

#[tokio::test]
async fn all_translations_are_listed() {
    let app = spawn_app().await;
    let reply = app.graphql(QUERY, json!({})).await;
    let water = reply.ok()["themes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "water")
        .unwrap()
        .clone();
    assert_eq!(
        water["labelTranslations"],
        json!([
            {"locale": "de", "text": "Wasser"},
            {"locale": "en", "text": "Water"},
            {"locale": "fr", "text": "Eau"},
            {"locale": "nl", "text": "Water"}
        ])
    );
}

#[tokio::test]
async fn names_sort_in_the_request_language() {
    let app = spawn_app().await;
    let query = r#"{ organisations(first: 100, filter: {kinds: [CITY_DEPARTMENT]}, orderBy: {field: NAME}) { nodes { name } } }"#;
    let english = app
        .graphql_with(query, json!({}), &[("accept-language", "en")])
        .await;
    let names: Vec<String> = english.ok()["organisations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("Economy"));
    let dutch = app
        .graphql_with(query, json!({}), &[("accept-language", "nl")])
        .await;
    let names: Vec<String> = dutch.ok()["organisations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("Duurzaamheid"));
}
