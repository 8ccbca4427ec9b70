//! What live subscribers cost a write: the same updates by an editor key, first with no
//! subscriber, then with many (`--live-subscribers`), each following the changes of
//! initiatives over WebSocket (`graphql-transport-ws`) and showing the changed record. Printed:
//! write latency with and without them, SQL statements per write (from the server's
//! `/metrics`), and whether every subscriber got every change.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Subscriptions one WebSocket carries.
const PER_SOCKET: usize = 100;

const FOLLOW: &str = "subscription { changes(types: [INITIATIVE]) { id operation objectId object { id ... on Initiative { name stage } } } }";

/// One phase's writes.
pub struct Phase {
    pub writes: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub statements_per_write: f64,
}

/// The server's SQL statements so far.
pub async fn statements(http: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let text = http
        .get(crate::metrics_url(base))
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("stroom_db_statements_total "))
        .and_then(|n| n.trim().parse().ok())
        .context("no stroom_db_statements_total in /metrics")
}

/// Writes for `duration` with `writers` at once, `rate` a second in all (as a city's staff
/// write, not as fast as the server allows); `write` makes one.
pub async fn writes<F, Fut>(
    http: &reqwest::Client,
    base: &str,
    writers: usize,
    rate: f64,
    duration: Duration,
    write: F,
) -> anyhow::Result<Phase>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Option<u64>>> + Send,
{
    let before = statements(http, base).await?;
    let sequence = Arc::new(AtomicU64::new(1_000_000));
    let deadline = Instant::now() + duration;
    let writers = writers.max(1);
    // Each writer starts its next write at its own pace, whatever the last one took.
    let every = Duration::from_secs_f64(writers as f64 / rate.max(0.001));
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let (write, sequence) = (write.clone(), sequence.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut next =
                    tokio::time::Instant::now() + every.mul_f64(i as f64 / writers as f64);
                while Instant::now() < deadline {
                    tokio::time::sleep_until(next).await;
                    next += every;
                    let started = Instant::now();
                    let ok = write(sequence.fetch_add(1, Ordering::Relaxed))
                        .await
                        .is_ok();
                    samples.push((started.elapsed().as_micros() as u64, ok));
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await?);
    }
    let after = statements(http, base).await?;
    let mut ok: Vec<u64> = samples.iter().filter(|s| s.1).map(|s| s.0).collect();
    ok.sort_unstable();
    let percentile = |q: f64| {
        ok.get(((ok.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    Ok(Phase {
        writes: ok.len() as u64,
        errors: (samples.len() - ok.len()) as u64,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        statements_per_write: (after - before) as f64 / ok.len().max(1) as f64,
    })
}

/// `count` subscriptions, `PER_SOCKET` to a socket; answers the counter of events they got.
pub async fn subscribe(base: &str, count: usize) -> anyhow::Result<Arc<AtomicU64>> {
    let received = Arc::new(AtomicU64::new(0));
    let url = base.replacen("http://", "ws://", 1) + "/graphql";
    let mut opened = 0;
    while opened < count {
        let here = PER_SOCKET.min(count - opened);
        let mut request = url.clone().into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("opening a WebSocket (start the server with caps for this many)")?;
        let init = json!({"type": "connection_init", "payload": {}});
        socket.send(Message::Text(init.to_string().into())).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
                Some(Ok(Message::Text(text))) => bail!("before the ack: {text}"),
                Some(Ok(_)) => continue,
                other => bail!("the socket closed before the ack: {other:?}"),
            }
        }
        for i in 0..here {
            let subscribe = json!({"id": format!("{opened}-{i}"), "type": "subscribe", "payload": {"query": FOLLOW}});
            socket
                .send(Message::Text(subscribe.to_string().into()))
                .await?;
        }
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let value: Value = serde_json::from_str(&text).unwrap_or_default();
                    if value["type"] == "next" && value["payload"]["errors"].is_null() {
                        received.fetch_add(1, Ordering::Relaxed);
                    } else if value["type"] != "complete" {
                        eprintln!("subscriber: {text}");
                    }
                }
            }
        });
        opened += here;
    }
    Ok(received)
}

/// Waits until `received` reaches `expected` (at most `within`); answers what it reached.
pub async fn delivered(received: &AtomicU64, expected: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    received.load(Ordering::Relaxed)
}
