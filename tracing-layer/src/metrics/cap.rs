//! The bound on distinct label sets a layer creates.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::{PoisonError, RwLock};

use metrics::Label;

/// Remembers the label sets a layer has recorded, up to `max`; a new set
/// beyond that is refused, and the layer records it under the overflow label.
///
/// Sets are stored by a 64-bit hash: a collision can only let one extra set
/// through as a known one, never lose a sample.
#[derive(Debug)]
pub(super) struct SeriesCap {
    max: usize,
    seen: RwLock<HashSet<u64, BuildHasherDefault<NoHash>>>,
}

impl SeriesCap {
    pub(super) fn new(max: usize) -> Self {
        Self {
            max,
            seen: RwLock::new(HashSet::default()),
        }
    }

    /// Whether `labels` may be recorded as they are.
    pub(super) fn admit(&self, labels: &[Label]) -> bool {
        let mut hasher = BuildHasherDefault::<DefaultHasher>::default().build_hasher();
        for label in labels {
            label.key().hash(&mut hasher);
            label.value().hash(&mut hasher);
        }
        let hash = hasher.finish();
        // A poisoned lock only means another thread panicked mid-insert of a
        // `u64`, which cannot leave the set inconsistent.
        if self
            .seen
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&hash)
        {
            return true;
        }
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if seen.len() < self.max {
            seen.insert(hash);
            true
        } else {
            seen.contains(&hash)
        }
    }
}

/// The keys are already hashes.
#[derive(Default)]
pub(super) struct NoHash(u64);

impl Hasher for NoHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_max_sets_then_only_known_ones() {
        let cap = SeriesCap::new(2);
        let set = |v: &'static str| [Label::new("k", v)];
        assert!(cap.admit(&set("a")));
        assert!(cap.admit(&set("b")));
        assert!(!cap.admit(&set("c")));
        assert!(cap.admit(&set("a")));
        assert!(!cap.admit(&set("d")));
    }
}
