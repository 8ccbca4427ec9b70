//! Roles on every path: what each kind of key may read and write.
use entity::enums::KeyRole;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn contact_people_are_shown_to_partners_editors_and_admins_only_on_every_path() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let contact = entity::contact_person::Entity::find()
        .all(&app.db)
        .await
        .unwrap()[0]
        .clone();
    let contact_id = stroom_api::ids::NodeKind::ContactPerson.id(contact.id).0;
    let query = r#"query($id: ID!) {
        organisations(first: 100) { nodes { contacts { nodes { name email } } } }
        programmes { nodes { contact { name email } } }
        node(id: $id) { ... on ContactPerson { name email phone } }
        nodes(ids: [$id]) { ... on ContactPerson { email } }
        again: node(id: $id) { ... on ContactPerson { organisation { name } } }
    }"#;
    let partner = app.partner_key().await;
    let editor = app.editor_key("Lahti editor", "Lahti").await;
    let admin = app.admin_key().await;
    for (who, key) in [
        ("partner", Some(&partner)),
        ("editor", Some(&editor)),
        ("admin", Some(&admin)),
        ("anonymous", None),
    ] {
        let reply = match key {
            Some(key) => app.graphql_as(key, query, json!({"id": contact_id})).await,
            None => app.graphql(query, json!({"id": contact_id})).await,
        };
        let text = reply.body.to_string();
        if key.is_some() {
            let data = reply.ok();
            assert_eq!(
                data["node"]["email"],
                contact.email.clone().map_or(json!(null), |e| json!(e)),
                "{who}"
            );
            assert_eq!(data["nodes"][0]["email"], data["node"]["email"], "{who}");
            assert!(data["again"]["organisation"]["name"].is_string(), "{who}");
            assert!(
                text.contains("julie.poppe@mechelen.be"),
                "{who} sees the programme's contact"
            );
        } else {
            assert_eq!(reply.code(), "UNAUTHENTICATED");
            assert!(reply.data()["node"].is_null());
            assert!(reply.data()["again"].is_null());
            assert!(reply.data()["nodes"][0].is_null());
            assert!(
                !text.contains("julie.poppe"),
                "anonymous sees no personal data"
            );
            assert!(
                !text.contains(&contact.name),
                "anonymous sees no personal data"
            );
        }
    }
}

#[tokio::test]
async fn partner_only_learnings_are_shown_to_partners_and_above_on_every_path() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let hidden = entity::learning::Entity::find()
        .filter(entity::learning::Column::Audience.eq(entity::enums::Audience::Partners))
        .all(&app.db)
        .await
        .unwrap();
    let id = stroom_api::ids::NodeKind::Learning.id(hidden[0].id).0;
    let query = r#"query($id: ID!) {
        learnings(filter: {audiences: [PARTNERS]}) { totalCount nodes { id } }
        all: learnings(first: 100) { totalCount }
        node(id: $id) { id }
        nodes(ids: [$id]) { id }
        initiatives(first: 100) { nodes { learnings { totalCount } } }
    }"#;
    let partner = app.partner_key().await;
    for (key, visible) in [(None, false), (Some(partner), true)] {
        let reply = match &key {
            Some(key) => app.graphql_as(key, query, json!({"id": id})).await,
            None => app.graphql(query, json!({"id": id})).await,
        };
        let data = reply.ok();
        assert_eq!(data["learnings"]["totalCount"], if visible { 2 } else { 0 });
        assert_eq!(data["node"].is_null(), !visible);
        assert_eq!(data["nodes"][0].is_null(), !visible);
        let nested: u64 = data["initiatives"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["learnings"]["totalCount"].as_u64().unwrap())
            .sum();
        assert_eq!(nested, if visible { 2 } else { 0 });
        assert_eq!(data["all"]["totalCount"], if visible { 16 } else { 14 });
    }
}

#[tokio::test]
async fn writes_need_the_right_key_and_refusals_change_nothing() {
    let app = spawn_app().await;
    let initiative = app.find_id("initiatives", "klusbib").await;
    let update = r#"mutation($id: ID!) { updateInitiative(input: {id: $id, version: 1, stage: PAUSED}) { initiative { stage } userErrors { message } } }"#;
    let indicator = r#"mutation { createIndicator(input: {code: "new_one", name: [{locale: "en", text: "New"}], unit: ITEMS, higherIsBetter: true}) { indicator { id } } }"#;
    let partner = app.partner_key().await;
    let lahti_editor = app.editor_key("Lahti editor", "Lahti").await;
    let mechelen_editor = app.editor_key("Mechelen editor", "Mechelen").await;
    let before = app.fingerprint().await;

    let anonymous = app.graphql(update, json!({"id": initiative})).await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    assert!(anonymous.message().contains("Authorization: Bearer"));
    let read_only = app
        .graphql_as(&partner, update, json!({"id": initiative}))
        .await;
    assert_eq!(read_only.code(), "FORBIDDEN");
    let other_city = app
        .graphql_as(&lahti_editor, update, json!({"id": initiative}))
        .await;
    assert_eq!(other_city.code(), "FORBIDDEN");
    assert!(other_city.message().contains("another municipality"));
    let shared = app.graphql_as(&mechelen_editor, indicator, json!({})).await;
    assert_eq!(shared.code(), "FORBIDDEN");
    let mechelen = stroom_api::ids::NodeKind::Municipality
        .id(app.municipality_id("Mechelen").await)
        .0;
    let in_other_city = app
        .graphql_as(&lahti_editor, r#"mutation($m: ID!) { createNeed(input: {municipality: $m, title: [{locale: "fi", text: "x"}], source: SURVEY}) { need { id } } }"#, json!({"m": mechelen}))
        .await;
    assert_eq!(in_other_city.code(), "FORBIDDEN");
    let new_city = app
        .graphql_as(&mechelen_editor, r#"mutation { createMunicipality(input: {name: [{locale: "nl", text: "Gent"}], country: "BE", defaultLocale: "nl"}) { municipality { id } } }"#, json!({}))
        .await;
    assert_eq!(new_city.code(), "FORBIDDEN");
    assert_eq!(
        app.fingerprint().await,
        before,
        "refused writes change nothing, audit included"
    );

    let allowed = app
        .graphql_as(&mechelen_editor, update, json!({"id": initiative}))
        .await;
    assert_eq!(
        allowed.ok()["updateInitiative"]["initiative"]["stage"],
        "PAUSED"
    );
    let admin = app.admin_key().await;
    let made = app.graphql_as(&admin, indicator, json!({})).await;
    assert!(made.ok()["createIndicator"]["indicator"]["id"].is_string());
}

#[tokio::test]
async fn bad_revoked_and_expired_keys_are_refused_at_once() {
    let app = spawn_app().await;
    let key = app.partner_key().await;
    assert_eq!(
        app.graphql_as(&key, "{ viewer { role } }", json!({}))
            .await
            .ok()["viewer"]["role"],
        "PARTNER"
    );
    for header in [
        "Bearer",
        "Basic abc",
        "Bearer stroom_not_a_key",
        "stroom_xyz",
    ] {
        let reply = app
            .graphql_with(
                "{ viewer { role } }",
                json!({}),
                &[("authorization", header)],
            )
            .await;
        assert_eq!(reply.status, 401, "{header}");
        assert_eq!(reply.code(), "UNAUTHENTICATED");
        assert!(reply.body.get("data").is_none());
    }
    // Revoked from the command line: the very next request is refused.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args([
            "keys",
            "revoke",
            "Test partner city",
            "--database-url",
            &app.database_url(),
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let refused = app.graphql_as(&key, "{ viewer { role } }", json!({})).await;
    assert_eq!(refused.status, 401);
    assert!(refused.message().contains("revoked"));

    // Expired: a key whose expiry has passed.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let (expiring, token) = stroom_api::api_key::create_key(
        &app.db,
        "Short-lived",
        KeyRole::Partner,
        None,
        Some(chrono::Utc::now() + chrono::TimeDelta::hours(1)),
    )
    .await
    .unwrap();
    assert_eq!(
        app.graphql_as(&token, "{ viewer { role } }", json!({}))
            .await
            .status,
        200
    );
    entity::api_key::Entity::update_many()
        .col_expr(
            entity::api_key::Column::ExpiresAt,
            sea_orm::sea_query::Expr::val(chrono::Utc::now() - chrono::TimeDelta::seconds(1)),
        )
        .filter(entity::api_key::Column::Id.eq(expiring.id))
        .exec(&app.db)
        .await
        .unwrap();
    let expired = app
        .graphql_as(&token, "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(expired.status, 401);
    assert!(expired.message().contains("expired"));
}

#[tokio::test]
async fn the_key_list_shows_status_and_keys_are_stored_as_hashes() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let token = app.partner_key().await;
    let stored = entity::api_key::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].token_hash, token);
    assert!(
        !stored[0].token_hash.contains(&token[7..]),
        "the token itself is not stored"
    );
    assert_eq!(stored[0].token_hash, stroom_api::auth::hash_token(&token));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["keys", "list", "--database-url", &app.database_url()])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let listing = String::from_utf8(output.stdout).unwrap();
    assert!(
        listing.contains("Test partner city") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(&token), "the list never shows a token");
}

#[tokio::test]
async fn the_audit_trail_is_for_editors_and_admins_and_editors_see_their_own() {
    let app = spawn_app().await;
    let mechelen_editor = app.editor_key("Mechelen editor", "Mechelen").await;
    let lahti_editor = app.editor_key("Lahti editor", "Lahti").await;
    let admin = app.admin_key().await;
    let partner = app.partner_key().await;
    let initiative = app.find_id("initiatives", "klusbib").await;
    let changed = app
        .graphql_as(&mechelen_editor, r#"mutation($id: ID!) { changeInitiativeStage(input: {id: $id, version: 1, stage: SELF_SUSTAINING}) { initiative { stage } } }"#, json!({"id": initiative}))
        .await;
    assert_eq!(
        changed.ok()["changeInitiativeStage"]["initiative"]["stage"],
        "SELF_SUSTAINING"
    );
    let query =
        "{ auditEntries { totalCount nodes { actor mutation changes { field before after } } } }";
    assert_eq!(
        app.graphql(query, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.graphql_as(&partner, query, json!({})).await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.graphql_as(&lahti_editor, query, json!({})).await.ok()["auditEntries"]["totalCount"],
        0
    );
    let own = app.graphql_as(&mechelen_editor, query, json!({})).await;
    assert_eq!(own.ok()["auditEntries"]["totalCount"], 1);
    let all = app.graphql_as(&admin, query, json!({})).await;
    let entry = &all.ok()["auditEntries"]["nodes"][0];
    assert_eq!(entry["actor"], "Mechelen editor");
    assert_eq!(
        entry["changes"],
        json!([{"field": "stage", "before": "running", "after": "self_sustaining"}])
    );
    let history =
        r#"query($id: ID!) { node(id: $id) { ... on Initiative { history { totalCount } } } }"#;
    assert_eq!(
        app.graphql(history, json!({"id": initiative})).await.code(),
        "UNAUTHENTICATED"
    );
    // Filters: by key, by time, by mutation.
    let keys = app
        .graphql_as(
            &admin,
            "{ apiKeys(filter: {roles: [EDITOR]}) { nodes { id name } } }",
            json!({}),
        )
        .await;
    let mechelen_key = keys.ok()["apiKeys"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "Mechelen editor")
        .unwrap()["id"]
        .clone();
    let by_key = app
        .graphql_as(&admin, r#"query($k: ID!) { auditEntries(filter: {apiKeys: [$k], at: {from: "2000-01-01T00:00:00Z"}, mutations: ["changeInitiativeStage"]}) { totalCount } }"#, json!({"k": mechelen_key}))
        .await;
    assert_eq!(by_key.ok()["auditEntries"]["totalCount"], 1);
    let future = app
        .graphql_as(
            &admin,
            r#"{ auditEntries(filter: {at: {from: "2999-01-01T00:00:00Z"}}) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(future.ok()["auditEntries"]["totalCount"], 0);
}
