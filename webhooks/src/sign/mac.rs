//! A keyed HMAC-SHA256 state, computed once per secret.

use std::fmt;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

use super::secret::SecretError;

/// The HMAC-SHA256 block size; keys up to this length are zero-padded, longer
/// ones hashed first (RFC 2104).
const BLOCK_LEN: usize = 64;

/// The length of an HMAC-SHA256 tag.
pub(crate) const MAC_LEN: usize = 32;

/// HMAC-SHA256 already keyed: the inner and outer pads are hashed once when
/// the secret is loaded, and every message clones that state instead of
/// re-deriving it.
#[derive(Clone)]
pub(crate) struct MacKey(Hmac<Sha256>);

impl MacKey {
    pub(crate) fn new(key: &[u8]) -> Self {
        // RFC 2104 key derivation done here so construction is infallible
        // without an `unwrap` (`new_from_slice` never fails for HMAC but
        // still returns a `Result`).
        let mut block = [0u8; BLOCK_LEN];
        if key.len() > BLOCK_LEN {
            block[..MAC_LEN].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        Self(Hmac::new(&block.into()))
    }

    /// The key for a secret used as its UTF-8 bytes (Stripe, GitHub).
    ///
    /// # Errors
    ///
    /// [`SecretError`] `"empty_secret"` when `secret` is empty or only
    /// whitespace: a MAC keyed with nothing proves nothing, since anyone can
    /// compute it.
    pub(crate) fn from_text(secret: &str) -> Result<Self, SecretError> {
        if secret.trim().is_empty() {
            return Err(SecretError::EMPTY);
        }
        Ok(Self::new(secret.as_bytes()))
    }

    /// The MAC of the concatenation of `parts`, fed piece by piece so the
    /// body is never copied.
    pub(crate) fn tag(&self, parts: &[&[u8]]) -> [u8; MAC_LEN] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_key_schedule_for_every_key_length() {
        for len in [0, 1, 31, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let mut reference = <Hmac<Sha256>>::new_from_slice(&key).unwrap();
            reference.update(b"hello world");
            let expected: [u8; MAC_LEN] = reference.finalize().into_bytes().into();
            assert_eq!(
                MacKey::new(&key).tag(&[b"hello", b" ", b"world"]),
                expected,
                "len {len}"
            );
        }
    }
}
