//! Learnings shared between cities: another municipality endorses a lesson ("also seen in").
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn partner_cities_endorse_learnings_and_see_which_are_shared() {
    let app = spawn_app().await;
    let lahti = app.editor_key("Lahti editor", "Lahti").await;
    let mechelen = app.editor_key("Mechelen editor", "Mechelen").await;
    let learning = app.find_id("learnings", "te snel willen gaan").await;
    let endorse = r#"mutation($l: ID!) { endorseLearning(input: {learning: $l, note: [{locale: "en", text: "Our first year too."}]}) {
        learningEndorsement { id version municipality { name(locale: "en") } learning { id } note }
        userErrors { field code message } } }"#;
    let done = app
        .graphql_as(&lahti, endorse, json!({"l": learning}))
        .await;
    let endorsement = done.ok()["endorseLearning"]["learningEndorsement"].clone();
    assert_eq!(endorsement["municipality"]["name"], "Lahti");
    assert_eq!(endorsement["note"], "Our first year too.");
    let twice = app
        .graphql_as(&lahti, endorse, json!({"l": learning}))
        .await;
    assert_eq!(
        twice.ok()["endorseLearning"]["userErrors"][0]["code"],
        "CONFLICT"
    );
    let own = app
        .graphql_as(&mechelen, endorse, json!({"l": learning}))
        .await;
    assert!(
        own.ok()["endorseLearning"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not its own")
    );
    assert_eq!(
        app.graphql(endorse, json!({"l": learning})).await.code(),
        "UNAUTHENTICATED"
    );

    // Shared learnings: filter and order by endorsements.
    let shared = app
        .graphql(r#"{ learnings(filter: {minEndorsements: 2}, orderBy: {field: ENDORSEMENTS, direction: DESC}) { nodes { position endorsements { totalCount nodes { municipality { name(locale: "en") } } } } } }"#, json!({}))
        .await;
    let nodes = shared.ok()["learnings"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        nodes.len(),
        1,
        "the demo's jargon lesson is endorsed by Lahti and Ostrava"
    );
    assert_eq!(nodes[0]["position"], 4);
    let lahti_id = stroom_api::ids::NodeKind::Municipality
        .id(app.municipality_id("Lahti").await)
        .0;
    let by_lahti = app
        .all_nodes("learnings", "position", json!({"endorsedBy": [lahti_id]}))
        .await;
    let mut positions: Vec<i64> = by_lahti
        .iter()
        .map(|l| l["position"].as_i64().unwrap())
        .collect();
    positions.sort();
    assert_eq!(positions, [4, 5]);

    // Withdrawn: archived, and back when endorsed again.
    let withdrawn = app
        .graphql_as(&lahti, r#"mutation($id: ID!) { withdrawLearningEndorsement(input: {id: $id, version: 1}) { learningEndorsement { archived } } }"#, json!({"id": endorsement["id"]}))
        .await;
    assert_eq!(
        withdrawn.ok()["withdrawLearningEndorsement"]["learningEndorsement"]["archived"],
        true
    );
    let count = app.graphql(r#"query($id: ID!) { node(id: $id) { ... on Learning { endorsements { totalCount } } } }"#, json!({"id": learning})).await;
    assert_eq!(count.ok()["node"]["endorsements"]["totalCount"], 0);
    let again = app
        .graphql_as(&lahti, endorse, json!({"l": learning}))
        .await;
    assert_eq!(
        again.ok()["endorseLearning"]["learningEndorsement"]["id"],
        endorsement["id"]
    );
}
