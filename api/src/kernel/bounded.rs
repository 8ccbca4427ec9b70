//! The one shape of everything the service keeps in memory for reuse (answers, aggregate
//! results, parsed documents, persisted queries): least recently used first out, bounded by
//! a number of entries and by bytes, every entry weighed in full: its key, its value and the
//! bookkeeping around them.
//!
//! Keys are SHA-256 digests of what identifies an entry, so a request whose identity is large
//! (a long query, big variables, a long `Accept-Language`) costs the cache 32 bytes of key,
//! never its text; two identities collide only if SHA-256 does.
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use sha2::{Digest, Sha256};

/// What identifies a kept entry.
pub type Key = [u8; 32];

/// The key of an identity made of `parts`, each length-prefixed so that no two different
/// lists of parts give the same bytes to hash.
pub fn key<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Key {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The bytes an entry costs beyond its value: the key, the list's links and the map's slot.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Key>() + 96;

struct Kept<V> {
    value: V,
    bytes: usize,
}

struct Inner<V> {
    entries: LruCache<Key, Kept<V>>,
    bytes: usize,
}

/// A least-recently-used store bounded by entries and bytes.
pub struct Bounded<V> {
    /// The cache's name in the metrics (`stroom_cache_bytes{cache="…"}`).
    name: &'static str,
    inner: Mutex<Inner<V>>,
    max_entries: usize,
    max_bytes: usize,
}

impl<V: Clone> Bounded<V> {
    /// A store of at most `max_entries` entries and `max_bytes` bytes; `None` (keep nothing)
    /// when either is 0.
    pub fn new(name: &'static str, max_entries: usize, max_bytes: usize) -> Option<Self> {
        NonZeroUsize::new(max_entries)?;
        (max_bytes > 0).then(|| Self {
            name,
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
            max_entries,
            max_bytes,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept value, now the most recently used.
    pub fn get(&self, key: &Key) -> Option<V> {
        self.lock().entries.get(key).map(|kept| kept.value.clone())
    }

    /// Forgets an entry.
    pub fn remove(&self, key: &Key) {
        let mut inner = self.lock();
        if let Some(gone) = inner.entries.pop(key) {
            inner.bytes -= gone.bytes;
        }
        self.report(&inner);
    }

    /// Keeps `value`, weighing `value_bytes` (its own and what it points to); the least
    /// recently used entries go until the store is within its bounds. An entry larger than an
    /// eighth of the store is not kept (it would push out many common ones): answers false.
    pub fn put(&self, key: Key, value: V, value_bytes: usize) -> bool {
        let bytes = value_bytes.saturating_add(ENTRY_OVERHEAD);
        if bytes > self.max_bytes / 8 {
            return false;
        }
        let mut inner = self.lock();
        inner.bytes += bytes;
        if let Some(replaced) = inner.entries.put(key, Kept { value, bytes }) {
            inner.bytes -= replaced.bytes;
        }
        while inner.entries.len() > self.max_entries || inner.bytes > self.max_bytes {
            match inner.entries.pop_lru() {
                Some((_, gone)) => inner.bytes -= gone.bytes,
                None => break,
            }
        }
        self.report(&inner);
        true
    }

    /// The bytes kept now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn report(&self, inner: &Inner<V>) {
        metrics::gauge!("stroom_cache_bytes", "cache" => self.name).set(inner.bytes as f64);
        metrics::gauge!("stroom_cache_entries", "cache" => self.name)
            .set(inner.entries.len() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_different_parts_differ_even_when_their_bytes_join_alike() {
        assert_ne!(key([b"ab".as_slice(), b"c"]), key([b"a".as_slice(), b"bc"]));
        assert_eq!(key([b"ab".as_slice(), b"c"]), key([b"ab".as_slice(), b"c"]));
    }

    #[test]
    fn the_store_holds_its_bounds_in_entries_and_bytes() {
        let store = Bounded::new("test", 10, 8 * 1024).unwrap();
        for i in 0..1_000u32 {
            let value = vec![0u8; (i as usize * 37) % 900];
            let size = value.len();
            store.put(key([i.to_le_bytes().as_slice()]), value, size);
            assert!(store.bytes() <= 8 * 1024);
            assert!(store.lock().entries.len() <= 10);
        }
        // Too large for the store: refused, and nothing else pushed out for it.
        let before = store.bytes();
        assert!(!store.put(key([b"big".as_slice()]), vec![0u8; 2_000], 2_000));
        assert_eq!(store.bytes(), before);
        // The most recently used survive.
        let last = key([999u32.to_le_bytes().as_slice()]);
        assert!(store.get(&last).is_some());
        store.remove(&last);
        assert!(store.get(&last).is_none());
    }
}
