//! A small bounded map shared between threads: identities and validation results are looked up
//! on every transaction, and the set of distinct signers is small, so "clear when full" is enough.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{PoisonError, RwLock};

/// A thread-safe map that forgets everything once it holds `capacity` entries.
#[derive(Debug)]
pub(crate) struct BoundedCache<K, V> {
    map: RwLock<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> BoundedCache<K, V> {
    /// An empty cache holding at most `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// A clone of the value cached for `key`.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Caches `value` under `key`, first emptying the cache if it is full.
    pub(crate) fn insert(&self, key: K, value: V) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, value);
    }

    /// Number of cached entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clears_when_full() {
        let cache = BoundedCache::new(2);
        cache.insert(1, "a");
        cache.insert(2, "b");
        assert_eq!(cache.get(&1), Some("a"));
        cache.insert(2, "c"); // replacing does not clear
        assert_eq!(cache.len(), 2);
        cache.insert(3, "d");
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&3), Some("d"));
    }
}
