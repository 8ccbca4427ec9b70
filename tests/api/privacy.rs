//! Anonymous callers never see personal data nor partner-only learnings, on any path.
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn contact_people_are_refused_to_anonymous_callers() {
    let app = spawn_app().await;
    let reply = app
        .graphql(
            r#"{ organisations(first: 100) { nodes { name contacts { nodes { name email phone } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(reply.code(), "UNAUTHENTICATED");
    assert!(reply.message().contains("personal data"));
    let organisations = reply.data()["organisations"]["nodes"].as_array().unwrap();
    assert!(!organisations.is_empty());
    assert!(organisations.iter().all(|o| o["contacts"].is_null()));

    let reply = app
        .graphql(
            r#"{ programmes { nodes { name contact { name email } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(reply.code(), "UNAUTHENTICATED");
    assert!(
        reply.data()["programmes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["contact"].is_null())
    );
}

#[tokio::test]
async fn contact_people_cannot_be_reached_by_id_either() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let contacts = entity::contact_person::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert!(!contacts.is_empty(), "the demo data has contact people");
    let ids: Vec<String> = contacts
        .iter()
        .map(|c| stroom_api::ids::NodeKind::ContactPerson.id(c.id).0)
        .collect();
    let reply = app
        .graphql(
            r#"query($id: ID!, $ids: [ID!]!) {
                node(id: $id) { id ... on ContactPerson { name email } }
                nodes(ids: $ids) { id }
                alias: node(id: $id) { ... on ContactPerson { phone } }
            }"#,
            json!({"id": ids[0], "ids": ids}),
        )
        .await;
    let data = reply.ok();
    assert!(data["node"].is_null());
    assert!(data["alias"].is_null());
    assert!(
        data["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n.is_null())
    );
}

#[tokio::test]
async fn no_public_response_contains_personal_data() {
    let app = spawn_app().await;
    let mut everything = String::new();
    for (field, selection) in [
        (
            "organisations",
            "id name description nameTranslations { text } descriptionTranslations { text }",
        ),
        (
            "programmes",
            "id summaryTranslations { text } staffingTranslations { text } partners(first: 100) { nodes { noteTranslations { text } } }",
        ),
        (
            "learnings",
            "id bodyTranslations { text } titleTranslations { text }",
        ),
        (
            "initiatives",
            "id descriptionTranslations { text } supportRequests { nodes { descriptionTranslations { text } } }",
        ),
    ] {
        for node in app.all_nodes(field, selection, json!({})).await {
            everything.push_str(&node.to_string());
        }
    }
    for secret in [
        "Julie",
        "Poppe",
        "julie.poppe@mechelen.be",
        "klusbib@example.org",
        "+32 15",
    ] {
        assert!(
            !everything.contains(secret),
            "a public response holds {secret}"
        );
    }
    for field in [
        "organisations",
        "programmes",
        "learnings",
        "initiatives",
        "needs",
        "areas",
    ] {
        let found = app.all_nodes(field, "id", json!({"search": "poppe"})).await;
        assert!(found.is_empty(), "search in {field} finds personal data");
    }
}

#[tokio::test]
async fn partner_only_learnings_are_not_listed_nor_reachable() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let hidden = entity::learning::Entity::find()
        .filter(entity::learning::Column::Audience.eq(entity::enums::Audience::Partners))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(hidden.len(), 2, "the demo data has partner-only learnings");
    let total = entity::learning::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .len();

    let listed = app.all_nodes("learnings", "id audience", json!({})).await;
    assert_eq!(listed.len(), total - hidden.len());
    assert!(listed.iter().all(|l| l["audience"] == "PUBLIC"));
    let asked = app
        .all_nodes("learnings", "id", json!({"audiences": ["PARTNERS"]}))
        .await;
    assert!(asked.is_empty());
    let count = app.graphql("{ learnings { totalCount } }", json!({})).await;
    assert_eq!(
        count.ok()["learnings"]["totalCount"],
        (total - hidden.len()) as u64
    );

    let ids: Vec<String> = hidden
        .iter()
        .map(|l| stroom_api::ids::NodeKind::Learning.id(l.id).0)
        .collect();
    let reply = app
        .graphql(
            r#"query($ids: [ID!]!) { nodes(ids: $ids) { id } }"#,
            json!({"ids": ids}),
        )
        .await;
    assert!(
        reply.ok()["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n.is_null())
    );

    // Nested paths hide them too, counts included.
    let reply = app
        .graphql(
            r#"{ initiatives(first: 100) { nodes { learnings { totalCount nodes { audience } } } }
                 themes(first: 100) { nodes { code } } }"#,
            json!({}),
        )
        .await;
    let data = reply.ok();
    let nested: u64 = data["initiatives"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["learnings"]["totalCount"].as_u64().unwrap())
        .sum();
    assert_eq!(nested, 0, "both hidden learnings belong to initiatives");
    let search = app
        .all_nodes("learnings", "id", json!({"search": "illustrative lesson"}))
        .await;
    assert!(search.is_empty());
}
