//! Everything the service keeps is bounded by bytes: a flood of ordinary-looking requests that
//! each leave a distinct entry behind (large unused variables, long `Accept-Language` values,
//! distinct documents, persisted queries, aggregate arguments) levels the server's memory off
//! instead of growing it. Memory is the process's resident set, read from `/proc`.
use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::ServerProcess;

/// One request of the flood: which cache it aims at, and its `n`th distinct shape.
fn request(class: usize, n: usize) -> (Value, Vec<(&'static str, String)>) {
    // Distinct, incompressible filler of `len` characters.
    let filler = |len: usize| -> String {
        let mut text = String::with_capacity(len + 64);
        let mut i = 0u64;
        while text.len() < len {
            let digest = Sha256::digest(format!("{class}-{n}-{i}").as_bytes());
            text.push_str(&hex::encode(digest));
            i += 1;
        }
        text.truncate(len);
        text
    };
    match class {
        // The response cache's key: variables nobody uses, 150 KB each.
        0 => (
            json!({"query": "{ themes(first: 1) { totalCount } }", "variables": {"pad": filler(150_000)}}),
            vec![],
        ),
        // The response cache's key again: a long, distinct `Accept-Language`.
        1 => (
            json!({"query": "{ themes(first: 1) { totalCount } }"}),
            vec![(
                "accept-language",
                format!("nl, en;q=0.9, x-{}", filler(6_000)),
            )],
        ),
        // Parsed documents: a distinct 15 KB document each.
        2 => (
            json!({"query": format!("# {}\n{{ themes(first: 1) {{ totalCount }} }}", filler(15_000))}),
            vec![],
        ),
        // Persisted queries: each registered under its hash.
        3 => {
            let query = format!(
                "# {}\n{{ programmes(first: 1) {{ totalCount }} }}",
                filler(15_000)
            );
            let hash = hex::encode(Sha256::digest(query.as_bytes()));
            (
                json!({"query": query, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}}),
                vec![],
            )
        }
        // Aggregate results: distinct arguments each.
        _ => (
            json!({"query": "query($s: String) { initiativeStats(groupBy: [STAGE], filter: {search: $s}) { total } }", "variables": {"s": filler(150)}}),
            vec![],
        ),
    }
}

#[tokio::test]
async fn a_flood_of_distinct_keys_levels_the_servers_memory_off() {
    const CLASSES: usize = 5;
    const ROUNDS: usize = 12;
    const PER_ROUND: usize = 60;
    let mut server = ServerProcess::start(
        true,
        &[
            "--rate-limit-anonymous-points",
            "1000000000",
            "--response-cache-mb",
            "8",
        ],
    )
    .await;
    let baseline = server.resident_bytes();
    let mut samples = Vec::new();
    let mut sent = 0;
    for round in 0..ROUNDS {
        let shapes: Vec<(usize, usize)> = (0..PER_ROUND)
            .map(|i| (i % CLASSES, round * PER_ROUND + i))
            .collect();
        let statuses: Vec<u16> = futures_util::stream::iter(shapes)
            .map(|(class, n)| {
                let server = &server;
                async move {
                    let (body, headers) = request(class, n);
                    let mut post = server
                        .client
                        .post(server.url("/graphql"))
                        .header("content-type", "application/json")
                        .body(body.to_string());
                    for (name, value) in headers {
                        post = post.header(name, value);
                    }
                    let response = post.send().await.expect("the server answers");
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    assert!(
                        status == 200 && !text.contains("\"errors\""),
                        "class {class}: {status} {}",
                        &text[..text.len().min(300)]
                    );
                    status
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        sent += statuses.len();
        samples.push(server.resident_bytes());
    }
    assert!(server.alive(), "the server died");
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let half = samples[ROUNDS / 2 - 1];
    let last_half_max = samples[ROUNDS / 2..].iter().copied().max().unwrap_or(0);
    eprintln!(
        "{sent} requests; resident MB at start {:.0}, per round {:?}",
        mb(baseline),
        samples.iter().map(|s| mb(*s).round()).collect::<Vec<_>>()
    );
    // Without bounds by bytes the first class alone keeps 150 KB per request: 40 MB per
    // round here. With them, the second half of the run adds at most a few megabytes.
    assert!(
        last_half_max <= half + (16 << 20),
        "memory kept growing over the last half of the run: {:.0} MB at the half, up to {:.0} MB after",
        mb(half),
        mb(last_half_max)
    );
    // And the whole stays within the caches' bounds (18 MB here) and the working memory.
    assert!(
        last_half_max <= baseline + (96 << 20),
        "memory grew from {:.0} MB to {:.0} MB",
        mb(baseline),
        mb(last_half_max)
    );
}

/// Clients that ask for large answers and then read nothing: each is dropped once it reads
/// below the floor rate over the window, the answers they hold never exceed the budget of bytes
/// being sent (those that find no room get a 503), and a client that reads gets its answer
/// once they are gone.
#[tokio::test]
async fn slow_readers_are_dropped_and_the_answers_they_hold_stay_within_the_budget() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const READERS: usize = 12;
    let mut server = ServerProcess::start(
        true,
        &[
            "--rate-limit-anonymous-points",
            "1000000000",
            "--max-nodes",
            "10000000",
            // The answer is made once and kept: the readers are answered from the cache.
            "--response-cache-mb",
            "128",
            "--send-budget-mb",
            "16",
            "--min-read-rate",
            "65536",
            "--min-read-window-secs",
            "4",
        ],
    )
    .await;
    // The schema's types, 24 times over: more than the sockets' buffers take (4 MB each).
    let (_, fragments) = crate::hardening::INTROSPECTION
        .split_once("fragment FullType")
        .unwrap();
    let aliases: String = (0..24)
        .map(|i| format!("s{i}: __schema {{ types {{ ...FullType }} }} "))
        .collect();
    let query = format!("{{ {aliases}}}\nfragment FullType{fragments}");
    let body = json!({"query": query}).to_string();
    // What a reader gets: the size of the answer.
    let whole = server
        .client
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept-encoding", "identity")
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    assert!(whole > 8 << 20, "the answer is only {whole} bytes");
    let baseline = server.resident_bytes();
    let address: std::net::SocketAddr = server
        .address
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         accept-encoding: identity\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // A small window: the answer stays in the server, not in this side's buffers.
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        readers.push(stream);
    }
    // They read nothing for longer than the window; meanwhile the bytes the server holds for
    // sending (its `/metrics`) and its memory are sampled.
    let metric = |text: &str, name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let (mut peak, mut held) = (baseline, 0.0f64);
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        peak = peak.max(server.resident_bytes());
        let text = server.metrics_text().await;
        held = held.max(metric(&text, "stroom_sending_bytes"));
    }
    // Then each looks at what it was sent: the head of an answer, or a refusal.
    let (mut answered, mut refused) = (0, 0);
    for mut stream in readers {
        let mut head = vec![0u8; 16 * 1024];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut head))
            .await
            .expect("nothing was sent")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&head[..n]);
        if text.starts_with("HTTP/1.1 503") {
            assert!(text.contains("busy sending"), "{text}");
            refused += 1;
        } else {
            assert!(
                text.starts_with("HTTP/1.1 200"),
                "{}",
                &text[..text.len().min(200)]
            );
            answered += 1;
        }
    }
    let closed_slow: u64 = server
        .metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with("stroom_connections_closed_total") && l.contains("slow_reader"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    eprintln!(
        "{READERS} readers of {whole} bytes: {answered} answered and {closed_slow} dropped as slow readers, {refused} refused; held for sending at most {:.1} MB; resident MB {:.0} → peak {:.0}",
        held / (1024.0 * 1024.0),
        mb(baseline),
        mb(peak)
    );
    // Every answered reader was dropped; the others found the budget full.
    assert!(
        answered > 0 && refused > 0,
        "{answered} answered, {refused} refused"
    );
    assert_eq!(closed_slow, answered as u64, "slow readers dropped");
    // Unbounded, these readers would hold over 100 MB of answers; the budget is 16 MB. (The
    // resident set is printed, not asserted: each request builds its answer before it is
    // counted, and the allocator keeps what those transient copies took.)
    assert!(
        held >= whole as f64 && held <= (16 << 20) as f64,
        "bytes held for sending at most {held}"
    );
    // With them gone, a client that reads gets the whole answer.
    let reply = server
        .client
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept-encoding", "identity")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    // (Its extensions say the points left, which may differ by a digit.)
    let length = reply.bytes().await.unwrap().len();
    assert!(
        length.abs_diff(whole) < 64,
        "{length} bytes instead of {whole}"
    );
    assert!(server.alive(), "the server died");
}
