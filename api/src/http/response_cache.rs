//! Whole answers kept for repeated reads: the same query with the same variables, asked by the
//! same caller in the same languages, is answered from memory while every table the answer
//! read keeps its change stamp (`kernel::stamps`). The stamps live in the database, move in
//! the writing transaction and are read once per request (shared by requests arriving
//! together), so no instance serves an answer a committed write has replaced, to the writer or
//! to anyone else. Each kept answer has an entity tag: a polling client that sends it back in
//! `If-None-Match` gets `304 Not Modified` while the answer holds.
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderValue;

use crate::kernel::access::Viewer;
use crate::kernel::bounded::{Bounded, Key, key};
use crate::kernel::stamps::{Freshness, StampReader, Stamps};

/// One kept answer.
pub struct Entry {
    /// The tables the answer read and their stamps when it was computed.
    freshness: Freshness,
    /// The answer's `data`, serialised.
    pub data: Bytes,
    pub etag: HeaderValue,
    pub content_language: Option<HeaderValue>,
}

impl Entry {
    /// Everything the entry holds, in bytes.
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.data.len()
            + self.etag.len()
            + self.content_language.as_ref().map_or(0, HeaderValue::len)
            + self.freshness.bytes()
    }
}

pub struct ResponseCache {
    entries: Bounded<Arc<Entry>>,
    max_age: Duration,
    pub stamps: Arc<StampReader>,
    /// Every table of the database, to recognise table names in statements.
    pub tables: Arc<crate::kernel::stamps::TableNames>,
}

/// What makes two requests the same request.
pub struct Identity<'a> {
    pub query: &'a str,
    pub operation_name: Option<&'a str>,
    pub variables: &'a async_graphql::Variables,
    pub viewer: &'a Viewer,
    pub accept_language: Option<&'a str>,
}

impl Identity<'_> {
    /// The cache key: the digest of every part (the parts themselves are not kept, however
    /// large they are).
    pub fn key(&self) -> Key {
        let variables = serde_json::to_string(self.variables).unwrap_or_default();
        let (key_id, key_name) = match &self.viewer.key {
            Some((id, name)) => (*id, name.as_str()),
            None => (0, ""),
        };
        let viewer = format!(
            "{:?}|{key_id}|{:?}",
            self.viewer.role, self.viewer.municipality_id
        );
        key([
            viewer.as_bytes(),
            key_name.as_bytes(),
            self.accept_language.unwrap_or_default().as_bytes(),
            self.operation_name.unwrap_or_default().as_bytes(),
            variables.as_bytes(),
            self.query.as_bytes(),
        ])
    }
}

/// A weak entity tag for an answer's data (the envelope around it, such as the rate-limit
/// budget, changes from request to request; the data is what the tag vouches for).
pub fn etag(data: &[u8]) -> HeaderValue {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut hasher);
    let digest = hasher.finish();
    let mut length = std::collections::hash_map::DefaultHasher::new();
    data.len().hash(&mut length);
    HeaderValue::from_str(&format!(
        "W/\"{digest:016x}{:08x}\"",
        length.finish() as u32
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
}

/// Whether an `If-None-Match` header names this tag (weak comparison, as for GET).
pub fn matches(if_none_match: Option<&HeaderValue>, etag: &HeaderValue) -> bool {
    let Some(header) = if_none_match.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    header
        .split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(ours))
}

impl ResponseCache {
    /// A cache of up to `capacity` answers holding `max_bytes` at most, everything an entry
    /// holds counted; `None` (no caching) for a capacity of 0.
    pub fn new(
        capacity: usize,
        max_bytes: usize,
        max_age: Duration,
        stamps: Arc<StampReader>,
        tables: Arc<crate::kernel::stamps::TableNames>,
    ) -> Option<Self> {
        Some(Self {
            entries: Bounded::new("responses", capacity, max_bytes)?,
            max_age,
            stamps,
            tables,
        })
    }

    /// The kept answer, if every table it read still has the stamp it had.
    pub fn get(&self, key: &Key, stamps: &Stamps) -> Option<Arc<Entry>> {
        let entry = self.entries.get(key)?;
        if entry.freshness.holds(stamps, self.max_age) {
            return Some(entry);
        }
        self.entries.remove(key);
        None
    }

    /// Keeps an answer computed after `stamps` were read, which read `tables`. Returns its
    /// entity tag; `None` when it cannot be kept (it read a table without a stamp, or is too
    /// large), and is then given no tag.
    pub fn put(
        &self,
        key: Key,
        tables: &BTreeSet<String>,
        stamps: &Stamps,
        data: Bytes,
        content_language: Option<HeaderValue>,
    ) -> Option<HeaderValue> {
        let freshness = Freshness::of(tables, stamps)?;
        let etag = etag(&data);
        let entry = Arc::new(Entry {
            freshness,
            data,
            etag: etag.clone(),
            content_language,
        });
        let bytes = entry.bytes();
        self.entries.put(key, entry, bytes).then_some(etag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let tag = etag(b"{\"a\":1}");
        let text = tag.to_str().unwrap().to_owned();
        let strong = text.trim_start_matches("W/").to_owned();
        for header in [
            text.clone(),
            strong.clone(),
            format!("\"other\", {text}"),
            "*".to_owned(),
        ] {
            assert!(
                matches(Some(&HeaderValue::from_str(&header).unwrap()), &tag),
                "{header}"
            );
        }
        assert!(!matches(Some(&HeaderValue::from_static("\"other\"")), &tag));
        assert!(!matches(None, &tag));
        assert_ne!(etag(b"{\"a\":2}"), tag);
    }
}
