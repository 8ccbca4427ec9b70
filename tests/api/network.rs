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

/// Waits (up to 20 s) until `check` holds for A's answer to `query`.
async fn eventually(
    app: &TestApp,
    key: &str,
    query: &str,
    variables: Value,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let reply = app.graphql_as(key, query, variables.clone()).await;
        let data = reply.ok().clone();
        if check(&data) {
            return data;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not within 20 s: {query} answered {data}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

const COPIES: &str = r#"query { learnings(first: 100, filter: {origins: {own: false, followed: true}}) {
    totalCount nodes { id version archived titleTranslations { locale text } origin { instance country remoteId url withdrawn } } } }"#;

#[tokio::test]
async fn an_instance_follows_another_and_its_learnings_arrive_change_and_leave() {
    let source = spawn_configured(true, |serve| {
        serve.instance_name = "Stroom Lahti".to_owned();
        serve.instance_municipality = Some("Lahti".to_owned());
    })
    .await;
    let follower = spawn_configured(true, |serve| serve.follow_poll_ms = 100).await;
    let admin = follower.admin_key().await;
    let source_admin = source.admin_key().await;
    let own = |data: &Value| data["learnings"]["totalCount"].as_i64().unwrap();
    let before = follower
        .graphql("{ learnings { totalCount } }", json!({}))
        .await;
    let own_before = own(before.ok());
    let seen_before = seen(&follower).await;
    let published = source
        .graphql("{ learnings { totalCount } }", json!({}))
        .await;
    let public_at_source = own(published.ok());
    assert!(public_at_source > 0);

    // Only admins follow.
    let follow = r#"mutation($url: String!) { followInstance(input: {url: $url, types: [LEARNINGS]}) {
        followedInstance { id version name country languages types paused } userErrors { field message } } }"#;
    let editor = follower.editor_key("Network editor", "Mechelen").await;
    let refused = follower
        .graphql_as(&editor, follow, json!({"url": source.url("")}))
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");
    let nowhere = follower
        .graphql_as(&admin, follow, json!({"url": "http://127.0.0.1:9/"}))
        .await;
    assert_eq!(
        nowhere.ok()["followInstance"]["userErrors"][0]["field"],
        json!(["input", "url"])
    );

    let followed = follower
        .graphql_as(&admin, follow, json!({"url": source.url("")}))
        .await;
    let instance = followed.ok()["followInstance"]["followedInstance"].clone();
    assert_eq!(instance["name"], "Stroom Lahti", "{followed:?}");
    assert_eq!(instance["country"], "FI");
    assert_eq!(instance["types"], json!(["LEARNINGS"]));
    let again = follower
        .graphql_as(&admin, follow, json!({"url": source.url("/")}))
        .await;
    assert_eq!(
        again.ok()["followInstance"]["userErrors"][0]["message"],
        "This instance is followed already."
    );

    // Every public learning of the source arrives, each saying where it comes from; the
    // follower's own lists are as they were.
    let copies = eventually(&follower, &admin, COPIES, json!({}), |d| {
        d["learnings"]["totalCount"].as_i64() == Some(public_at_source)
    })
    .await;
    let first = &copies["learnings"]["nodes"][0];
    assert_eq!(first["origin"]["instance"], "Stroom Lahti");
    assert_eq!(first["origin"]["country"], "FI");
    assert_eq!(first["origin"]["url"], source.url("/graphql"));
    assert_eq!(first["origin"]["withdrawn"], false);
    let at_source = source
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Learning { titleTranslations { locale text } } } }"#,
            json!({"id": first["origin"]["remoteId"]}),
        )
        .await;
    assert_eq!(
        at_source.ok()["node"]["titleTranslations"],
        first["titleTranslations"]
    );
    let after = follower
        .graphql("{ learnings { totalCount } }", json!({}))
        .await;
    assert_eq!(
        own(after.ok()),
        own_before,
        "copies stay out of the own lists"
    );
    let both = follower
        .graphql(
            "{ learnings(filter: {origins: {own: true, followed: true}}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(own(both.ok()), own_before + public_at_source);
    // Needs are never copied: asked for copies only, a list of needs is empty; asked for
    // both, it is the own list.
    let needs = follower
        .graphql(
            r#"{ copies: needs(filter: {origins: {own: false, followed: true}}) { totalCount }
                 both: needs(filter: {origins: {own: true, followed: true}}) { totalCount }
                 own: needs { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(needs.ok()["copies"]["totalCount"], 0);
    assert_eq!(needs.ok()["both"], needs.ok()["own"]);

    // A learning written at the source arrives within seconds.
    let initiative = source.find_id("initiatives", "klusbib").await;
    let created = source
        .graphql_as(
            &source_admin,
            r#"mutation($i: ID!) { createLearning(input: {initiative: $i, kind: RECOMMENDATION, audience: PUBLIC,
                title: [{locale: "en", text: "Share the tools"}], body: [{locale: "en", text: "Lend, do not buy: kwispel."}]}) {
                learning { id version } userErrors { message } } }"#,
            json!({"i": initiative}),
        )
        .await;
    let remote = created.ok()["createLearning"]["learning"].clone();
    let remote_id = remote["id"].as_str().unwrap().to_owned();
    let find = |data: &Value, remote_id: &str| -> Option<Value> {
        data["learnings"]["nodes"]
            .as_array()?
            .iter()
            .find(|n| n["origin"]["remoteId"] == remote_id)
            .cloned()
    };
    let arrived = eventually(&follower, &admin, COPIES, json!({}), |d| {
        find(d, &remote_id).is_some()
    })
    .await;
    let copy = find(&arrived, &remote_id).unwrap();
    let copy_id = copy["id"].as_str().unwrap().to_owned();
    assert_eq!(
        copy["titleTranslations"],
        json!([{"locale": "en", "text": "Share the tools"}])
    );
    // Search, statistics, lists of what the copies refer to and open data keep to the
    // follower's own records.
    assert_eq!(found(&source, Value::Null).await, 1);
    assert_eq!(found(&follower, Value::Null).await, 0);
    assert_eq!(
        found(&follower, json!({"own": false, "followed": true})).await,
        1
    );
    assert_eq!(
        found(&follower, json!({"own": true, "followed": true})).await,
        1
    );
    assert_eq!(seen(&follower).await, seen_before);

    // The follower's own endorsement of the copy stays its own.
    let endorsed = follower
        .graphql_as(
            &admin,
            r#"mutation($l: ID!, $m: ID!) { endorseLearning(input: {learning: $l, municipality: $m,
                note: [{locale: "en", text: "Seen in Lahti too"}]}) { learningEndorsement { id } userErrors { message } } }"#,
            json!({"l": copy_id, "m": stroom_api::ids::NodeKind::Municipality.id(follower.municipality_id("Lahti").await).0}),
        )
        .await;
    assert_eq!(
        endorsed.ok()["endorseLearning"]["userErrors"],
        json!([]),
        "{endorsed:?}"
    );

    // Endorsed at the source by Varna, and by Lahti too (whose endorsement here stands):
    // Varna's arrives, Lahti's stays the follower's own.
    for city in ["Varna", "Lahti"] {
        let municipality = stroom_api::ids::NodeKind::Municipality
            .id(source.municipality_id(city).await)
            .0;
        let endorsed = source
            .graphql_as(
                &source_admin,
                r#"mutation($l: ID!, $m: ID!) { endorseLearning(input: {learning: $l, municipality: $m,
                    note: [{locale: "en", text: "Seen here too"}]}) { userErrors { message } } }"#,
                json!({"l": remote_id, "m": municipality}),
            )
            .await;
        assert_eq!(endorsed.ok()["endorseLearning"]["userErrors"], json!([]));
    }
    let endorsements_here = r#"query($id: ID!) { node(id: $id) { ... on Learning { endorsements { nodes {
        municipality { name } note origin { instance } } } } } }"#;
    let both = eventually(
        &follower,
        &admin,
        endorsements_here,
        json!({"id": copy_id}),
        |d| {
            d["node"]["endorsements"]["nodes"]
                .as_array()
                .is_some_and(|e| e.len() == 2)
        },
    )
    .await;
    let mut seen_by: Vec<(String, Value)> = both["node"]["endorsements"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["municipality"]["name"].as_str().unwrap().to_owned(),
                e["origin"].clone(),
            )
        })
        .collect();
    seen_by.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen_by,
        vec![
            ("Lahti".to_owned(), Value::Null),
            ("Varna".to_owned(), json!({"instance": "Stroom Lahti"})),
        ]
    );

    // Translated at the source: translated here.
    let translated = source
        .graphql_as(
            &source_admin,
            r#"mutation($id: ID!, $v: Int!) { updateLearning(input: {id: $id, version: $v,
                title: [{locale: "en", text: "Share the tools"}, {locale: "fi", text: "Jaa työkalut"}]}) {
                learning { version } userErrors { message } } }"#,
            json!({"id": remote_id, "v": remote["version"]}),
        )
        .await;
    assert_eq!(translated.ok()["updateLearning"]["userErrors"], json!([]));
    eventually(&follower, &admin, COPIES, json!({}), |d| {
        find(d, &remote_id).is_some_and(|c| {
            c["titleTranslations"]
                .as_array()
                .is_some_and(|t| t.len() == 2)
        })
    })
    .await;
    let endorsements = follower
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Learning { endorsements { totalCount } } } }"#,
            json!({"id": copy_id}),
        )
        .await;
    assert_eq!(endorsements.ok()["node"]["endorsements"]["totalCount"], 2);

    // A copy changes at its source only.
    let version = follower
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Learning { version } } }"#,
            json!({"id": copy_id}),
        )
        .await;
    let local_edit = follower
        .graphql_as(
            &admin,
            r#"mutation($id: ID!, $v: Int!) { updateLearning(input: {id: $id, version: $v, kind: PITFALL}) {
                learning { id } userErrors { field message } } }"#,
            json!({"id": copy_id, "v": version.ok()["node"]["version"]}),
        )
        .await;
    let refusal = &local_edit.ok()["updateLearning"]["userErrors"][0];
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("changes at its source only"),
        "{refusal}"
    );

    // Archived at the source: gone from the lists here, and withdrawn on its node.
    let current = source
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Learning { version } } }"#,
            json!({"id": remote_id}),
        )
        .await;
    let archived = source
        .graphql_as(
            &source_admin,
            r#"mutation($id: ID!, $v: Int!) { archiveLearning(input: {id: $id, version: $v}) { userErrors { message } } }"#,
            json!({"id": remote_id, "v": current.ok()["node"]["version"]}),
        )
        .await;
    assert_eq!(archived.ok()["archiveLearning"]["userErrors"], json!([]));
    eventually(&follower, &admin, COPIES, json!({}), |d| {
        find(d, &remote_id).is_none()
    })
    .await;
    let node = follower
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Learning { archived origin { withdrawn } } } }"#,
            json!({"id": copy_id}),
        )
        .await;
    assert_eq!(node.ok()["node"]["archived"], true);
    assert_eq!(node.ok()["node"]["origin"]["withdrawn"], true);

    // How following goes, as the admin sees it.
    let state = follower
        .graphql_as(
            &admin,
            "{ followedInstances { nodes { url lastEvent lag eventsApplied lastError failingSince paused } } }",
            json!({}),
        )
        .await;
    let state = &state.ok()["followedInstances"]["nodes"][0];
    assert_eq!(state["url"], source.url("").trim_end_matches('/'));
    assert!(
        state["lastEvent"].as_str().unwrap().parse::<i64>().unwrap() > 0,
        "{state}"
    );
    assert!(
        state["eventsApplied"].as_i64().unwrap() > public_at_source,
        "{state}"
    );
    assert_eq!(state["lag"], 0);
    assert!(state["lastError"].is_null(), "{state}");
    let anonymous = follower
        .graphql("{ followedInstances { totalCount } }", json!({}))
        .await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
}

/// How the fake source of `a_hostile_source_never_breaks_the_follower` behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// One good learning (event 1), then a translation of it (event 2) when `Changed`.
    Good,
    Changed,
    Garbage,
    Backwards,
    ServerError,
    HugeLine,
    Endless,
    WrongTypes,
    Revoked,
    SlowDrip,
}

const HOSTILE_LEARNING: &str = "TGVhcm5pbmc6OTk";

fn hostile_node(behaviour: Behaviour) -> Value {
    let mut titles = vec![json!({"locale": "en", "text": "Hostile lesson"})];
    if behaviour == Behaviour::Changed {
        titles.push(json!({"locale": "fi", "text": "Vihamielinen oppi"}));
    }
    json!({
        "__typename": "Learning", "id": HOSTILE_LEARNING, "version": 1,
        "kind": if behaviour == Behaviour::WrongTypes { json!(42) } else { json!("PITFALL") },
        "audience": "PUBLIC", "position": null, "archivedAt": null,
        "titleTranslations": titles, "bodyTranslations": [{"locale": "en", "text": "Body"}],
        "themes": {"nodes": [{"code": "repair"}]}, "endorsements": {"nodes": []},
        "municipality": {"id": "TXVuaWNpcGFsaXR5Ojk5", "country": "FI", "defaultLocale": "fi",
            "nameTranslations": [{"locale": "fi", "text": "Hollola"}]},
        "programme": null, "initiative": null,
    })
}

fn event_line(id: i64) -> String {
    format!(
        "{}\n",
        json!({"id": id.to_string(), "operation": "updated", "objectType": "Learning", "objectId": HOSTILE_LEARNING})
    )
}

/// A small HTTP server that answers as a Stroom instance would, or as told to misbehave.
async fn fake_source(behaviour: std::sync::Arc<std::sync::Mutex<Behaviour>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let announced = base.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let behaviour = *behaviour.lock().unwrap();
            let base = announced.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                // The head, then as much body as Content-Length says.
                let (head, mut body) = loop {
                    let Ok(n) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_string();
                        break (head, request[end + 4..].to_vec());
                    }
                };
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while body.len() < length {
                    let Ok(n) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&buffer[..n]);
                }
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let reply = |status: &str, body: String| {
                    format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let text = if path.starts_with("/.well-known/stroom") {
                    reply("200 OK", json!({"name": "Hostile", "country": "FI", "languages": ["fi"],
                        "graphql": format!("{base}/graphql"), "feed": format!("{base}/changes.ndjson"),
                        "schemaVersion": "0000000000000000", "software": "other/1"}).to_string())
                } else if path.starts_with("/graphql") {
                    let query = String::from_utf8_lossy(&body).to_string();
                    let data = if query.contains("FollowHead") {
                        json!({"changes": {"nodes": [{"id": "1"}]}})
                    } else if query.contains("FollowList") {
                        json!({"learnings": {"nodes": [{"id": HOSTILE_LEARNING}], "pageInfo": {"hasNextPage": false, "endCursor": null}}})
                    } else {
                        json!({"nodes": [hostile_node(behaviour)]})
                    };
                    reply("200 OK", json!({"data": data}).to_string())
                } else {
                    let after: i64 = path
                        .split("after=")
                        .nth(1)
                        .and_then(|a| a.split('&').next())
                        .and_then(|a| a.parse().ok())
                        .unwrap_or(0);
                    match behaviour {
                        Behaviour::Good => reply("200 OK", String::new()),
                        Behaviour::Changed | Behaviour::WrongTypes => reply(
                            "200 OK",
                            if after < 2 {
                                event_line(2)
                            } else {
                                String::new()
                            },
                        ),
                        Behaviour::Garbage => reply("200 OK", "<html>not json</html>\n".into()),
                        Behaviour::Backwards => reply("200 OK", event_line(after - 1)),
                        Behaviour::ServerError => reply("500 Internal Server Error", "{}".into()),
                        Behaviour::Revoked => reply("401 Unauthorized", "{}".into()),
                        Behaviour::HugeLine | Behaviour::Endless | Behaviour::SlowDrip => {
                            let _ = stream
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\nconnection: close\r\n\r\n")
                                .await;
                            let mut id = after;
                            loop {
                                let chunk = match behaviour {
                                    Behaviour::HugeLine => "x".repeat(64 * 1024),
                                    Behaviour::Endless => {
                                        id += 1;
                                        event_line(id)
                                    }
                                    _ => {
                                        tokio::time::sleep(std::time::Duration::from_millis(500))
                                            .await;
                                        " ".to_owned()
                                    }
                                };
                                if stream.write_all(chunk.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                };
                let _ = stream.write_all(text.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    base
}

/// A source that answers garbage, rewinds its numbering, fails, sends enormous or endless
/// answers, changes types, revokes the key or drips never breaks the follower: it keeps
/// serving its copies, says what is wrong in `lastError`, applies nothing half, and goes on
/// when the source behaves again.
#[tokio::test]
async fn a_hostile_source_never_breaks_the_follower() {
    let behaviour = std::sync::Arc::new(std::sync::Mutex::new(Behaviour::Good));
    let url = fake_source(behaviour.clone()).await;
    let follower = spawn_configured(true, |serve| serve.follow_poll_ms = 50).await;
    let admin = follower.admin_key().await;
    let followed = follower
        .graphql_as(
            &admin,
            r#"mutation($url: String!) { followInstance(input: {url: $url}) { followedInstance { id version } userErrors { message } } }"#,
            json!({"url": url}),
        )
        .await;
    let id = followed.ok()["followInstance"]["followedInstance"]["id"].clone();
    let municipalities = "{ municipalities { totalCount } }";
    let own_municipalities = follower
        .graphql(municipalities, json!({}))
        .await
        .ok()
        .clone();
    let copy = eventually(&follower, &admin, COPIES, json!({}), |d| {
        d["learnings"]["totalCount"] == 1
    })
    .await;
    assert_eq!(
        copy["learnings"]["nodes"][0]["origin"]["instance"],
        "Hostile"
    );
    // Its municipality is new here: a copy too, out of the own lists, in the followed ones.
    assert_eq!(
        follower.graphql(municipalities, json!({})).await.ok(),
        &own_municipalities
    );
    let copied = follower
        .graphql(
            r#"{ municipalities(filter: {origins: {own: false, followed: true}}) { nodes { name country origin { instance } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        copied.ok()["municipalities"]["nodes"],
        json!([{"name": "Hollola", "country": "FI", "origin": {"instance": "Hostile"}}])
    );
    let state = r#"query($id: ID!) { node(id: $id) { ... on FollowedInstance { version lastEvent lastError failingSince eventsApplied } } }"#;

    let cases = [
        (Behaviour::Garbage, "not JSON"),
        (Behaviour::Backwards, "went backwards"),
        (Behaviour::ServerError, "answered 500"),
        (Behaviour::HugeLine, "more than"),
        (Behaviour::Endless, "more than"),
        (Behaviour::WrongTypes, "invalid learning"),
        (Behaviour::Revoked, "refused the key"),
        (Behaviour::SlowDrip, "within 10 s"),
    ];
    for (misbehaviour, said) in cases {
        *behaviour.lock().unwrap() = misbehaviour;
        retry_now(&follower, &admin, &id).await;
        let reported = eventually(&follower, &admin, state, json!({"id": id}), |d| {
            d["node"]["lastError"]
                .as_str()
                .is_some_and(|e| e.contains(said))
        })
        .await;
        assert!(
            !reported["node"]["failingSince"].is_null(),
            "{misbehaviour:?}: {reported}"
        );
        assert_eq!(
            reported["node"]["lastEvent"], "1",
            "{misbehaviour:?}: nothing half-applied"
        );
        // The follower serves, with its copy as it was.
        let copies = follower.graphql_as(&admin, COPIES, json!({})).await;
        assert_eq!(
            copies.ok()["learnings"]["totalCount"],
            1,
            "{misbehaviour:?}"
        );
        assert_eq!(
            copies.ok()["learnings"]["nodes"][0]["titleTranslations"],
            json!([{"locale": "en", "text": "Hostile lesson"}]),
            "{misbehaviour:?}"
        );
    }

    // Behaving again, it is caught up with: the change arrives once, the problem is gone.
    *behaviour.lock().unwrap() = Behaviour::Changed;
    retry_now(&follower, &admin, &id).await;
    let healed = eventually(&follower, &admin, state, json!({"id": id}), |d| {
        d["node"]["lastEvent"] == "2" && d["node"]["lastError"].is_null()
    })
    .await;
    assert!(healed["node"]["failingSince"].is_null());
    let copies = follower.graphql_as(&admin, COPIES, json!({})).await;
    assert_eq!(copies.ok()["learnings"]["totalCount"], 1);
    assert_eq!(
        copies.ok()["learnings"]["nodes"][0]["titleTranslations"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// POSTs a query to a server process, with a key or anonymously (an empty key).
async fn post(server: &ServerProcess, key: &str, query: &str, variables: Value) -> Value {
    let request = server.client.post(server.url("/graphql"));
    let request = if key.is_empty() {
        request
    } else {
        request.bearer_auth(key)
    };
    request
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The source dies (SIGKILL) while its learnings are written and followed, and starts again:
/// the follower catches up with every learning, none lost and none twice.
#[tokio::test]
async fn a_source_killed_mid_sync_is_caught_up_with_nothing_lost_or_twice() {
    let mut source = ServerProcess::start(true, &["--instance-name", "Stroom Lahti"]).await;
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
        .args(["keys", "create", "--role", "admin", "--name", "writer"])
        .args(["--database-url", &source.database_url()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("test setup: create a key");
    let key = String::from_utf8_lossy(&created.stdout)
        .lines()
        .last()
        .expect("the key's token")
        .trim()
        .to_owned();
    let follower = spawn_configured(true, |serve| serve.follow_poll_ms = 50).await;
    let admin = follower.admin_key().await;
    // The follower reads as anonymous callers do: public learnings.
    let own_at_source = post(&source, "", "{ learnings { totalCount } }", json!({})).await["data"]
        ["learnings"]["totalCount"]
        .as_i64()
        .unwrap();
    let followed = follower
        .graphql_as(
            &admin,
            r#"mutation($url: String!) { followInstance(input: {url: $url}) { userErrors { message } } }"#,
            json!({"url": source.url("")}),
        )
        .await;
    assert_eq!(followed.ok()["followInstance"]["userErrors"], json!([]));
    let initiative = post(
        &source,
        &key,
        "{ initiatives(first: 1) { nodes { id } } }",
        json!({}),
    )
    .await["data"]["initiatives"]["nodes"][0]["id"]
        .clone();
    for n in 0..20 {
        write_learning(&source, &key, &initiative, n).await;
    }
    source = source.kill_and_restart().await;
    for n in 20..40 {
        write_learning(&source, &key, &initiative, n).await;
    }
    let copies = eventually(
        &follower,
        &admin,
        r#"query { learnings(first: 100, filter: {origins: {own: false, followed: true}}) {
            totalCount nodes { title origin { remoteId } } } }"#,
        json!({}),
        |d| d["learnings"]["totalCount"].as_i64() == Some(own_at_source + 40),
    )
    .await;
    let nodes = copies["learnings"]["nodes"].as_array().unwrap();
    let mut remote: Vec<&str> = nodes
        .iter()
        .map(|n| n["origin"]["remoteId"].as_str().unwrap())
        .collect();
    remote.sort_unstable();
    remote.dedup();
    assert_eq!(remote.len(), nodes.len(), "a learning copied twice");
    for n in 0..40 {
        let title = format!("Crash lesson {n}");
        assert_eq!(
            nodes
                .iter()
                .filter(|c| c["title"] == title.as_str())
                .count(),
            1,
            "{title}"
        );
    }
}

/// What the follower's own dashboards and files show: statistics, lists and open data.
async fn seen(app: &TestApp) -> (Value, String) {
    let stats = app
        .graphql(
            "{ initiativeStats { total } programmes { totalCount } municipalities { totalCount } }",
            json!({}),
        )
        .await
        .ok()
        .clone();
    let csv = app
        .client
        .get(app.url("/open-data/en/learnings.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (stats, csv)
}

/// How many records `search` finds for a word only the copied learning has.
async fn found(app: &TestApp, origins: Value) -> Value {
    app.graphql(
        r#"query($o: Origins) { search(query: "kwispel", origins: $o) { totalCount } }"#,
        json!({"o": origins}),
    )
    .await
    .ok()["search"]["totalCount"]
        .clone()
}

async fn write_learning(source: &ServerProcess, key: &str, initiative: &Value, n: usize) {
    let answer = post(
        source,
        key,
        r#"mutation($i: ID!, $t: String!) { createLearning(input: {initiative: $i, kind: CHALLENGE,
            title: [{locale: "en", text: $t}], body: [{locale: "en", text: "Written around a crash."}]}) {
            userErrors { message } } }"#,
        json!({"i": initiative, "t": format!("Crash lesson {n}")}),
    )
    .await;
    assert_eq!(
        answer["data"]["createLearning"]["userErrors"],
        json!([]),
        "{answer}"
    );
}

/// Pauses and resumes following: the next read is at once, whatever the pause after earlier
/// failures.
async fn retry_now(follower: &TestApp, admin: &str, id: &Value) {
    for paused in [true, false] {
        let version = follower
            .graphql_as(
                admin,
                r#"query($id: ID!) { node(id: $id) { ... on FollowedInstance { version } } }"#,
                json!({"id": id}),
            )
            .await;
        let changed = follower
            .graphql_as(
                admin,
                r#"mutation($id: ID!, $v: Int!, $p: Boolean!) { pauseFollow(input: {id: $id, version: $v, paused: $p}) { userErrors { message } } }"#,
                json!({"id": id, "v": version.ok()["node"]["version"], "p": paused}),
            )
            .await;
        assert_eq!(changed.ok()["pauseFollow"]["userErrors"], json!([]));
    }
}

/// The total of an indicator's outcomes (by code) over all time, as an instance counts it.
async fn indicator_total(app: &TestApp, code: &str, origins: Value) -> f64 {
    let indicators = app
        .graphql(
            "{ indicators(first: 100) { nodes { id code } } }",
            json!({}),
        )
        .await;
    let id = indicators.ok()["indicators"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .map(|i| i["id"].clone())
        .unwrap_or_else(|| panic!("no indicator {code}"));
    let series = app
        .graphql(
            r#"query($i: ID!, $o: Origins) { outcomeSeries(indicators: [$i], from: "2000-01-01", to: "2030-12-31",
                interval: YEAR, filter: {origins: $o}) { series { total } } }"#,
            json!({"i": id, "o": origins}),
        )
        .await;
    series.ok()["outcomeSeries"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["total"].as_str().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Three instances, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL mixed: A follows the
/// outcomes of B and C, and an indicator's outcomes across the three, matched by its code,
/// add up on A to the sum of each instance's own.
#[tokio::test]
async fn outcomes_of_three_instances_add_up_on_the_follower_by_indicator_code() {
    let b = spawn_demo_on_sqlite().await;
    let c = spawn_configured(true, |serve| serve.instance_name = "Stroom C".to_owned()).await;
    let a = spawn_configured(true, |serve| serve.follow_poll_ms = 100).await;
    let admin = a.admin_key().await;
    // C measured more than the others: one outcome of its own.
    let c_admin = c.admin_key().await;
    let indicators = c
        .graphql(
            "{ outcomes(first: 1) { nodes { indicator { id code unit } initiative { id } } } }",
            json!({}),
        )
        .await;
    let measured = indicators.ok()["outcomes"]["nodes"][0].clone();
    let code = measured["indicator"]["code"].as_str().unwrap().to_owned();
    let recorded = c
        .graphql_as(
            &c_admin,
            r#"mutation($input: RecordOutcomeInput!) { recordOutcome(input: $input) { outcome { id } userErrors { message } } }"#,
            json!({"input": {"indicator": measured["indicator"]["id"], "unit": measured["indicator"]["unit"], "value": "1234.5",
                "periodStart": "2026-06-01", "periodEnd": "2026-06-30", "initiative": measured["initiative"]["id"]}}),
        )
        .await;
    assert_eq!(recorded.ok()["recordOutcome"]["userErrors"], json!([]));

    for source in [&b, &c] {
        let followed = a
            .graphql_as(
                &admin,
                r#"mutation($url: String!) { followInstance(input: {url: $url, types: [LEARNINGS, OUTCOMES]}) {
                    followedInstance { types } userErrors { message } } }"#,
                json!({"url": source.url("")}),
            )
            .await;
        assert_eq!(
            followed.ok()["followInstance"]["followedInstance"]["types"],
            json!(["LEARNINGS", "OUTCOMES"])
        );
    }
    let (a_own, b_own, c_own) = (
        indicator_total(&a, &code, Value::Null).await,
        indicator_total(&b, &code, Value::Null).await,
        indicator_total(&c, &code, Value::Null).await,
    );
    assert!(c_own > b_own, "C's own outcome counts");
    let copies_expected = outcome_count(&b).await + outcome_count(&c).await;
    eventually(
        &a,
        &admin,
        "{ outcomes(filter: {origins: {own: false, followed: true}}) { totalCount } }",
        json!({}),
        |d| d["outcomes"]["totalCount"].as_i64() == Some(copies_expected),
    )
    .await;
    let all = indicator_total(&a, &code, json!({"own": true, "followed": true})).await;
    assert!(
        (all - (a_own + b_own + c_own)).abs() < 1e-6,
        "{all} = {a_own} + {b_own} + {c_own}"
    );
    assert_eq!(
        indicator_total(&a, &code, Value::Null).await,
        a_own,
        "A's own figures are as they were"
    );
    let only_c = a
        .graphql_as(
            &admin,
            "{ followedInstances { nodes { id name } } }",
            json!({}),
        )
        .await;
    let c_id = only_c.ok()["followedInstances"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "Stroom C")
        .map(|i| i["id"].clone())
        .unwrap();
    let c_here = indicator_total(&a, &code, json!({"own": false, "instances": [c_id]})).await;
    assert!((c_here - c_own).abs() < 1e-6, "{c_here} = {c_own}");
}

async fn outcome_count(app: &TestApp) -> i64 {
    app.graphql("{ outcomes { totalCount } }", json!({}))
        .await
        .ok()["outcomes"]["totalCount"]
        .as_i64()
        .unwrap()
}

/// Runs `stroom` with these arguments against a database (off the test's runtime, which
/// serves the instances the command talks to).
async fn stroom(database_url: &str, args: &[&str]) -> std::process::Output {
    let database_url = database_url.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_stroom"))
            .args(&args)
            .args(["--database-url", &database_url])
            .env("RUST_LOG", "warn")
            .output()
            .expect("run stroom")
    })
    .await
    .expect("run stroom")
}

/// `stroom follow add|list|remove` on the follower's database while it serves: what the
/// command line registers the running server follows, and unfollowing takes the copies out of
/// every list; mistakes are refused with a clear message and change nothing.
#[tokio::test]
async fn the_command_line_follows_lists_and_unfollows_and_copies_leave_with_it() {
    let source = spawn_configured(true, |serve| {
        serve.instance_name = "Stroom Lahti".to_owned();
    })
    .await;
    let follower = spawn_configured(true, |serve| serve.follow_poll_ms = 100).await;
    let admin = follower.admin_key().await;
    let database = follower.database_url();

    let wrong_type = stroom(
        &database,
        &["follow", "add", &source.url(""), "--types", "needs"],
    )
    .await;
    assert!(!wrong_type.status.success());
    assert!(String::from_utf8_lossy(&wrong_type.stderr).contains("`needs` cannot be followed"));
    let nowhere = stroom(&database, &["follow", "add", "http://127.0.0.1:9"]).await;
    assert!(!nowhere.status.success());
    assert!(
        String::from_utf8_lossy(&nowhere.stderr).contains("cannot be reached"),
        "{nowhere:?}"
    );
    let none = stroom(&database, &["follow", "list"]).await;
    assert_eq!(
        String::from_utf8_lossy(&none.stdout).trim(),
        "No instance is followed."
    );

    let added = stroom(
        &database,
        &[
            "follow",
            "add",
            &source.url(""),
            "--types",
            "learnings,outcomes",
        ],
    )
    .await;
    assert!(added.status.success(), "{added:?}");
    assert!(String::from_utf8_lossy(&added.stdout).starts_with("Following Stroom Lahti at "));
    let copies = eventually(&follower, &admin, COPIES, json!({}), |d| {
        d["learnings"]["totalCount"].as_i64().is_some_and(|n| n > 0)
    })
    .await;
    assert!(copies["learnings"]["totalCount"].as_i64().unwrap() > 0);
    let listed =
        String::from_utf8_lossy(&stroom(&database, &["follow", "list"]).await.stdout).to_string();
    assert!(
        listed.contains("Stroom Lahti") && listed.contains(source.url("").trim_end_matches('/')),
        "{listed}"
    );

    let removed = stroom(&database, &["follow", "remove", &source.url("")]).await;
    assert!(removed.status.success(), "{removed:?}");
    let gone = follower.graphql_as(&admin, COPIES, json!({})).await;
    assert_eq!(gone.ok()["learnings"]["totalCount"], 0);
    let node = follower
        .graphql(
            r#"query($id: ID!) { node(id: $id) { ... on Learning { origin { withdrawn } } } }"#,
            json!({"id": copies["learnings"]["nodes"][0]["id"]}),
        )
        .await;
    assert_eq!(node.ok()["node"]["origin"]["withdrawn"], true);
    let again = stroom(&database, &["follow", "remove", &source.url("")]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("No followed instance is at"));
}

/// Two instances of the follower over one database (as behind a load balancer) follow the same
/// source at once: every learning is copied once, and the cursor is where the source's feed
/// ends.
#[tokio::test]
async fn two_followers_over_one_database_copy_each_learning_once() {
    let source = spawn_configured(true, |serve| {
        serve.instance_name = "Stroom Lahti".to_owned()
    })
    .await;
    let source_admin = source.admin_key().await;
    let follower = spawn_configured(true, |serve| serve.follow_poll_ms = 20).await;
    let twin = spawn_instance(&follower, None, |serve| serve.follow_poll_ms = 20).await;
    let admin = follower.admin_key().await;
    let followed = follower
        .graphql_as(
            &admin,
            r#"mutation($url: String!) { followInstance(input: {url: $url}) { userErrors { message } } }"#,
            json!({"url": source.url("")}),
        )
        .await;
    assert_eq!(followed.ok()["followInstance"]["userErrors"], json!([]));
    let before = source
        .graphql("{ learnings { totalCount } }", json!({}))
        .await
        .ok()["learnings"]["totalCount"]
        .as_i64()
        .unwrap();
    // The first read done (its learnings counted once), the source writes on.
    eventually(&follower, &admin, COPIES, json!({}), |d| {
        d["learnings"]["totalCount"].as_i64() == Some(before)
    })
    .await;
    let initiative = source.find_id("initiatives", "klusbib").await;
    for n in 0..30 {
        let created = source
            .graphql_as(
                &source_admin,
                r#"mutation($i: ID!, $t: String!) { createLearning(input: {initiative: $i, kind: CHALLENGE,
                    title: [{locale: "en", text: $t}], body: [{locale: "en", text: "Twice followed."}]}) { userErrors { message } } }"#,
                json!({"i": initiative, "t": format!("Twin lesson {n}")}),
            )
            .await;
        assert_eq!(created.ok()["createLearning"]["userErrors"], json!([]));
    }
    let public = source
        .graphql("{ learnings { totalCount } }", json!({}))
        .await
        .ok()["learnings"]["totalCount"]
        .as_i64()
        .unwrap();
    let copies = eventually(&twin, &admin, COPIES, json!({}), |d| {
        d["learnings"]["totalCount"].as_i64() == Some(public)
    })
    .await;
    let mut remote: Vec<&str> = copies["learnings"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["origin"]["remoteId"].as_str().unwrap())
        .collect();
    let all = remote.len();
    remote.sort_unstable();
    remote.dedup();
    assert_eq!(remote.len(), all, "a learning copied twice");
    let head = source
        .graphql("{ changes(last: 1) { nodes { id } } }", json!({}))
        .await
        .ok()["changes"]["nodes"][0]["id"]
        .clone();
    eventually(
        &follower,
        &admin,
        "{ followedInstances { nodes { lastEvent } } }",
        json!({}),
        |d| d["followedInstances"]["nodes"][0]["lastEvent"] == head,
    )
    .await;
    // Each learning of the first read and each event after it applied once, by one of them.
    let applied = follower
        .graphql_as(
            &admin,
            "{ followedInstances { nodes { eventsApplied } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        applied.ok()["followedInstances"]["nodes"][0]["eventsApplied"],
        before + 30
    );
    // Neither got in the other's way: no batch was refused as a duplicate.
    let errors = format!(
        "stroom_follow_errors_total{{instance=\"{}\"}}",
        source.url("").trim_end_matches('/')
    );
    let metrics = follower.metrics_text().await;
    assert!(
        !metrics.contains(&errors),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("stroom_follow"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Following acts for the admin key that followed: revoked, following pauses within a poll and
/// says why, nothing written at the source afterwards arrives; resumed by another admin, it
/// acts for that admin's key and catches up.
#[tokio::test]
async fn revoking_the_key_that_followed_pauses_following_within_a_poll() {
    let source = spawn_configured(true, |serve| {
        serve.instance_name = "Stroom Lahti".to_owned()
    })
    .await;
    let source_admin = source.admin_key().await;
    let follower = spawn_configured(true, |serve| serve.follow_poll_ms = 50).await;
    let follower_key = follower.admin_key().await;
    let other_admin = follower
        .key("Second admin", entity::enums::KeyRole::Admin, None)
        .await;
    let followed = follower
        .graphql_as(
            &follower_key,
            r#"mutation($url: String!) { followInstance(input: {url: $url}) { followedInstance { id } userErrors { message } } }"#,
            json!({"url": source.url("")}),
        )
        .await;
    let id = followed.ok()["followInstance"]["followedInstance"]["id"].clone();
    let before = source
        .graphql("{ learnings { totalCount } }", json!({}))
        .await
        .ok()["learnings"]["totalCount"]
        .as_i64()
        .unwrap();
    eventually(&follower, &other_admin, COPIES, json!({}), |d| {
        d["learnings"]["totalCount"].as_i64() == Some(before)
    })
    .await;

    let key_id = follower
        .graphql_as(&follower_key, "{ viewer { apiKey { id } } }", json!({}))
        .await
        .ok()["viewer"]["apiKey"]["id"]
        .clone();
    let revoked = follower
        .graphql_as(
            &other_admin,
            r#"mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { active } } }"#,
            json!({"id": key_id}),
        )
        .await;
    assert_eq!(revoked.ok()["revokeApiKey"]["apiKey"]["active"], false);
    let state =
        r#"query($id: ID!) { node(id: $id) { ... on FollowedInstance { paused lastError } } }"#;
    let paused = eventually(&follower, &other_admin, state, json!({"id": id}), |d| {
        d["node"]["paused"] == true
    })
    .await;
    assert!(
        paused["node"]["lastError"]
            .as_str()
            .unwrap()
            .contains("the API key that followed it was revoked"),
        "{paused}"
    );
    let initiative = source.find_id("initiatives", "klusbib").await;
    let written = source
        .graphql_as(
            &source_admin,
            r#"mutation($i: ID!) { createLearning(input: {initiative: $i, kind: CHALLENGE,
                title: [{locale: "en", text: "After the revocation"}], body: [{locale: "en", text: "Text"}]}) { userErrors { message } } }"#,
            json!({"i": initiative}),
        )
        .await;
    assert_eq!(written.ok()["createLearning"]["userErrors"], json!([]));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let copies = follower.graphql_as(&other_admin, COPIES, json!({})).await;
    assert_eq!(
        copies.ok()["learnings"]["totalCount"],
        before,
        "applied after the revocation"
    );

    // Resumed by another admin: it acts for that key and catches up.
    let version = follower
        .graphql_as(
            &other_admin,
            r#"query($id: ID!) { node(id: $id) { ... on FollowedInstance { version } } }"#,
            json!({"id": id}),
        )
        .await;
    let resumed = follower
        .graphql_as(
            &other_admin,
            r#"mutation($id: ID!, $v: Int!) { pauseFollow(input: {id: $id, version: $v, paused: false}) { userErrors { message } } }"#,
            json!({"id": id, "v": version.ok()["node"]["version"]}),
        )
        .await;
    assert_eq!(resumed.ok()["pauseFollow"]["userErrors"], json!([]));
    eventually(&follower, &other_admin, COPIES, json!({}), |d| {
        d["learnings"]["totalCount"].as_i64() == Some(before + 1)
    })
    .await;
}
