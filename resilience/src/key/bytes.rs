//! [`KeyBytes`]: an owned, bounded copy of a key taken from a request.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Bytes kept inline, without an allocation (an IPv6 address, a UUID, most
/// API keys and route templates fit).
const INLINE: usize = 46;

/// The default longest key the text extractors accept ([`HeaderKey`],
/// [`AuthorityKey`], [`RouteKey`]); longer values are refused with
/// [`MissingKey`](super::MissingKey) rather than stored.
///
/// [`HeaderKey`]: super::HeaderKey
/// [`AuthorityKey`]: super::AuthorityKey
/// [`RouteKey`]: super::RouteKey
pub const DEFAULT_MAX_KEY_LEN: usize = 256;

/// A key copied out of a request (a header value, an authority, a route).
///
/// It owns its bytes — up to 46 inline, longer ones in one heap allocation —
/// so a key kept in a keyed layer's map never keeps the request's header
/// buffer alive, and the extractors cap its length.
#[derive(Clone)]
pub struct KeyBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl KeyBytes {
    /// A copy of `bytes`.
    #[must_use]
    pub fn copy_from(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let mut inline = [0; INLINE];
            inline[..bytes.len()].copy_from_slice(bytes);
            // `bytes.len() <= INLINE < 256`.
            #[allow(clippy::cast_possible_truncation)]
            let len = bytes.len() as u8;
            Self(Repr::Inline { len, bytes: inline })
        } else {
            Self(Repr::Heap(bytes.into()))
        }
    }

    /// The key's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(bytes) => bytes,
        }
    }
}

impl PartialEq for KeyBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for KeyBytes {}

impl Hash for KeyBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl From<&str> for KeyBytes {
    fn from(key: &str) -> Self {
        Self::copy_from(key.as_bytes())
    }
}

impl fmt::Display for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use super::*;

    fn hash(key: &KeyBytes) -> u64 {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    }

    #[test]
    fn short_and_long_keys_round_trip_and_compare_by_content() {
        for len in [0, 1, INLINE - 1, INLINE, INLINE + 1, 1000] {
            let bytes = vec![b'k'; len];
            let key = KeyBytes::copy_from(&bytes);
            assert_eq!(key.as_bytes(), &bytes[..]);
            assert_eq!(key, KeyBytes::copy_from(&bytes));
            assert_eq!(hash(&key), hash(&KeyBytes::copy_from(&bytes)));
        }
        assert_ne!(KeyBytes::from("a"), KeyBytes::from("a\0"));
        assert_eq!(KeyBytes::from("tenant-7").to_string(), "tenant-7");
    }
}
