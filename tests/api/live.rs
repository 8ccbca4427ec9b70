//! Live subscriptions over WebSocket (`graphql-transport-ws`) and server-sent events: changes
//! made through another instance arrive once and in order, with the rights of the subscriber's
//! key; subscriptions are refused as queries are (keys, limits, bad input); connections and
//! subscriptions are capped per client; shutdown closes them cleanly.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{TestApp, spawn_configured, spawn_instance};

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` client, as the `graphql-ws` library speaks it.
struct Socket(Stream);

/// What the server sent: a message, or the close frame's code and reason.
#[derive(Debug)]
enum Received {
    Message(Value),
    Closed(u16, String),
}

impl Socket {
    /// Opens a socket (answers the handshake's HTTP status when refused).
    async fn open(app: &TestApp, protocol: Option<&str>) -> Result<Self, u16> {
        let url = app.address.replacen("http://", "ws://", 1) + "/graphql";
        let mut request = url.into_client_request().unwrap();
        if let Some(protocol) = protocol {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", protocol.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Self(stream)),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(error) => panic!("the handshake failed: {error}"),
        }
    }

    /// Opens a socket and initialises it with this payload; expects the ack.
    async fn init(app: &TestApp, payload: Value) -> Self {
        let mut socket = Self::open(app, Some("graphql-transport-ws")).await.unwrap();
        socket
            .send(json!({"type": "connection_init", "payload": payload}))
            .await;
        match socket.receive().await {
            Received::Message(m) if m["type"] == "connection_ack" => socket,
            other => panic!("no ack: {other:?}"),
        }
    }

    async fn send(&mut self, message: Value) {
        self.0
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next message or close (at most 15 seconds, pings included).
    async fn receive(&mut self) -> Received {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.0.next())
                .await
                .expect("nothing arrived within 15 s");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Received::Message(serde_json::from_str(&text).unwrap());
                }
                Some(Ok(Message::Close(frame))) => {
                    return frame
                        .map(|f| Received::Closed(f.code.into(), f.reason.to_string()))
                        .unwrap_or(Received::Closed(1005, String::new()));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(1006, String::new()),
            }
        }
    }

    /// The next message, which must be one.
    async fn message(&mut self) -> Value {
        match self.receive().await {
            Received::Message(message) => message,
            closed => panic!("expected a message, got {closed:?}"),
        }
    }
}

const CHANGES: &str = r#"subscription($types: [NodeType!], $after: ID) {
  changes(types: $types, after: $after) { id operation objectType object { ... on Theme { code } ... on ContactPerson { name } } }
}"#;

/// The `id` of the last event so far: subscriptions given it as `after` start exactly there,
/// however long they take to be set up.
async fn last_event(app: &TestApp, admin: &str) -> String {
    let reply = app
        .graphql_as(admin, "{ changes(last: 1) { nodes { id } } }", json!({}))
        .await;
    reply.ok()["changes"]["nodes"][0]["id"]
        .as_str()
        .unwrap_or("0")
        .to_owned()
}

/// The ID of an organisation of the demo, to give contact people to.
async fn first_organisation(app: &TestApp) -> String {
    app.graphql("{ organisations(first: 1) { nodes { id } } }", json!({}))
        .await
        .ok()["organisations"]["nodes"][0]["id"]
        .as_str()
        .expect("the demo has organisations")
        .to_owned()
}

async fn create_theme(app: &TestApp, key: &str, code: &str) {
    let reply = app
        .graphql_as(key, r#"mutation($c: String!) { createTheme(input: {code: $c, label: [{locale: "en", text: $c}]}) { userErrors { message } } }"#, json!({"c": code}))
        .await;
    assert_eq!(reply.ok()["createTheme"]["userErrors"], json!([]));
}

async fn create_contact(app: &TestApp, key: &str, organisation: &str, name: &str) {
    let reply = app
        .graphql_as(key, r#"mutation($o: ID!, $n: String!) { createContactPerson(input: {organisation: $o, name: $n}) { userErrors { message } } }"#, json!({"o": organisation, "n": name}))
        .await;
    assert_eq!(reply.ok()["createContactPerson"]["userErrors"], json!([]));
}

/// The `changes` events a subscription receives, until it has `count`.
async fn events(socket: &mut Socket, id: &str, count: usize) -> Vec<Value> {
    let mut events = Vec::new();
    while events.len() < count {
        let message = socket.message().await;
        assert_eq!(message["id"], id, "{message}");
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        events.push(message["payload"]["data"]["changes"].clone());
    }
    events
}

/// An event stream's text up to its `count`th `next` event (15 seconds at most).
async fn next_events(mut response: reqwest::Response, count: usize) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut text = String::new();
    while text.matches("event: next").count() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("no event within 15 s")
            .unwrap()
            .expect("the stream ended");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}

#[tokio::test]
async fn subscribers_see_each_change_made_elsewhere_once_in_order_with_their_rights() {
    let app = spawn_configured(true, |_| {}).await;
    let other = spawn_instance(&app, None, |_| {}).await;
    let admin = app.admin_key().await;
    let organisation = first_organisation(&app).await;
    let types = json!(["THEME", "CONTACT_PERSON"]);
    let start = last_event(&app, &admin).await;

    let mut keyed = Socket::init(&app, json!({"authorization": format!("Bearer {admin}")})).await;
    keyed
        .subscribe("k", CHANGES, json!({"types": types, "after": start}))
        .await;
    let mut anonymous = Socket::init(&app, json!({})).await;
    anonymous
        .subscribe("a", CHANGES, json!({"types": types, "after": start}))
        .await;

    for i in 0..6 {
        if i % 3 == 2 {
            create_contact(&other, &admin, &organisation, &format!("Live person {i}")).await;
        } else {
            create_theme(&other, &admin, &format!("live_{i}")).await;
        }
    }
    let seen = events(&mut keyed, "k", 6).await;
    let ids: Vec<i64> = seen
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert_eq!(seen[0]["object"]["code"], "live_0");
    assert_eq!(seen[2]["object"]["name"], "Live person 2");
    // Anonymous subscribers see public records only: no contact people.
    let public = events(&mut anonymous, "a", 4).await;
    assert!(
        public.iter().all(|e| e["objectType"] == "Theme"),
        "{public:?}"
    );

    // `after` replays what came since, then follows.
    let mut late = Socket::init(&app, json!({"authorization": format!("Bearer {admin}")})).await;
    late.subscribe(
        "l",
        CHANGES,
        json!({"types": types, "after": ids[3].to_string()}),
    )
    .await;
    let replayed = events(&mut late, "l", 2).await;
    assert_eq!(replayed[0]["id"], ids[4].to_string());
    assert_eq!(replayed[1]["id"], ids[5].to_string());

    // The same over server-sent events (GraphQL over SSE).
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .header("authorization", format!("Bearer {admin}"))
        .json(&json!({"query": CHANGES, "variables": {"types": ["THEME"], "after": ids[0].to_string()}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = next_events(response, 3).await;
    assert!(
        text.contains("live_1") && text.contains("live_3") && text.contains("live_4"),
        "{text}"
    );
    drop(other);
}

#[tokio::test]
async fn subscriptions_are_refused_as_queries_are() {
    let app = spawn_configured(true, |_| {}).await;
    // No subprotocol: not a graphql-ws client.
    assert_eq!(Socket::open(&app, None).await.err(), Some(400));
    // An unknown key: refused at `connection_init` with 4403, as graphql-ws expects.
    let mut socket = Socket::open(&app, Some("graphql-transport-ws"))
        .await
        .unwrap();
    socket
        .send(json!({"type": "connection_init", "payload": {"authorization": "Bearer stroom_nonsense"}}))
        .await;
    match socket.receive().await {
        Received::Closed(4403, _) => {}
        other => panic!("an unknown key was not refused with 4403: {other:?}"),
    }

    let mut socket = Socket::init(&app, json!({})).await;
    let deep = format!(
        "subscription {{ changes {{ object {{ {} id {} }} }} }}",
        "... on Initiative { needs { nodes { initiatives { nodes { ".repeat(6),
        "} } } } }".repeat(6)
    );
    let refusals = [
        (
            "mutation",
            "mutation { createTheme(input: {code: \"x\", label: []}) { userErrors { message } } }"
                .to_owned(),
            json!({}),
            "BAD_REQUEST",
        ),
        (
            "query",
            "{ themes { nodes { code } } }".to_owned(),
            json!({}),
            "BAD_REQUEST",
        ),
        ("deep", deep, json!({}), "QUERY_TOO_COMPLEX"),
        (
            "nul",
            "subscription($m: ID) { changes(municipality: $m) { id } }".to_owned(),
            json!({"m": "a\u{0}b"}),
            "BAD_USER_INPUT",
        ),
        (
            "after",
            "subscription { changes(after: \"yesterday\") { id } }".to_owned(),
            json!({}),
            "BAD_USER_INPUT",
        ),
        (
            "unknown",
            "subscription { nothingHere { id } }".to_owned(),
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (id, query, variables, code) in &refusals {
        socket.subscribe(id, query, variables.clone()).await;
        let message = socket.message().await;
        assert_eq!(message["id"], *id, "{message}");
        let errors = &message["payload"]["errors"];
        assert_eq!(errors[0]["extensions"]["code"], *code, "{id}: {message}");
        assert!(!errors[0]["message"].as_str().unwrap().is_empty());
        let complete = socket.message().await;
        assert_eq!(complete, json!({"id": id, "type": "complete"}));
    }

    // Over SSE the refusals are HTTP answers before any event.
    let sse = |query: &str, key: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .header("accept", "text/event-stream")
            .json(&json!({"query": query}));
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        request.send()
    };
    let refused = sse("subscription { changes { id } }", Some("stroom_nonsense"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let refused = sse(&refusals[2].1, None).await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
    // A subscription over plain HTTP is not run.
    let reply = app
        .graphql("subscription { changes { id } }", json!({}))
        .await;
    assert!(!reply.errors().is_empty(), "{:?}", reply.body);
}

#[tokio::test]
async fn live_connections_and_subscriptions_are_capped_per_client() {
    let app = spawn_configured(true, |serve| {
        serve.live_connections_per_client = 2;
        serve.live_subscriptions_per_client = 2;
    })
    .await;
    let mut first = Socket::init(&app, json!({})).await;
    let second = Socket::init(&app, json!({})).await;
    assert_eq!(
        Socket::open(&app, Some("graphql-transport-ws")).await.err(),
        Some(429),
        "a third connection from one address was taken"
    );
    drop(second);
    // A closed connection gives its slot back.
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(socket) = Socket::open(&app, Some("graphql-transport-ws")).await {
            reopened = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        reopened.is_some(),
        "the closed connection's slot was not given back"
    );

    let admin = app.admin_key().await;
    let after = json!({"after": last_event(&app, &admin).await});
    const FOLLOW: &str = "subscription($after: ID) { changes(after: $after) { id } }";
    // Three at once: whichever is admitted last finds both slots taken.
    for id in ["1", "2", "3"] {
        first.subscribe(id, FOLLOW, after.clone()).await;
    }
    let message = first.message().await;
    let refused = message["id"].as_str().unwrap().to_owned();
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{message}"
    );
    assert_eq!(
        first.message().await,
        json!({"id": refused, "type": "complete"})
    );
    let running: Vec<&str> = ["1", "2", "3"]
        .into_iter()
        .filter(|id| *id != refused)
        .collect();
    // Stopping one frees its slot.
    first
        .send(json!({"id": running[0], "type": "complete"}))
        .await;
    assert_eq!(
        first.message().await,
        json!({"id": running[0], "type": "complete"})
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.subscribe("4", FOLLOW, after).await;
    create_theme(&app, &admin, "capped").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let message = first.message().await;
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        ids.push(message["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    assert_eq!(ids, [running[1], "4"]);
}

/// An event stream opened from `source` (a loopback address of its own): the connection and
/// the head of the answer.
async fn stream_from(app: &TestApp, source: [u8; 4]) -> (tokio::net::TcpStream, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(source), 0).into())
        .unwrap();
    let mut stream = socket
        .connect(([127, 0, 0, 1], app.port()).into())
        .await
        .unwrap();
    let body = json!({"query": "subscription { changes { id } }"}).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: localhost\r\naccept: text/event-stream\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head))
        .await
        .expect("an answer")
        .unwrap();
    (stream, String::from_utf8_lossy(&head[..n]).into_owned())
}

#[tokio::test]
async fn a_network_cannot_take_every_live_connection_whatever_its_addresses() {
    let app = spawn_configured(true, |serve| {
        serve.live_connections_per_client = 2;
        serve.live_connections_per_network = 3;
    })
    .await;
    // Three addresses of one /24: one connection each, up to the network's cap.
    let mut open = Vec::new();
    for host in 1..=3u8 {
        let (stream, head) = stream_from(&app, [127, 0, 5, host]).await;
        assert!(head.starts_with("HTTP/1.1 200"), "address {host}: {head}");
        open.push(stream);
    }
    let (_, refused) = stream_from(&app, [127, 0, 5, 4]).await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(refused.contains("your network"), "{refused}");
    // Another network is served.
    let (_other, head) = stream_from(&app, [127, 0, 6, 1]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // One closed gives its network's place back.
    drop(open.pop());
    let started = std::time::Instant::now();
    let mut again = None;
    for _ in 0..60 {
        let (stream, head) = stream_from(&app, [127, 0, 5, 4]).await;
        if head.starts_with("HTTP/1.1 200") {
            again = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // At once, not at the stream's next keep-alive comment (15 s).
    assert!(
        again.is_some() && started.elapsed() < Duration::from_secs(5),
        "the closed stream's place was not given back"
    );
}

#[tokio::test]
async fn shutdown_closes_websockets_and_completes_event_streams() {
    let mut app = spawn_configured(true, |_| {}).await;
    let mut socket = Socket::init(&app, json!({})).await;
    socket
        .subscribe("s", "subscription { changes { id } }", json!({}))
        .await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({"query": "subscription { changes { id } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.shutdown();
    let mut closed = None;
    while closed.is_none() {
        if let Received::Closed(code, reason) = socket.receive().await {
            closed = Some((code, reason));
        }
    }
    let (code, reason) = closed.unwrap();
    assert_eq!(code, 1001, "{reason}");
    let body = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .expect("the event stream did not end at shutdown")
        .unwrap();
    assert!(body.ends_with("event: complete\ndata:\n\n"), "{body:?}");
    tokio::time::timeout(Duration::from_secs(10), app.stopped())
        .await
        .expect("the server did not stop");
}

/// An event stream asked for as browsers and APQ clients ask: a GET, the query known by its
/// hash once registered; a query that is not UTF-8 is refused with a clear error.
#[tokio::test]
async fn persisted_subscriptions_stream_over_get() {
    use sha2::{Digest, Sha256};
    let app = spawn_configured(true, |_| {}).await;
    let admin = app.admin_key().await;
    let start = last_event(&app, &admin).await;
    let query =
        "subscription($after: ID) { changes(types: [THEME], after: $after) { id objectType } }";
    let hash = hex::encode(Sha256::digest(query.as_bytes()));
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}}).to_string();
    let variables = json!({"after": start}).to_string();
    let get = |with_query: bool| {
        let mut params = vec![
            ("extensions", extensions.as_str()),
            ("variables", variables.as_str()),
        ];
        if with_query {
            params.push(("query", query));
        }
        app.client
            .get(app.url("/graphql"))
            .header("accept", "text/event-stream")
            .query(&params)
            .send()
    };
    let unknown = get(false).await.unwrap();
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    // Registering it streams too; then the hash alone is enough.
    let registered = get(true).await.unwrap();
    assert_eq!(registered.status(), 200);
    drop(registered);
    let by_hash = get(false).await.unwrap();
    assert_eq!(by_hash.status(), 200);
    create_theme(&app, &admin, "by_hash").await;
    let text = next_events(by_hash, 1).await;
    assert!(text.contains("\"objectType\":\"Theme\""), "{text}");

    // `%FF` is no UTF-8: the query is not a GraphQL document.
    let unreadable = app
        .client
        .get(format!("{}?query=%FF", app.url("/graphql")))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(unreadable.status(), 400);
    let body: Value = unreadable.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED",
        "{body}"
    );
}

/// How a key stops admitting what acts for it.
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// `stroom keys revoke`, run against the database (no server hears of it).
    Revoked,
    /// Its expiry time passes.
    Expired,
    /// Its role is changed in the database (an admin key made a partner key).
    RoleChanged,
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    WebSocket,
    EventStream,
}

const CONTACTS: &str = r#"subscription($after: ID) { changes(types: [CONTACT_PERSON], after: $after) { id object { ... on ContactPerson { name email phone } } } }"#;

/// What a live stream of one key delivers: the contact names it shows, and how it ended.
enum Live {
    Socket(Socket),
    Events(reqwest::Response, String),
}

impl Live {
    /// Opens a stream of the changes after the last one so far: however long the server takes
    /// to set the subscription up, a change made once this returns reaches it.
    async fn open(app: &TestApp, transport: Transport, token: &str) -> Self {
        let after = last_event(app, token).await;
        match transport {
            Transport::WebSocket => {
                let mut socket =
                    Socket::init(app, json!({"authorization": format!("Bearer {token}")})).await;
                socket
                    .subscribe("c", CONTACTS, json!({"after": after}))
                    .await;
                Live::Socket(socket)
            }
            Transport::EventStream => {
                let response = app
                    .client
                    .post(app.url("/graphql"))
                    .header("accept", "text/event-stream")
                    .header("authorization", format!("Bearer {token}"))
                    .json(&json!({"query": CONTACTS, "variables": {"after": after}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                Live::Events(response, String::new())
            }
        }
    }

    /// The next payload (`{data}` or `{errors}`), or `None` once the stream ended; for a
    /// WebSocket, also its close code.
    async fn next(&mut self) -> (Option<Value>, Option<u16>) {
        match self {
            Live::Socket(socket) => loop {
                match socket.receive().await {
                    Received::Message(m) if m["type"] == "next" => {
                        return (Some(m["payload"].clone()), None);
                    }
                    Received::Message(m) if m["type"] == "complete" => continue,
                    Received::Message(m) => panic!("unexpected message {m}"),
                    Received::Closed(code, _) => return (None, Some(code)),
                }
            },
            Live::Events(response, buffered) => loop {
                if let Some(end) = buffered.find("\n\n") {
                    let event: String = buffered.drain(..end + 2).collect();
                    if event.starts_with("event: next") {
                        let data = event
                            .lines()
                            .find_map(|l| l.strip_prefix("data: "))
                            .unwrap();
                        return (Some(serde_json::from_str(data).unwrap()), None);
                    }
                    if event.starts_with("event: complete") {
                        return (None, None);
                    }
                    continue;
                }
                let chunk = tokio::time::timeout(Duration::from_secs(15), response.chunk())
                    .await
                    .expect("nothing arrived within 15 s")
                    .unwrap();
                match chunk {
                    Some(chunk) => buffered.push_str(std::str::from_utf8(&chunk).unwrap()),
                    None => return (None, None),
                }
            },
        }
    }
}

#[tokio::test]
async fn a_key_that_stops_admitting_ends_its_streams_on_every_instance_within_seconds() {
    use entity::enums::KeyRole;
    use sea_orm::{ConnectionTrait, Statement};

    let app = spawn_configured(true, |_| {}).await;
    // Changes are made through another instance: this one hears of them as of any commit.
    let other = spawn_instance(&app, None, |_| {}).await;
    let admin = app.admin_key().await;
    let organisation = first_organisation(&app).await;
    let backend = app.db.get_database_backend();
    let mut case = 0;
    for loss in [Loss::Revoked, Loss::Expired, Loss::RoleChanged] {
        for transport in [Transport::WebSocket, Transport::EventStream] {
            case += 1;
            let role = match loss {
                Loss::RoleChanged => KeyRole::Admin,
                Loss::Expired | Loss::Revoked => KeyRole::Partner,
            };
            let (key, token) = stroom_api::api_key::create_key(
                &app.db,
                &format!("Streaming partner {case}"),
                role,
                None,
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("{}", e.message));
            let mut live = Live::open(&app, transport, &token).await;
            // The stream works while the key does: personal data reach the partner.
            let before = format!("Before the loss {case}");
            create_contact(&other, &admin, &organisation, &before).await;
            let (payload, _) = live.next().await;
            let payload = payload.expect("the stream ended early");
            assert_eq!(
                payload["data"]["changes"]["object"]["name"], before,
                "{loss:?} {transport:?}: {payload}"
            );

            match loss {
                Loss::Revoked => {
                    stroom_api::api_key::revoke_key(&app.db, key.id)
                        .await
                        .unwrap_or_else(|e| panic!("{}", e.message));
                }
                Loss::Expired => {
                    // The key gets its expiry once the stream is known to work (a fixed
                    // lifetime from creation could run out before the first event on a
                    // loaded machine), and the loss counts from the expiry.
                    let expires = chrono::Utc::now() + chrono::Duration::milliseconds(500);
                    let set = sea_orm::sea_query::Query::update()
                        .table("api_key")
                        .value("expires_at", expires)
                        .and_where(sea_orm::sea_query::ExprTrait::eq(
                            sea_orm::sea_query::Expr::col("id"),
                            key.id,
                        ))
                        .to_owned();
                    app.db.execute_raw(backend.build(&set)).await.unwrap();
                    let left = expires - chrono::Utc::now();
                    tokio::time::sleep(left.to_std().unwrap_or_default()).await;
                }
                Loss::RoleChanged => {
                    app.db
                        .execute_raw(Statement::from_string(
                            backend,
                            format!("UPDATE api_key SET role = 'partner' WHERE id = {}", key.id),
                        ))
                        .await
                        .unwrap();
                }
            }
            // From the moment the key no longer admits the stream.
            let lost_at = std::time::Instant::now();
            // A change right after the loss never reaches the stream: every event is
            // filtered with the key's rights when it is sent.
            let after = format!("After the loss {case}");
            create_contact(&other, &admin, &organisation, &after).await;
            let (payload, _) = live.next().await;
            let payload = payload.expect("the stream ended without saying why");
            assert!(
                payload["data"]["changes"].is_null() && !payload.to_string().contains(&after),
                "{loss:?} {transport:?}: an event reached a stream whose key no longer admits it: {payload}"
            );
            let error = &payload["errors"][0];
            let (code, reason) = match loss {
                Loss::Revoked => ("UNAUTHENTICATED", "REVOKED"),
                Loss::Expired => ("UNAUTHENTICATED", "EXPIRED"),
                Loss::RoleChanged => ("FORBIDDEN", "RIGHTS_CHANGED"),
            };
            assert_eq!(error["extensions"]["code"], code, "{payload}");
            assert_eq!(error["extensions"]["reason"], reason, "{payload}");
            // Then the stream ends: the socket closes with 4403, the event stream completes.
            let (rest, closed) = live.next().await;
            assert!(
                rest.is_none(),
                "{loss:?} {transport:?}: more after the end: {rest:?}"
            );
            if let Transport::WebSocket = transport {
                assert_eq!(closed, Some(4403), "{loss:?}");
            }
            assert!(
                lost_at.elapsed() < Duration::from_secs(10),
                "{loss:?} {transport:?}: the stream took {:?} to end",
                lost_at.elapsed()
            );
        }
    }
    drop(other);
}

#[tokio::test]
async fn a_revoked_key_is_stopped_without_any_change_being_made() {
    let app = spawn_configured(true, |serve| serve.live_key_check_ms = 200).await;
    for transport in [Transport::WebSocket, Transport::EventStream] {
        let (key, token) = stroom_api::api_key::create_key(
            &app.db,
            &format!("Quiet partner {transport:?}"),
            entity::enums::KeyRole::Partner,
            None,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
        let mut live = Live::open(&app, transport, &token).await;
        // Give the subscription time to be admitted and join the hub.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stroom_api::api_key::revoke_key(&app.db, key.id)
            .await
            .unwrap_or_else(|e| panic!("{}", e.message));
        let revoked_at = std::time::Instant::now();
        let (payload, _) = live.next().await;
        let payload = payload.expect("the stream ended without saying why");
        assert_eq!(
            payload["errors"][0]["extensions"]["reason"], "REVOKED",
            "{payload}"
        );
        let (rest, closed) = live.next().await;
        assert!(rest.is_none());
        if let Transport::WebSocket = transport {
            assert_eq!(closed, Some(4403));
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "{:?}",
            revoked_at.elapsed()
        );
    }
}

/// SQL statements the server has run so far (its `/metrics`).
async fn statements(app: &TestApp) -> u64 {
    app.metrics_text()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("stroom_db_statements_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the statement count in /metrics")
}

/// The statements one write costs this server, with its subscribers all served.
async fn write_cost(
    app: &TestApp,
    admin: &str,
    sockets: &mut [(Socket, usize)],
    code: &str,
) -> u64 {
    let before = statements(app).await;
    create_theme(app, admin, code).await;
    for (socket, subscriptions) in sockets.iter_mut() {
        for _ in 0..*subscriptions {
            let message = socket.message().await;
            assert_eq!(message["type"], "next", "{message}");
            assert!(message["payload"]["errors"].is_null(), "{message}");
            assert_eq!(
                message["payload"]["data"]["changes"]["object"]["code"], code,
                "{message}"
            );
        }
    }
    statements(app).await - before
}

/// The least a write costs over six tries: a commit is heard twice (here, and again from the
/// feed's watcher), and when the second arrives while the first is still being handed out it
/// can add a read to a write's count, but never take one away.
async fn least_cost(
    app: &TestApp,
    admin: &str,
    sockets: &mut [(Socket, usize)],
    name: &str,
) -> u64 {
    let mut least = u64::MAX;
    for attempt in 0..6 {
        let code = format!("{name}_{attempt}");
        least = least.min(write_cost(app, admin, sockets, &code).await);
        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
    }
    least
}

/// A server whose subscribers only its own commits wake, with no webhook deliverer reading
/// beside them, so a write's statement count is exact.
async fn counting_app() -> TestApp {
    spawn_configured(true, |serve| {
        serve.webhooks_deliver = false;
        serve.feed_poll_ms = 600_000;
        serve.live_key_check_ms = 600_000;
        serve.live_max_connections = 100;
        serve.live_connections_per_client = 100;
        serve.live_subscriptions_per_client = 1_000;
        serve.live_connections_per_network = 100;
        serve.live_subscriptions_per_network = 1_000;
    })
    .await
}

#[tokio::test]
async fn a_write_costs_the_same_few_statements_whatever_the_number_of_subscribers() {
    let app = counting_app().await;
    let admin = app.admin_key().await;
    let partner = app.partner_key().await;
    const THEMES: &str = "subscription($after: ID) { changes(types: [THEME], after: $after) { id operation objectId object { id ... on Theme { code label } } } }";
    // The first use of a key also notes when it was used: not part of what is measured.
    write_cost(&app, &admin, &mut [], "fan_out_first").await;
    let alone = least_cost(&app, &admin, &mut [], "fan_out_alone").await;

    let mut costs = Vec::new();
    let mut sockets: Vec<(Socket, usize)> = Vec::new();
    for (round, (payload, subscriptions)) in [
        (json!({}), 10),
        (json!({}), 90),
        (json!({"authorization": format!("Bearer {partner}")}), 100),
    ]
    .into_iter()
    .enumerate()
    {
        let mut socket = Socket::init(&app, payload).await;
        // From the last event on, however long joining takes.
        let after = json!({"after": last_event(&app, &admin).await});
        for i in 0..subscriptions {
            socket
                .subscribe(&format!("{round}-{i}"), THEMES, after.clone())
                .await;
        }
        sockets.push((socket, subscriptions));
        // A first write after joining: every subscription is running once it arrives.
        write_cost(&app, &admin, &mut sockets, &format!("fan_out_warm_{round}")).await;
        let least = least_cost(&app, &admin, &mut sockets, &format!("fan_out_{round}")).await;
        costs.push(least - alone);
    }
    // Anonymous subscribers: one read of the events, one of the records they show, for 10 as
    // for 100. With partners beside them: their keys' standing and their own records' read.
    assert_eq!(
        costs,
        [2, 2, 4],
        "extra statements per write with 10, 100, 100+100 subscribers"
    );
}

#[tokio::test]
async fn identical_anonymous_subscriptions_share_one_execution_and_each_gets_every_event() {
    let app = counting_app().await;
    let admin = app.admin_key().await;
    // From the next change on (no `after`): the same answers for all of them.
    const THEMES: &str = "subscription { changes(types: [THEME]) { id operation object { ... on Theme { code } } } }";
    write_cost(&app, &admin, &mut [], "shared_first").await;
    let alone = least_cost(&app, &admin, &mut [], "shared_alone").await;
    let mut sockets = Vec::new();
    for s in 0..3 {
        let mut socket = Socket::init(&app, json!({})).await;
        for i in 0..100 {
            socket
                .subscribe(&format!("{s}-{i}"), THEMES, json!({}))
                .await;
        }
        sockets.push((socket, 100));
    }
    // Joining takes a moment; from then on every write reaches all 300.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let least = least_cost(&app, &admin, &mut sockets, "shared").await;
    assert!(
        least - alone <= 2,
        "{} extra statements per write for 300 identical subscribers",
        least - alone
    );
}

/// A learning made partners-only leaves the sight of anonymous readers: each of their ways of
/// following the data (the feed, its NDJSON form, a live subscription) says so with a
/// `withdrawn` event that reveals nothing of what it became, while partners just see the
/// update. Made public again, it comes back as an update.
#[tokio::test]
async fn readers_are_told_when_a_record_leaves_their_sight() {
    let app = spawn_configured(true, |_| {}).await;
    let admin = app.admin_key().await;
    let partner = app.partner_key().await;
    let start = last_event(&app, &admin).await;
    let cursor = app
        .graphql_as(
            &admin,
            "{ changes(last: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await
        .ok()["changes"]["pageInfo"]["endCursor"]
        .clone();
    let mut anonymous = Socket::init(&app, json!({})).await;
    anonymous
        .subscribe(
            "1",
            "subscription($after: ID) { changes(types: [LEARNING], after: $after) { operation objectId fields version object { id } } }",
            json!({"after": start}),
        )
        .await;

    let created = app
        .graphql_as(
            &admin,
            r#"mutation($i: ID!) { createLearning(input: {initiative: $i, kind: SUCCESS_FACTOR, audience: PUBLIC, title: [{locale: "en", text: "Open lesson"}], body: [{locale: "en", text: "Text"}]}) { learning { id version } userErrors { message } } }"#,
            json!({"i": app.graphql("{ initiatives(first: 1) { nodes { id } } }", json!({})).await.ok()["initiatives"]["nodes"][0]["id"]}),
        )
        .await;
    let learning = created.ok()["createLearning"]["learning"].clone();
    let id = learning["id"].as_str().unwrap().to_owned();
    let set_audience = |audience: &'static str, version: i64| {
        let admin = admin.clone();
        let id = id.clone();
        let app = &app;
        async move {
            let reply = app
                .graphql_as(
                    &admin,
                    &format!("mutation($id: ID!, $v: Int!) {{ updateLearning(input: {{id: $id, version: $v, audience: {audience}}}) {{ learning {{ version }} userErrors {{ message }} }} }}"),
                    json!({"id": id, "v": version}),
                )
                .await;
            reply.ok()["updateLearning"]["learning"]["version"]
                .as_i64()
                .unwrap()
        }
    };
    // Seen while public (catching up reads what the reader may see at that time)…
    let created = events(&mut anonymous, "1", 1).await;
    assert_eq!(created[0]["operation"], "CREATED");
    let version = set_audience("PARTNERS", learning["version"].as_i64().unwrap()).await;

    // …then withdrawn (the update itself is not theirs).
    let seen = events(&mut anonymous, "1", 1).await;
    let operations: Vec<&str> = seen
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["WITHDRAWN"], "{seen:?}");
    let withdrawn = &seen[0];
    assert_eq!(withdrawn["objectId"], id);
    assert_eq!(withdrawn["fields"], json!([]), "nothing of what it became");
    assert!(withdrawn["version"].is_null());
    assert!(withdrawn["object"].is_null());

    // The feed as GraphQL, for anonymous readers and for partners (who never lose sight).
    let feed = "query($after: String) { changes(first: 50, after: $after, types: [LEARNING]) { nodes { operation objectId fields object { id } } } }";
    let operations_of = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply.ok()["changes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["operation"].as_str().unwrap().to_owned())
            .collect()
    };
    // A reader sees the events of what it may read now: the record's own events are gone from
    // its feed, the withdrawal is there.
    let anonymous_feed = app.graphql(feed, json!({"after": cursor})).await;
    assert_eq!(operations_of(&anonymous_feed), ["WITHDRAWN"]);
    let partner_feed = app
        .graphql_as(&partner, feed, json!({"after": cursor}))
        .await;
    assert_eq!(operations_of(&partner_feed), ["CREATED", "UPDATED"]);

    // The NDJSON feed says the same to anonymous readers.
    let ndjson = |app: &TestApp, start: String| {
        let request = app
            .client
            .get(app.url(&format!("/changes.ndjson?after={start}")));
        async move {
            let text = request.send().await.unwrap().text().await.unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .map(|e| e["operation"].as_str().unwrap().to_owned())
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(ndjson(&app, start.clone()).await, ["withdrawn"]);

    // Public again: an update tells them, and its history is theirs again.
    set_audience("PUBLIC", version).await;
    let seen = events(&mut anonymous, "1", 1).await;
    assert_eq!(seen[0]["operation"], "UPDATED");
    assert_eq!(seen[0]["object"]["id"], id);
    let anonymous_feed = app.graphql(feed, json!({"after": cursor})).await;
    assert_eq!(
        operations_of(&anonymous_feed),
        ["CREATED", "UPDATED", "WITHDRAWN", "UPDATED"]
    );
}
