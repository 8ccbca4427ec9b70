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
