//! The CECI network: an instance announces itself at `/.well-known/stroom`, and what it
//! announces leads to its working GraphQL API and change feed.
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::*;

async fn announcement(app: &TestApp, headers: &[(&str, &str)]) -> (reqwest::StatusCode, Value) {
    let mut request = app.client.get(app.url("/.well-known/stroom"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn an_instance_announces_its_municipality_languages_api_feed_and_schema() {
    let app = spawn_configured(true, |serve| {
        serve.instance_name = "Stroom Mechelen".to_owned();
        serve.instance_municipality = Some("mechelen".to_owned());
    })
    .await;
    let (status, announced) = announcement(&app, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(announced["name"], "Stroom Mechelen");
    assert_eq!(announced["country"], "BE");
    assert_eq!(announced["languages"][0], "nl", "{announced}");
    let languages = strings(&announced["languages"]);
    let mut unique = languages.clone();
    unique.dedup();
    assert_eq!(languages.len(), unique.len(), "{announced}");
    assert_eq!(
        announced["software"].as_str().unwrap().split('/').next(),
        Some("stroom")
    );

    // The municipality is the API's own record.
    let id = announced["municipality"]["id"].as_str().unwrap();
    let reply = app
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Municipality { name country } } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(reply.ok()["node"]["country"], "BE");
    assert_eq!(announced["municipality"]["name"]["nl"], "Mechelen");

    // The schema version is the digest of the schema the instance serves.
    let sdl = app
        .client
        .get(app.url("/schema.graphql"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let digest = hex::encode(Sha256::digest(sdl.as_bytes()));
    assert_eq!(announced["schemaVersion"], digest[..16]);

    // The addresses it gives work as announced.
    let graphql = announced["graphql"].as_str().unwrap();
    assert_eq!(graphql, app.url("/graphql"));
    let answer: Value = app
        .client
        .post(graphql)
        .json(&json!({"query": "{ municipalities(first: 1) { totalCount } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        answer["data"]["municipalities"]["totalCount"]
            .as_i64()
            .unwrap()
            > 0
    );
    let feed = announced["feed"].as_str().unwrap();
    let events = app
        .client
        .get(format!("{feed}?after=0&limit=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        events
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("ndjson")
    );

    // Behind a proxy that says it terminated TLS, the addresses are https.
    let (_, proxied) = announcement(&app, &[("x-forwarded-proto", "https")]).await;
    assert!(proxied["graphql"].as_str().unwrap().starts_with("https://"));
}

#[tokio::test]
async fn a_configured_address_wins_and_an_unknown_or_missing_municipality_announces_none() {
    let app = spawn_configured(true, |serve| {
        serve.public_url = Some("https://stroom.example.org/".to_owned());
        serve.instance_municipality = Some("Atlantis".to_owned());
    })
    .await;
    let (status, announced) = announcement(&app, &[("host", "evil.example")]).await;
    assert_eq!(status, 200);
    assert_eq!(announced["name"], "Stroom");
    assert_eq!(announced["graphql"], "https://stroom.example.org/graphql");
    assert_eq!(
        announced["feed"],
        "https://stroom.example.org/changes.ndjson"
    );
    assert!(announced["municipality"].is_null(), "{announced}");
    assert!(announced["country"].is_null(), "{announced}");
    assert_eq!(announced["languages"][0], "en", "{announced}");

    let bare = spawn_app().await;
    let (_, announced) = announcement(&bare, &[]).await;
    assert!(announced["municipality"].is_null(), "{announced}");
}
