//! The randomness behind `random` stickiness and Unleash's
//! `gradualRolloutRandom`: a lock-free SplitMix64 sequence, seedable for
//! tests.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

#[derive(Debug)]
pub(crate) struct Random(AtomicU64);

impl Random {
    pub(crate) fn seeded(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }

    /// Seeded from the per-process keys std draws for `HashMap`.
    pub(crate) fn from_entropy() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        Self::seeded(hasher.finish())
    }

    fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `1..=n` (`n > 0`).
    pub(crate) fn one_to(&self, n: u32) -> u32 {
        // The remainder is below `n`, so it fits in u32.
        #[allow(clippy::cast_possible_truncation)]
        let r = (self.next() % u64::from(n.max(1))) as u32;
        r + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_in_range_and_covers_it() {
        let random = Random::seeded(7);
        let mut seen = [false; 100];
        for _ in 0..10_000 {
            let n = random.one_to(100);
            assert!((1..=100).contains(&n));
            seen[n as usize - 1] = true;
        }
        assert!(seen.iter().all(|&s| s), "every bucket is drawn");
    }
}
