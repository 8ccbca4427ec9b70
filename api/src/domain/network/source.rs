//! Reading another instance: its announcement, a page of its change feed and the records the
//! events name, each read bounded in time and size, and checked before anything is believed.
use std::time::Duration;

use entity::LocalizedText;
use serde_json::{Value, json};

/// Longest one read of another instance may take, from connecting to the last byte.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest announcement, page of the feed, or answer of records.
const MAX_ANNOUNCEMENT_BYTES: usize = 64 * 1024;
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Events read per page of the feed.
pub const PAGE_EVENTS: usize = 200;

/// What went wrong reading another instance, said so that its admin can act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn problem(text: impl Into<String>) -> Problem {
    Problem(text.into())
}

/// What another instance says of itself.
#[derive(Debug, Clone)]
pub struct Announced {
    pub name: String,
    pub municipality: Option<LocalizedText>,
    pub country: Option<String>,
    pub languages: Vec<String>,
    pub graphql: String,
    pub feed: String,
    pub schema_version: String,
}

/// One event of another instance's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub object_type: String,
    pub object_id: String,
}

/// Another instance, and the key to read it with.
pub struct Source {
    client: reqwest::Client,
    url: String,
    key: Option<String>,
}

impl Source {
    pub fn new(url: &str, key: Option<String>) -> Result<Self, Problem> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| problem(format!("`{url}` is not an address ({e}).")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(problem(format!("`{url}` is not an http(s) address.")));
        }
        let client = reqwest::Client::builder()
            .timeout(READ_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| problem(format!("no HTTP client: {e}")))?;
        Ok(Self {
            client,
            url: url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let request = self.client.get(url);
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// The announcement at `/.well-known/stroom`.
    pub async fn announcement(&self) -> Result<Announced, Problem> {
        let url = format!("{}/.well-known/stroom", self.url);
        let body = read(self.get(&url), MAX_ANNOUNCEMENT_BYTES, &url).await?;
        let value: Value = serde_json::from_slice(&body)
            .map_err(|_| problem(format!("{url} does not answer a Stroom announcement (not JSON).")))?;
        let text = |field: &str| -> Result<String, Problem> {
            value[field]
                .as_str()
                .filter(|t| !t.trim().is_empty() && t.len() <= 2048)
                .map(str::to_owned)
                .ok_or_else(|| {
                    problem(format!("{url} does not answer a Stroom announcement (no `{field}`)."))
                })
        };
        let address = |field: &str| -> Result<String, Problem> {
            let address = text(field)?;
            match reqwest::Url::parse(&address) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(address),
                _ => Err(problem(format!("{url} announces `{field}` as `{address}`, which is not an http(s) address."))),
            }
        };
        let municipality = match value.get("municipality") {
            Some(Value::Object(m)) => m
                .get("name")
                .and_then(Value::as_object)
                .map(|names| {
                    let mut text = LocalizedText::new();
                    for (locale, name) in names.iter().take(32) {
                        if let Some(name) = name.as_str() {
                            text = text.with(locale, name.chars().take(200).collect::<String>());
                        }
                    }
                    text
                }),
            _ => None,
        };
        Ok(Announced {
            name: text("name")?.chars().take(200).collect(),
            municipality,
            country: value["country"]
                .as_str()
                .filter(|c| c.len() == 2 && c.chars().all(|c| c.is_ascii_uppercase()))
                .map(str::to_owned),
            languages: value["languages"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .filter(|l| l.len() <= 16)
                        .take(16)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            graphql: address("graphql")?,
            feed: address("feed")?,
            schema_version: text("schemaVersion")?.chars().take(64).collect(),
        })
    }

    /// The events after `after` of the types asked for, at most a page of them; numbering must
    /// grow from `after` on.
    pub async fn events(
        &self,
        feed: &str,
        after: i64,
        types: &[&str],
    ) -> Result<Vec<Event>, Problem> {
        let url = format!(
            "{feed}?after={after}&limit={PAGE_EVENTS}&types={}",
            types.join(",")
        );
        let body = read(self.get(&url), MAX_PAGE_BYTES, feed).await?;
        let mut events: Vec<Event> = Vec::new();
        let mut last = after;
        // A page cut short (the connection broke) ends without its last newline: whole lines only.
        let whole = match body.iter().rposition(|b| *b == b'\n') {
            Some(end) => &body[..end],
            None => &body[..0],
        };
        for line in whole.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            if line.len() > MAX_LINE_BYTES {
                return Err(problem(format!(
                    "The feed sent an event of {} bytes (at most {MAX_LINE_BYTES}).",
                    line.len()
                )));
            }
            let value: Value = serde_json::from_slice(line)
                .map_err(|_| problem("The feed sent a line that is not JSON."))?;
            let id = value["id"]
                .as_str()
                .and_then(|id| id.parse::<i64>().ok())
                .ok_or_else(|| problem("The feed sent an event without a numeric `id`."))?;
            if id <= last {
                return Err(problem(format!(
                    "The feed's numbering went backwards: event {id} after {last}."
                )));
            }
            last = id;
            let text = |field: &str| {
                value[field]
                    .as_str()
                    .filter(|t| !t.is_empty() && t.len() <= 255)
                    .map(str::to_owned)
                    .ok_or_else(|| problem(format!("The feed sent event {id} without `{field}`.")))
            };
            events.push(Event {
                id,
                object_type: text("objectType")?,
                object_id: text("objectId")?,
            });
            if events.len() > PAGE_EVENTS {
                return Err(problem("The feed sent more events than asked for."));
            }
        }
        Ok(events)
    }

    /// The records of these global IDs as the source shows them now (null: it shows none).
    pub async fn nodes(
        &self,
        graphql: &str,
        selection: &str,
        fragments: &str,
        ids: &[String],
    ) -> Result<Vec<Value>, Problem> {
        let query =
            format!("query Follow($ids: [ID!]!) {{ nodes(ids: $ids) {{ {selection} }} }} {fragments}");
        let data = self.query(graphql, &query, json!({"ids": ids})).await?;
        match data["nodes"].as_array() {
            Some(nodes) if nodes.len() == ids.len() => Ok(nodes.clone()),
            _ => Err(problem(format!("{graphql} did not answer the records asked for."))),
        }
    }

    /// The number of the newest event of the source's feed that this reader may see (0: none).
    pub async fn head(&self, graphql: &str) -> Result<i64, Problem> {
        let data = self
            .query(graphql, "query FollowHead { changes(last: 1) { nodes { id } } }", json!({}))
            .await?;
        match data["changes"]["nodes"].as_array() {
            Some(nodes) if nodes.is_empty() => Ok(0),
            Some(nodes) => nodes[0]["id"]
                .as_str()
                .and_then(|id| id.parse::<i64>().ok())
                .filter(|id| *id >= 0)
                .ok_or_else(|| problem(format!("{graphql} answered an event without a number."))),
            None => Err(problem(format!("{graphql} did not answer its latest event."))),
        }
    }

    /// A page of the IDs of the source's own records of a list (`learnings`) after `cursor`,
    /// and the cursor of the next page when there is one.
    pub async fn record_ids(
        &self,
        graphql: &str,
        list: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), Problem> {
        let query = format!(
            "query FollowList($after: String) {{ {list}(first: 100, after: $after) {{ nodes {{ id }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let data = self
            .query(graphql, &query, json!({"after": cursor}))
            .await?;
        let page = &data[list];
        let ids: Option<Vec<String>> = page["nodes"].as_array().map(|nodes| {
            nodes
                .iter()
                .filter_map(|n| n["id"].as_str().filter(|id| id.len() <= 255).map(str::to_owned))
                .collect()
        });
        let Some(ids) = ids.filter(|ids| ids.len() <= 100) else {
            return Err(problem(format!("{graphql} did not answer a page of {list}.")));
        };
        let next = match page["pageInfo"]["hasNextPage"].as_bool() {
            Some(true) => Some(
                page["pageInfo"]["endCursor"]
                    .as_str()
                    .filter(|c| c.len() <= 1024)
                    .map(str::to_owned)
                    .ok_or_else(|| problem(format!("{graphql} answered a page without its cursor.")))?,
            ),
            _ => None,
        };
        Ok((ids, next))
    }

    /// The `data` of a GraphQL query to the source; its first error refuses it.
    async fn query(&self, graphql: &str, query: &str, variables: Value) -> Result<Value, Problem> {
        let request = self
            .client
            .post(graphql)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(json!({"query": query, "variables": variables}).to_string());
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let body = read(request, MAX_PAGE_BYTES, graphql).await?;
        let mut value: Value = serde_json::from_slice(&body)
            .map_err(|_| problem(format!("{graphql} did not answer JSON.")))?;
        if let Some(message) = value["errors"][0]["message"].as_str() {
            return Err(problem(format!(
                "{graphql} refused the query: {}",
                message.chars().take(300).collect::<String>()
            )));
        }
        match value.get_mut("data").map(Value::take) {
            Some(data @ Value::Object(_)) => Ok(data),
            _ => Err(problem(format!("{graphql} answered no data."))),
        }
    }
}

/// The body of a response, refused when the status is not a success, it is larger than
/// `limit` or it does not end in time.
async fn read(request: reqwest::RequestBuilder, limit: usize, what: &str) -> Result<Vec<u8>, Problem> {
    let mut response = request.send().await.map_err(|e| {
        problem(if e.is_timeout() {
            format!("{what} did not answer within {} s.", READ_TIMEOUT.as_secs())
        } else {
            format!("{what} cannot be reached ({e}).")
        })
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(problem(match status.as_u16() {
            401 | 403 => format!("{what} refused the key ({status}): it may have been revoked."),
            _ => format!("{what} answered {status}."),
        }));
    }
    if response.content_length().is_some_and(|l| l > limit as u64) {
        return Err(problem(format!("{what} sent more than {limit} bytes.")));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(problem(format!("{what} sent more than {limit} bytes.")));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => {
                return Err(problem(format!(
                    "{what} did not finish its answer within {} s.",
                    READ_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(problem(format!("{what} broke off its answer ({e})."))),
        }
    }
}
