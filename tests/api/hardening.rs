//! Abuse limits, each just under and just over; rate limits; cache, CORS and trace headers;
//! persisted queries.
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_configured};

fn nested(depth: usize) -> String {
    // `areas { nodes { … parent … } }`: areas and nodes are two levels, each parent one more.
    let parents = depth - 3;
    format!(
        "{{ areas(first: 1) {{ nodes {{ {} id {} }} }} }}",
        "parent { ".repeat(parents),
        "} ".repeat(parents)
    )
}

#[tokio::test]
async fn each_limit_holds_just_under_and_refuses_just_over() {
    let app = spawn_app().await;
    let check = |reply: &crate::helpers::Reply, limit: &str| {
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.code(), "QUERY_TOO_COMPLEX");
        assert_eq!(reply.errors()[0]["extensions"]["limit"], limit);
        assert!(reply.body.get("data").is_none());
    };
    // Depth: 12 levels pass, 13 do not.
    app.graphql(&nested(12), json!({})).await.ok();
    check(&app.graphql(&nested(13), json!({})).await, "depth");

    // Records: 100 + 100×100 + 100×100×4 = 50,100 is over 50,000; with 3 inside, 40,100 passes.
    let wide = |inner: u32| {
        format!(
            "{{ initiatives(first: 100) {{ nodes {{ needs(first: 100) {{ nodes {{ initiatives(first: {inner}) {{ nodes {{ id }} }} }} }} }} }} }}"
        )
    };
    let under = app.graphql(&wide(3), json!({})).await;
    assert_eq!(
        under.ok()["initiatives"]["nodes"].as_array().unwrap().len(),
        13
    );
    assert_eq!(under.body["extensions"]["cost"]["nodes"], 40_100);
    assert_eq!(under.body["extensions"]["cost"]["points"], 401);
    let over = app.graphql(&wide(4), json!({})).await;
    check(&over, "nodes");
    assert_eq!(over.errors()[0]["extensions"]["actual"], 50_100);

    // Aliases: 30 pass, 31 do not.
    let aliases = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    app.graphql(&aliases(30), json!({})).await.ok();
    check(&app.graphql(&aliases(31), json!({})).await, "aliases");

    // Directives: 30 pass, 31 do not.
    let directives = |n: usize| format!("{{ __typename {} }}", "@include(if: true) ".repeat(n));
    app.graphql(&directives(30), json!({})).await.ok();
    check(&app.graphql(&directives(31), json!({})).await, "directives");

    // Characters: 20,000 pass, 20,001 do not.
    let padded = |n: usize| {
        let base = "{ __typename }";
        format!("{base}{}", " ".repeat(n - base.len()))
    };
    app.graphql(&padded(20_000), json!({})).await.ok();
    check(&app.graphql(&padded(20_001), json!({})).await, "characters");

    // Tokens: 5,000 pass, 5,001 do not. Each `...F` is two tokens in five characters; the
    // rest of the document is ten tokens, or eleven with a second `__typename`.
    let tokens = |extra: &str| {
        format!(
            "{{ __typename {extra}{} }} fragment F on Query {{ __typename }}",
            "...F ".repeat(2495)
        )
    };
    app.graphql(&tokens(""), json!({})).await.ok();
    check(
        &app.graphql(&tokens("__typename "), json!({})).await,
        "tokens",
    );
}

#[tokio::test]
async fn the_body_size_and_the_time_are_limited_too() {
    let app = spawn_configured(true, |s| s.max_body_bytes = 10_000).await;
    let body = |size: usize| {
        let mut text = json!({"query": "{ __typename }", "extensions": {"pad": ""}}).to_string();
        let pad = size - text.len();
        text =
            json!({"query": "{ __typename }", "extensions": {"pad": "x".repeat(pad)}}).to_string();
        text
    };
    let under = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body(10_000))
        .send()
        .await
        .unwrap();
    assert_eq!(under.status(), 200);
    let over = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body(10_001))
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), 413);
    let reply = TestApp::reply(over).await;
    assert!(reply.message().contains("10000 bytes"));

    let slow = spawn_configured(true, |s| s.request_timeout_ms = 1).await;
    let heavy = "{ initiatives(first: 100) { nodes { needs { nodes { title } } themes { nodes { code } } partners { nodes { role } } } } }";
    let reply = slow.graphql(heavy, json!({})).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.code(), "TIMEOUT");
    // The same query within the default time limit is served.
    app.graphql(heavy, json!({})).await.ok();
}

/// The introspection query GraphiQL sends, nested deeper than any limit allows ordinary queries.
pub(crate) const INTROSPECTION: &str = r#"query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}"#;

#[tokio::test]
async fn graphiql_introspection_passes_the_limits_and_costs_a_point_per_thousand_objects() {
    let app = spawn_app().await;
    let reply = app.graphql(INTROSPECTION, json!({})).await;
    let types = reply.ok()["__schema"]["types"].as_array().unwrap().len();
    assert!(types > 50);
    // Its nodes are the objects of the answer: every element of every list in it.
    fn elements(value: &Value) -> u64 {
        match value {
            Value::Array(items) => items.len() as u64 + items.iter().map(elements).sum::<u64>(),
            Value::Object(map) => map.values().map(elements).sum(),
            _ => 0,
        }
    }
    let objects = elements(reply.data());
    assert_eq!(reply.body["extensions"]["cost"]["nodes"], objects);
    assert_eq!(
        reply.body["extensions"]["cost"]["points"],
        objects.div_ceil(1000)
    );
}

#[tokio::test]
async fn a_flood_from_one_key_is_throttled_while_others_are_served() {
    let app = spawn_configured(true, |s| {
        s.rate_limit_points = 10;
        s.rate_limit_anonymous_points = 3;
        s.client_ip_header = Some("x-forwarded-for".into());
    })
    .await;
    let flooder = app.partner_key().await;
    let other = app
        .key("Other partner", entity::enums::KeyRole::Partner, None)
        .await;
    let query = "{ initiatives(first: 100) { totalCount } rateLimit { limit cost used remaining resetAt } }";
    // Each request costs 1 point: ten pass.
    for i in 1..=10u64 {
        let reply = app.graphql_as(&flooder, query, json!({})).await;
        let limit = &reply.ok()["rateLimit"];
        assert_eq!(limit["used"], i);
        assert_eq!(limit["remaining"], 10 - i);
        assert_eq!(reply.body["extensions"]["rateLimit"]["remaining"], 10 - i);
    }
    let bearer = format!("Bearer {flooder}");
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", bearer)
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after));
    assert_eq!(response.headers()["ratelimit-remaining"], "0");
    assert_eq!(response.headers()["x-ratelimit-limit"], "10");
    let reply = TestApp::reply(response).await;
    assert_eq!(reply.code(), "RATE_LIMITED");
    assert!(reply.message().contains("Retry after"));
    // Another key is served meanwhile.
    assert_eq!(
        app.graphql_as(&other, query, json!({})).await.ok()["rateLimit"]["used"],
        1
    );
    // Without a key, each address has its own, smaller budget.
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    for _ in 0..3 {
        app.graphql_with(query, json!({}), &from("203.0.113.7"))
            .await
            .ok();
    }
    assert_eq!(
        app.graphql_with(query, json!({}), &from("203.0.113.7"))
            .await
            .status,
        429
    );
    assert_eq!(
        app.graphql_with(query, json!({}), &from("198.51.100.9"))
            .await
            .ok()["rateLimit"]["limit"],
        3
    );
    // A costly query spends more: 1 + ⌈(100 + 100×20) / 100⌉… refused at once when over budget.
    let costly = app
        .graphql_as(
            &other,
            "{ initiatives(first: 100) { nodes { themes { nodes { code } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(costly.status, 429);
    assert_eq!(
        costly.body["errors"][0]["extensions"]["rateLimit"]["cost"],
        21
    );
}

#[tokio::test]
async fn anonymous_gets_are_cacheable_and_persisted_queries_save_the_query() {
    let app = spawn_app().await;
    let query = "{ themes(first: 3) { nodes { code } } }";
    let hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(query.as_bytes()))
    };
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}}).to_string();
    // Unknown hash: the client is asked for the query.
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", crate::helpers::ACCEPT)
        .query(&[("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        TestApp::reply(response).await.code(),
        "PERSISTED_QUERY_NOT_FOUND"
    );
    // Query and hash once…
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", query), ("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // …then the hash alone, as a short, cacheable GET.
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, no-cache");
    assert!(
        response.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("Accept-Language")
    );
    let reply = TestApp::reply(response).await;
    assert_eq!(reply.ok()["themes"]["nodes"].as_array().unwrap().len(), 3);
    // A query that does not match its hash is refused.
    let wrong = app
        .client
        .post(app.url("/graphql"))
        .header("accept", crate::helpers::ACCEPT)
        .json(&json!({"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    // POSTs and requests with a key are never cached.
    let post = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.headers()["cache-control"], "no-store");
    let key = app.partner_key().await;
    let keyed = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", query)])
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn cors_compression_and_request_ids() {
    let app = spawn_configured(true, |s| {
        s.cors_origins = "https://dashboard.mechelen.be".into()
    })
    .await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", "https://dashboard.mechelen.be")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, authorization",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://dashboard.mechelen.be"
    );
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert!(
        preflight
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let stranger = app
        .client
        .post(app.url("/graphql"))
        .header("origin", "https://elsewhere.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert!(
        stranger
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let open = spawn_app().await;
    let any = open
        .client
        .post(open.url("/graphql"))
        .header("origin", "https://anywhere.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(any.headers()["access-control-allow-origin"], "*");

    // Large answers are compressed for clients that accept it.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = raw
        .post(app.url("/graphql"))
        .header("accept-encoding", "gzip")
        .json(&json!({"query": "{ learnings(first: 100) { nodes { body bodyTranslations { text } } } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");

    // Request IDs: kept when given, made up otherwise.
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "dashboard-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "dashboard-42");
    let made: Value = json!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .headers()["x-request-id"]
            .to_str()
            .unwrap()
    );
    assert_eq!(made.as_str().unwrap().len(), 24);
}

#[tokio::test]
async fn nesting_fan_out_introspection_and_defaults_hold_just_under_and_refuse_just_over() {
    let app = spawn_app().await;
    let refused = |reply: &crate::helpers::Reply, limit: &str| {
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.code(), "QUERY_TOO_COMPLEX", "{}", reply.body);
        assert_eq!(
            reply.errors()[0]["extensions"]["limit"],
            limit,
            "{}",
            reply.body
        );
    };
    let not_refused = |reply: &crate::helpers::Reply| {
        assert!(
            reply.body["errors"][0]["extensions"]["code"] != "QUERY_TOO_COMPLEX",
            "{}",
            reply.body
        );
    };
    // Brackets in the document: the operation and the argument list are two levels.
    let lists = |depth: usize| {
        format!(
            "{{ themes(filter: {{codes: {}\"x\"{}}}) {{ totalCount }} }}",
            "[".repeat(depth - 3),
            "]".repeat(depth - 3)
        )
    };
    not_refused(&app.graphql(&lists(32), json!({})).await);
    refused(&app.graphql(&lists(33), json!({})).await, "nesting");
    // Lists in the variables: the variables object is one level.
    let deep = |depth: usize| -> Value {
        serde_json::from_str(&format!("{}\"x\"{}", "[".repeat(depth), "]".repeat(depth))).unwrap()
    };
    let query = "query($v: [String!]) { themes(filter: {codes: $v}) { totalCount } }";
    not_refused(&app.graphql(query, json!({"v": deep(31)})).await);
    refused(&app.graphql(query, json!({"v": deep(32)})).await, "nesting");
    for (depth, over) in [(31, false), (32, true)] {
        let variables = json!({"v": deep(depth)}).to_string();
        let response = app
            .client
            .get(app.url("/graphql"))
            .header("accept", crate::helpers::ACCEPT)
            .query(&[("query", query), ("variables", variables.as_str())])
            .send()
            .await
            .unwrap();
        let reply = TestApp::reply(response).await;
        if over {
            refused(&reply, "nesting");
        } else {
            not_refused(&reply);
        }
    }

    // Fragment fan-out: 2^12 fields once spread pass, 2^13 do not.
    let fan_out = |n: usize| {
        let mut doc = String::from("{ ...F0 }");
        for i in 0..n {
            doc.push_str(&format!(
                " fragment F{i} on Query {{ ...F{} ...F{} }}",
                i + 1,
                i + 1
            ));
        }
        doc.push_str(&format!(" fragment F{n} on Query {{ __typename }}"));
        doc
    };
    app.graphql(&fan_out(12), json!({})).await.ok();
    let over = app.graphql(&fan_out(13), json!({})).await;
    refused(&over, "fields");
    assert_eq!(over.errors()[0]["extensions"]["actual"], 8192);

    // Introspection: two nested type lists pass, three do not.
    app.graphql(
        "{ __schema { types { fields { type { ofType { fields { name } } } } } } }",
        json!({}),
    )
    .await
    .ok();
    refused(
        &app.graphql(
            "{ __schema { types { fields { type { ofType { fields { type { ofType { fields { name } } } } } } } } } }",
            json!({}),
        )
        .await,
        "introspectionDepth",
    );

    // A variable's default counts like a literal.
    let nested = |declaration: &str| {
        format!(
            "query({declaration}) {{ initiatives(first: $n) {{ nodes {{ needs(first: $n) {{ nodes {{ initiatives(first: 4) {{ nodes {{ id }} }} }} }} }} }} }}"
        )
    };
    let over = app.graphql(&nested("$n: Int = 100"), json!({})).await;
    refused(&over, "nodes");
    assert_eq!(over.errors()[0]["extensions"]["actual"], 50_100);
    let given = app
        .graphql(&nested("$n: Int = 100"), json!({"n": 10}))
        .await;
    assert_eq!(
        given.ok()["initiatives"]["nodes"].as_array().unwrap().len(),
        10
    );
}

#[tokio::test]
async fn nul_characters_are_refused_in_every_text_and_nothing_is_written() {
    let app = spawn_app().await;
    let key = app.editor_key("Editor", "Mechelen").await;
    let municipality = app
        .graphql(
            "{ municipalities(filter: {search: \"Mechelen\"}) { nodes { id } } }",
            json!({}),
        )
        .await
        .ok()["municipalities"]["nodes"][0]["id"]
        .clone();
    let before = app.fingerprint().await;
    let cases = [
        (
            "query($s: String) { initiatives(filter: {search: $s}) { totalCount } }",
            json!({"s": "repair\u{0}"}),
            "filter.search",
        ),
        (
            "{ search(query: \"caf\\u0000e\") { totalCount } }",
            json!({}),
            "query",
        ),
        (
            "query($c: String) { needs(after: $c) { totalCount } }",
            json!({"c": "\u{0}"}),
            "after",
        ),
        (
            "mutation($m: ID!, $n: String!) { createInitiative(input: {municipality: $m, name: [{locale: \"en\", text: $n}], initiatorKind: CITIZENS, stage: PILOT, businessModel: VOLUNTEER, affordability: FREE}) { initiative { id } userErrors { message } } }",
            json!({"m": municipality, "n": "Bike\u{0}repair"}),
            "input.name[0].text",
        ),
    ];
    for (query, variables, field) in cases {
        let reply = app.graphql_as(&key, query, variables).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.code(), "BAD_USER_INPUT", "{}", reply.body);
        assert_eq!(reply.errors()[0]["extensions"]["field"], field);
        assert!(reply.message().contains("NUL"), "{}", reply.message());
    }
    assert_eq!(before, app.fingerprint().await, "nothing was written");
}

#[tokio::test]
async fn shared_caches_get_nothing_of_one_caller() {
    let app = spawn_app().await;
    let get = |query: &'static str, extensions: Option<String>| {
        let mut params = vec![("query", query.to_owned())];
        if let Some(extensions) = extensions {
            params = vec![("extensions", extensions)];
        }
        app.client
            .get(app.url("/graphql"))
            .header("accept", crate::helpers::ACCEPT)
            .query(&params)
            .send()
    };
    // A cacheable answer carries no rate-limit usage, in headers or extensions.
    let cached = get("{ themes(first: 2) { totalCount } }", None)
        .await
        .unwrap();
    assert_eq!(cached.headers()["cache-control"], "public, no-cache");
    assert!(cached.headers().get("ratelimit-remaining").is_none());
    assert!(cached.headers().get("x-ratelimit-used").is_none());
    let body: Value = cached.json().await.unwrap();
    assert!(body["extensions"].get("rateLimit").is_none(), "{body}");
    assert!(body["extensions"]["cost"].is_object());
    // Asking who one is, or one's budget, is never cacheable.
    for query in [
        "{ rateLimit { remaining } }",
        "{ viewer { role } themes { totalCount } }",
    ] {
        let own = get(query, None).await.unwrap();
        assert_eq!(own.headers()["cache-control"], "no-store", "{query}");
        assert!(own.headers().get("ratelimit-remaining").is_some());
    }
    // Refusals are not kept either: an unknown persisted query, a bad one, a parse error.
    let unknown =
        json!({"persistedQuery": {"version": 1, "sha256Hash": "ab".repeat(32)}}).to_string();
    let response = get("", Some(unknown)).await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        TestApp::reply(response).await.code(),
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let version = json!({"persistedQuery": {"version": 2, "sha256Hash": "ab"}}).to_string();
    let response = get("", Some(version)).await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        TestApp::reply(response).await.code(),
        "PERSISTED_QUERY_NOT_SUPPORTED"
    );
    let response = get("{ themes {", None).await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
}

/// A query sent with its hash is stored only for a request that was admitted and whose
/// document is valid: one refused for its rate limit, for its cost, or by validation leaves
/// nothing behind, on this instance or (through Redis) on another.
#[tokio::test]
async fn persisted_queries_are_stored_only_for_admitted_valid_requests() {
    use sha2::{Digest, Sha256};
    let redis = std::env::var("TEST_REDIS_URL").ok();
    let app = spawn_configured(true, |serve| {
        serve.rate_limit_anonymous_points = 40;
        serve.redis_url = redis.clone();
        serve.redis_prefix = format!("apq-test-{}:", std::process::id());
    })
    .await;
    let other = crate::helpers::spawn_instance(&app, None, |serve| {
        serve.redis_url = redis.clone();
        serve.redis_prefix = format!("apq-test-{}:", std::process::id());
    })
    .await;
    let partner = app.partner_key().await;
    let register = |query: String, key: Option<String>| {
        let app = &app;
        async move {
            let hash = hex::encode(Sha256::digest(query.as_bytes()));
            let mut post = app.client.post(app.url("/graphql")).json(&json!({
                "query": query,
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}},
            }));
            if let Some(key) = key {
                post = post.bearer_auth(key);
            }
            (hash, TestApp::reply(post.send().await.unwrap()).await)
        }
    };
    // Asked by hash alone, with a budget to spare: found or not.
    let known = |target: &TestApp, hash: String| {
        let (client, url, key) = (
            target.client.clone(),
            target.url("/graphql"),
            partner.clone(),
        );
        async move {
            let response = client
                .post(url)
                .bearer_auth(key)
                .json(
                    &json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}}),
                )
                .send()
                .await
                .unwrap();
            TestApp::reply(response).await.body["errors"][0]["extensions"]["code"]
                != "PERSISTED_QUERY_NOT_FOUND"
        }
    };
    // Refused by validation: an unknown field.
    let (invalid, reply) = register("{ themes(first: 1) { noSuchField } }".into(), None).await;
    assert_eq!(reply.code(), "GRAPHQL_VALIDATION_FAILED");
    // Refused for its cost: more than the anonymous budget at once.
    let (costly, reply) = register(
        "{ initiatives(first: 100) { nodes { needs(first: 100) { totalCount } } } }".into(),
        None,
    )
    .await;
    assert_eq!(reply.code(), "RATE_LIMITED", "{}", reply.body);
    // Admitted: stored, and found on the other instance too when Redis is shared.
    let (admitted, reply) = register("{ themes(first: 1) { totalCount } }".into(), None).await;
    assert!(
        reply.body.to_string().contains("totalCount"),
        "{}",
        reply.body
    );
    // The anonymous budget is spent now: a registration is refused with the request.
    let mut refused = Vec::new();
    for i in 0..40 {
        let (hash, reply) = register(
            format!("{{ themes(first: {}) {{ totalCount }} }}", i + 2),
            None,
        )
        .await;
        if reply.body["errors"][0]["extensions"]["code"] == "RATE_LIMITED" {
            refused.push(hash);
        }
    }
    assert!(!refused.is_empty(), "the budget was never exhausted");
    assert!(
        known(&app, admitted.clone()).await,
        "the admitted query was not stored"
    );
    if redis.is_some() {
        assert!(known(&other, admitted).await, "not shared through Redis");
    }
    for hash in [invalid, costly].into_iter().chain(refused) {
        assert!(
            !known(&app, hash.clone()).await,
            "a refused query was stored"
        );
        assert!(!known(&other, hash).await, "a refused query was stored");
    }
}

/// A body larger than the limit is refused with 413 however it comes: announced by
/// `Content-Length` (at once, even for 10 GB never sent), sent whole (the client reads the 413,
/// not a reset connection), or streamed without a length.
#[tokio::test]
async fn bodies_over_the_limit_get_a_413_in_every_form() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_configured(true, |s| s.max_body_bytes = 64 * 1024).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    // Announced and never sent: answered at once, not after the body timeout.
    for (announced, expect) in [
        ("10737418240", ""),
        ("70000", ""),
        ("10737418240", "100-continue"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let expect = if expect.is_empty() {
            String::new()
        } else {
            format!("expect: {expect}\r\n")
        };
        stream
            .write_all(format!("POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n{expect}content-length: {announced}\r\n\r\n{{\"query\":").as_bytes())
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut answer = vec![0u8; 1024];
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
                .await
                .expect("no answer within 5 s")
                .unwrap();
        let head = String::from_utf8_lossy(&answer[..read]).to_string();
        assert!(
            head.starts_with("HTTP/1.1 413"),
            "{announced} {expect:?}: {head}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    // Sent whole, 10 MB: the client gets the 413.
    for size in [100_000usize, 10 * 1024 * 1024] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(format!("{{\"query\":\"{}\"}}", "x".repeat(size)))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{size} bytes: {e}"));
        assert_eq!(response.status(), 413, "{size} bytes");
    }
    // Streamed without a length (chunked), past the limit.
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    stream
        .write_all(format!("POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let chunk = format!("1000\r\n{}\r\n", " ".repeat(4096));
    for _ in 0..20 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("no answer within 5 s")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(head.starts_with("HTTP/1.1 413"), "chunked: {head}");
    // And the server serves on.
    let reply = app
        .graphql("{ themes(first: 1) { totalCount } }", json!({}))
        .await;
    assert!(reply.body.to_string().contains("totalCount"));
}
