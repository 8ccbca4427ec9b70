//! Parsed documents kept by their text: a dashboard or an app sends the same few queries over
//! and over, and parsing is the most expensive step before execution. A document is kept only
//! after it passed the pre-parse limits and parsed, so a kept text needs neither again.
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

pub struct Documents {
    kept: Mutex<LruCache<Arc<str>, Arc<ExecutableDocument>>>,
}

/// Longest text kept: larger documents are rare and would crowd out the common ones.
const MAX_KEPT_CHARS: usize = 16 * 1024;

impl Documents {
    /// Keeps up to `capacity` documents; `None` for 0.
    pub fn new(capacity: usize) -> Option<Self> {
        NonZeroUsize::new(capacity).map(|capacity| Self {
            kept: Mutex::new(LruCache::new(capacity)),
        })
    }

    pub fn get(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        let found = self.kept.lock().ok()?.get(text).cloned();
        let outcome = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("stroom_document_cache_total", "outcome" => outcome).increment(1);
        found
    }

    pub fn put(&self, text: &str, document: &ExecutableDocument) {
        if text.len() > MAX_KEPT_CHARS {
            return;
        }
        if let Ok(mut kept) = self.kept.lock() {
            kept.put(Arc::from(text), Arc::new(document.clone()));
        }
    }
}
