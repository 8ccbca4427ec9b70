//! The HTTP surface follows the GraphQL-over-HTTP specification.
use serde_json::json;

use crate::helpers::{ACCEPT, TestApp, spawn_app};

#[tokio::test]
async fn get_serves_queries_and_refuses_mutations() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", ACCEPT)
        .query(&[
            (
                "query",
                "query($f: Int) { themes(first: $f) { totalCount } }",
            ),
            ("variables", r#"{"f": 1}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
    let reply = TestApp::reply(response).await;
    assert!(reply.ok()["themes"]["totalCount"].as_u64().unwrap() > 10);

    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");

    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", ACCEPT)
        .query(&[("variables", "{}")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ themes { totalCount } }"), ("variables", "[1]")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn graphiql_answers_a_browser() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let page = response.text().await.unwrap();
    // Every script and style comes from this server, pinned by version; none from a CDN.
    assert!(!page.contains("https://"), "{page}");
    let assets: Vec<&str> = page
        .split(['"', '\''])
        .filter(|part| part.starts_with("/assets/"))
        .collect();
    assert_eq!(assets.len(), 6, "{page}");
    for asset in assets {
        let response = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(response.bytes().await.unwrap().len() > 50, "{asset}");
    }
    let unknown = app
        .client
        .get(app.url("/assets/graphiql-0.0.1/graphiql.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn the_dashboard_is_a_page_of_this_server_alone() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let page = response.text().await.unwrap();
    assert!(!page.contains("https://"), "{page}");
    let assets: Vec<&str> = page
        .split(['"', '\''])
        .filter(|part| part.starts_with("/assets/"))
        .collect();
    assert_eq!(assets.len(), 3, "{page}");
    for asset in assets {
        let response = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 1000, "{asset}");
    }
    let landing = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("href=\"/dashboard\""), "{landing}");
    // The front door speaks the caller's language.
    for (asked, lang, word) in [
        ("nl-BE,nl;q=0.9", "nl", "programmadashboard"),
        ("fr", "fr", "tableau de bord"),
        ("de-DE", "de", "Programm-Dashboard"),
        ("es, en;q=0.5", "en", "programme dashboard"),
    ] {
        let response = app
            .client
            .get(app.url("/"))
            .header("accept-language", asked)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-language"], lang, "{asked}");
        let page = response.text().await.unwrap();
        assert!(page.contains(&format!("<html lang=\"{lang}\">")), "{asked}");
        assert!(page.contains(word), "{asked}: {page}");
    }
}

#[tokio::test]
async fn the_root_is_a_landing_page_and_the_schema_is_served() {
    let app = spawn_app().await;
    let landing = app
        .client
        .get(app.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(landing.status(), 200);
    assert!(landing.headers().contains_key("content-security-policy"));
    let page = landing.text().await.unwrap();
    for link in [
        "/graphql",
        "/schema.graphql",
        "/open-data/",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(page.contains(&format!("href=\"{link}\"")), "{link}");
    }
    let schema = app
        .client
        .get(app.url("/schema.graphql"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(schema, stroom_api::schema::sdl());
}

#[tokio::test]
async fn accept_picks_the_media_type_and_the_status_codes() {
    let app = spawn_app().await;
    let bad = json!({"query": "{ nope }"});
    let legacy = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/json")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), 200);
    assert_eq!(
        legacy.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let modern = app
        .client
        .post(app.url("/graphql"))
        .header("accept", ACCEPT)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(modern.status(), 400);
    assert_eq!(
        modern.headers()["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
    // A client that names neither media type gets `application/json`, which all clients read.
    for accept in [
        None,
        Some("*/*"),
        Some("application/*"),
        Some("text/html, */*;q=0.8"),
    ] {
        let mut request = app.client.post(app.url("/graphql")).json(&bad);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{accept:?}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json; charset=utf-8",
            "{accept:?}"
        );
    }
    let unacceptable = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/xml")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(unacceptable.status(), 406);
}

#[tokio::test]
async fn malformed_bodies_are_4xx_with_a_clear_error() {
    let app = spawn_app().await;
    for (content_type, body, status) in [
        (None, r#"{"query": "{ themes { totalCount } }"}"#, 415),
        (
            Some("text/plain"),
            r#"{"query": "{ themes { totalCount } }"}"#,
            415,
        ),
        (Some("application/json"), "{not json", 400),
        (
            Some("application/json"),
            r#"[{"query": "{ themes { totalCount } }"}]"#,
            400,
        ),
        (Some("application/json"), r#"{"variables": {}}"#, 400),
        (Some("application/json"), r#"{"query": 42}"#, 400),
        (
            Some("application/json"),
            r#"{"query": "{ themes { totalCount } }", "variables": [1]}"#,
            400,
        ),
    ] {
        let mut request = app.client.post(app.url("/graphql")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{content_type:?} {body}");
        let reply = TestApp::reply(response).await;
        assert!(!reply.message().is_empty());
    }
    let huge = format!(
        r#"{{"query": "{{ themes {{ totalCount }} }}", "x": "{}"}}"#,
        "a".repeat(300_000)
    );
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn fields_come_back_in_the_order_asked() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": "{ themes { totalCount } areas { totalCount } municipalities { totalCount pageInfo { hasNextPage } } a: areas { pageInfo { hasNextPage } totalCount } }"}))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let positions: Vec<usize> = ["\"themes\"", "\"areas\"", "\"municipalities\"", "\"a\""]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        text.contains(r#""a":{"pageInfo":{"hasNextPage":false},"totalCount":4}"#),
        "{text}"
    );
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["migrations"], "current");
    app.graphql("query Dashboard { themes { totalCount } }", json!({}))
        .await;
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("stroom_db_statements_total"));
    assert!(metrics.contains("operation=\"Dashboard\""), "{metrics}");
}
