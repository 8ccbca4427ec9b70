//! Slow and greedy clients: a request head or body sent too slowly, idle kept-alive
//! connections, and more connections than the caps allow are closed or refused, while other
//! clients are served throughout.
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{TestApp, spawn_configured};

/// Reads until the server closes the connection (or `wait` passes); returns what it sent and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", app.port())).await.unwrap()
}

/// A connection from another loopback address (another client, as the server sees it).
async fn connect_from(app: &TestApp, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(source), 0).into())
        .unwrap();
    socket
        .connect(([127, 0, 0, 1], app.port()).into())
        .await
        .unwrap()
}

async fn served(app: &TestApp) {
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn a_request_head_must_arrive_in_time_however_it_trickles() {
    let app = spawn_configured(false, |s| s.header_timeout_secs = 1).await;
    // Just under: the head completes within the time, in pieces.
    let mut stream = connect(&app).await;
    stream.write_all(&HEALTH[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    stream.write_all(&HEALTH[10..]).await.unwrap();
    let (head, _) = read_until_closed(&mut stream, Duration::from_millis(500)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // Over: a byte every 200 ms keeps the connection busy but never completes the head.
    let mut slow = connect(&app).await;
    let started = Instant::now();
    let mut closed = false;
    for byte in HEALTH.iter().take(30) {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        served(&app).await;
    }
    if !closed {
        closed = read_until_closed(&mut slow, Duration::from_secs(2)).await.1;
    }
    assert!(closed, "a trickled head is cut off");
    assert!(started.elapsed() < Duration::from_secs(4));
    served(&app).await;
}

#[tokio::test]
async fn idle_kept_alive_connections_are_closed_and_busy_ones_are_not() {
    let app = spawn_configured(false, |s| s.idle_timeout_secs = 1).await;
    let mut stream = connect(&app).await;
    stream.write_all(HEALTH).await.unwrap();
    let (first, closed) = read_until_closed(&mut stream, Duration::from_millis(300)).await;
    assert!(first.starts_with("HTTP/1.1 200") && !closed, "{first}");
    // Just under the idle time, the connection takes another request.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream.write_all(HEALTH).await.unwrap();
    let (second, closed) = read_until_closed(&mut stream, Duration::from_millis(300)).await;
    assert!(second.starts_with("HTTP/1.1 200") && !closed, "{second}");
    // Over it, the server closes the connection.
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(closed, "an idle connection is closed");

    // A connection that never sends anything is closed after the idle time too.
    let mut silent = connect(&app).await;
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(3)).await;
    assert!(closed);
}

#[tokio::test]
async fn a_request_body_must_arrive_in_time() {
    let app = spawn_configured(true, |s| s.body_timeout_secs = 1).await;
    let body = br#"{"query": "{ themes { totalCount } }"}"#;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // Just under: the body arrives in two parts within the time.
    let mut stream = connect(&app).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_millis(800)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"totalCount\":19"), "{answer}");

    // Over: part of the body, then nothing.
    let mut stream = connect(&app).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 1 s"), "{answer}");
    served(&app).await;
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let app = spawn_configured(false, |s| {
        s.max_connections_per_address = 5;
        s.idle_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut stream = connect_from(&app, [127, 0, 0, 2]).await;
        stream.write_all(HEALTH).await.unwrap();
        let (answer, _) = read_until_closed(&mut stream, Duration::from_millis(300)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        held.push(stream);
    }
    // The sixth from the same address is refused at once, with a clear answer.
    let mut sixth = connect_from(&app, [127, 0, 0, 2]).await;
    let (answer, closed) = read_until_closed(&mut sixth, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("SERVICE_UNAVAILABLE") && closed, "{answer}");
    // Another address is served.
    let mut other = connect_from(&app, [127, 0, 0, 3]).await;
    other.write_all(HEALTH).await.unwrap();
    let (answer, _) = read_until_closed(&mut other, Duration::from_millis(300)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // When one closes, its address may open another.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = connect_from(&app, [127, 0, 0, 2]).await;
    again.write_all(HEALTH).await.unwrap();
    let (answer, _) = read_until_closed(&mut again, Duration::from_millis(300)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn the_total_of_connections_is_capped() {
    let app = spawn_configured(false, |s| {
        s.max_connections = 20;
        s.max_connections_per_address = 0;
        s.idle_timeout_secs = 30;
    })
    .await;
    // One connection from each of 20 networks: none holds more than a newcomer's fair share,
    // so none gives a connection up.
    let mut held = Vec::new();
    for i in 0..20u8 {
        held.push(connect_from(&app, [127, 0, i + 1, 1]).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = connect_from(&app, [127, 0, 30, 1]).await;
    let (answer, _) = read_until_closed(&mut over, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    held.truncate(10);
    tokio::time::sleep(Duration::from_millis(100)).await;
    served(&app).await;
}

/// Opens a kept-alive connection from `source` that has made one request and now waits idle.
async fn idle_from(app: &TestApp, source: [u8; 4]) -> TcpStream {
    let mut stream = connect_from(app, source).await;
    stream.write_all(HEALTH).await.unwrap();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_millis(300)).await;
    assert!(answer.starts_with("HTTP/1.1 200") && !closed, "{answer}");
    stream
}

#[tokio::test]
async fn a_full_server_makes_room_for_a_new_network_and_one_network_cannot_take_all() {
    // Caps per network (/24 here) are kept whatever the addresses within it.
    let app = spawn_configured(false, |s| {
        s.max_connections_per_address = 0;
        s.max_connections_per_network = 6;
        s.idle_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for i in 0..6u8 {
        held.push(idle_from(&app, [127, 0, 3, i + 1]).await);
    }
    let mut seventh = connect_from(&app, [127, 0, 3, 7]).await;
    let (answer, closed) = read_until_closed(&mut seventh, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503") && closed, "{answer}");
    assert!(answer.contains("from your network"), "{answer}");
    drop(idle_from(&app, [127, 0, 4, 1]).await);
    drop(held);

    // A server full of one network's idle connections: a newcomer from elsewhere gets the
    // place of that network's oldest idle connection, which is closed.
    let app = spawn_configured(false, |s| {
        s.max_connections = 20;
        s.max_connections_per_address = 0;
        s.max_connections_per_network = 0;
        s.idle_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for i in 0..20u8 {
        held.push(idle_from(&app, [127, 0, 1, i + 1]).await);
    }
    // (Each newcomer stays connected, so the next one finds the server full again.)
    let mut newcomers = Vec::new();
    for newcomer in 0..3u8 {
        let mut stream = connect_from(&app, [127, 0, 9, newcomer + 1]).await;
        stream.write_all(HEALTH).await.unwrap();
        let (answer, _) = read_until_closed(&mut stream, Duration::from_millis(500)).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "newcomer {newcomer}: {answer}"
        );
        newcomers.push(stream);
        // The oldest idle ones made room, in order.
        let (_, closed) =
            read_until_closed(&mut held[usize::from(newcomer)], Duration::from_secs(1)).await;
        assert!(
            closed,
            "the oldest idle connection {newcomer} was not the one closed"
        );
    }
    let (_, closed) = read_until_closed(&mut held[3], Duration::from_millis(200)).await;
    assert!(!closed, "more connections were closed than newcomers came");
    // The network holding the most gets no room by closing its own.
    let mut greedy = connect_from(&app, [127, 0, 1, 100]).await;
    let (answer, _) = read_until_closed(&mut greedy, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    // Busy connections are never the ones closed: with every connection of the heaviest
    // network in the middle of a request head, a newcomer is refused.
    for stream in held.iter_mut().skip(3) {
        stream.write_all(&HEALTH[..10]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut late = connect_from(&app, [127, 0, 10, 1]).await;
    let (answer, _) = read_until_closed(&mut late, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
}
