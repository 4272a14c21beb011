//! Bucketing identical to Unleash: MurmurHash3 x86 32-bit over
//! `"{group_id}:{stickiness_value}"`.
//!
//! Rollouts use seed 0 and map the hash to a bucket in `1..=100`; variants use
//! seed [`VARIANT_SEED`] and map it into `1..=total_weight`. The hash is fed the
//! pieces one after the other, so bucketing never builds the joined string
//! (no allocation on the evaluation path).
//!
//! ```
//! use palisade_flags::hash::{murmur3_32, rollout_bucket};
//!
//! assert_eq!(murmur3_32(b"gr1:123", 0) % 100 + 1, 73);
//! assert_eq!(rollout_bucket("gr1", "123"), 73);
//! ```

/// The seed Unleash uses when it picks a variant (rollouts use 0).
pub const VARIANT_SEED: u32 = 86_028_157;

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

/// MurmurHash3 x86 32-bit of `bytes` with `seed`.
#[must_use]
pub fn murmur3_32(bytes: &[u8], seed: u32) -> u32 {
    let mut hasher = Murmur3::new(seed);
    hasher.write(bytes);
    hasher.finish()
}

/// The rollout bucket (`1..=100`) of `stickiness_value` within `group_id`,
/// exactly as Unleash's `normalizedValue`.
#[must_use]
pub fn rollout_bucket(group_id: &str, stickiness_value: &str) -> u32 {
    joined_hash(group_id, stickiness_value, 0) % 100 + 1
}

/// The variant target (`1..=total_weight`) of `stickiness_value` within
/// `group_id`, as Unleash's `normalizedVariantValue`. `None` when the total
/// weight is zero (no variant can be picked).
#[must_use]
pub fn variant_target(group_id: &str, stickiness_value: &str, total_weight: u32) -> Option<u32> {
    if total_weight == 0 {
        return None;
    }
    Some(joined_hash(group_id, stickiness_value, VARIANT_SEED) % total_weight + 1)
}

/// The hash of `"{group_id}:{value}"` without building the string.
fn joined_hash(group_id: &str, value: &str, seed: u32) -> u32 {
    let mut hasher = Murmur3::new(seed);
    hasher.write(group_id.as_bytes());
    hasher.write(b":");
    hasher.write(value.as_bytes());
    hasher.finish()
}

/// Streaming MurmurHash3 x86_32: whole 4-byte blocks are mixed as they
/// arrive; up to 3 bytes wait in `pending` for the next piece.
struct Murmur3 {
    state: u32,
    pending: [u8; 4],
    pending_len: usize,
    total_len: usize,
}

impl Murmur3 {
    fn new(seed: u32) -> Self {
        Self {
            state: seed,
            pending: [0; 4],
            pending_len: 0,
            total_len: 0,
        }
    }

    fn write(&mut self, mut bytes: &[u8]) {
        self.total_len += bytes.len();
        // Complete a block started by the previous piece.
        while self.pending_len > 0 && self.pending_len < 4 {
            let Some((&first, rest)) = bytes.split_first() else {
                return;
            };
            self.pending[self.pending_len] = first;
            self.pending_len += 1;
            bytes = rest;
        }
        if self.pending_len == 4 {
            let block = u32::from_le_bytes(self.pending);
            self.mix_block(block);
            self.pending_len = 0;
        }
        let mut blocks = bytes.chunks_exact(4);
        for block in &mut blocks {
            let block = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
            self.mix_block(block);
        }
        for &byte in blocks.remainder() {
            self.pending[self.pending_len] = byte;
            self.pending_len += 1;
        }
    }

    fn mix_block(&mut self, block: u32) {
        self.state ^= scramble(block);
        self.state = self
            .state
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }

    fn finish(mut self) -> u32 {
        if self.pending_len > 0 {
            let mut tail = 0u32;
            for (i, &byte) in self.pending[..self.pending_len].iter().enumerate() {
                tail |= u32::from(byte) << (8 * i);
            }
            self.state ^= scramble(tail);
        }
        // The reference implementation mixes in the length modulo 2^32.
        #[allow(clippy::cast_possible_truncation)]
        let mut hash = self.state ^ (self.total_len as u32);
        hash ^= hash >> 16;
        hash = hash.wrapping_mul(0x85eb_ca6b);
        hash ^= hash >> 13;
        hash = hash.wrapping_mul(0xc2b2_ae35);
        hash ^ (hash >> 16)
    }
}

fn scramble(block: u32) -> u32 {
    block.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_the_published_murmur3_vectors() {
        // From the reference implementation's test suite (SMHasher) and
        // widely published vectors.
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"", 0xffff_ffff), 0x81f1_6f39);
        assert_eq!(murmur3_32(&[0, 0, 0, 0], 0), 0x2362_f9de);
        assert_eq!(murmur3_32(b"aaaa", 0x9747_b28c), 0x5a97_808a);
        assert_eq!(murmur3_32(b"abc", 0), 0xb3dd_93fa);
        assert_eq!(murmur3_32(b"Hello, world!", 0x9747_b28c), 0x2488_4cba);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0x9747_b28c),
            0x2fa8_26cd
        );
    }

    #[test]
    fn matches_unleash_rollout_vectors() {
        assert_eq!(rollout_bucket("gr1", "123"), 73);
        assert_eq!(rollout_bucket("groupX", "999"), 25);
    }

    #[test]
    fn a_zero_total_weight_picks_no_variant() {
        assert_eq!(variant_target("flag", "user", 0), None);
        assert!(matches!(variant_target("flag", "user", 3), Some(1..=3)));
    }

    proptest! {
        #[test]
        fn streaming_equals_hashing_the_joined_string(
            group in ".{0,12}", value in ".{0,12}", seed in any::<u32>()
        ) {
            let joined = format!("{group}:{value}");
            prop_assert_eq!(joined_hash(&group, &value, seed), murmur3_32(joined.as_bytes(), seed));
        }

        #[test]
        fn buckets_stay_within_one_to_a_hundred(group in ".{0,12}", value in ".{0,12}") {
            prop_assert!((1..=100).contains(&rollout_bucket(&group, &value)));
        }
    }
}
