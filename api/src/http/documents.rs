//! Parsed documents kept by their text: a dashboard or an app sends the same few queries over
//! and over, and parsing is the most expensive step before execution. A document is kept only
//! after it passed the pre-parse limits and parsed, so a kept text needs neither again.
use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

use crate::kernel::bounded::{Bounded, key};

pub struct Documents {
    kept: Bounded<Arc<ExecutableDocument>>,
}

/// Longest text kept: larger documents are rare and would crowd out the common ones.
const MAX_KEPT_CHARS: usize = 16 * 1024;

/// What a parsed document holds per character of its text (its syntax tree, with names,
/// positions and values), measured on the canonical dashboard queries and rounded up.
const TREE_BYTES_PER_CHAR: usize = 24;

impl Documents {
    /// Keeps up to `capacity` documents in `max_bytes`; `None` for 0.
    pub fn new(capacity: usize, max_bytes: usize) -> Option<Self> {
        Some(Self {
            kept: Bounded::new("documents", capacity, max_bytes)?,
        })
    }

    pub fn get(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        let found = self.kept.get(&key([text.as_bytes()]));
        let outcome = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("stroom_document_cache_total", "outcome" => outcome).increment(1);
        found
    }

    pub fn put(&self, text: &str, document: &ExecutableDocument) {
        if text.len() > MAX_KEPT_CHARS {
            return;
        }
        let bytes = text.len() * TREE_BYTES_PER_CHAR;
        self.kept
            .put(key([text.as_bytes()]), Arc::new(document.clone()), bytes);
    }
}
