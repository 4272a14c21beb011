//! The ed25519 public key of Standard Webhooks `v1a` (`whpk_<base64>`).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ed25519_dalek::ed25519::signature::MultipartVerifier as _;

use crate::sign::SecretError;
use crate::sign::encoding::BASE64;

/// The prefix of a `v1a` public key.
const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// An ed25519 public key that verifies Standard Webhooks `v1a` signatures.
///
/// Parsed from `whpk_<base64 of 32 bytes>` (prefix and padding optional) and
/// printed back in that form. Public keys are not secret, so `Debug` shows it.
///
/// ```
/// use palisade_webhooks::verify::PublicKey;
///
/// let key: PublicKey = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=".parse()?;
/// assert_eq!(key.to_string(), "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=");
/// assert_eq!("whpk_AAAA".parse::<PublicKey>().unwrap_err().kind(), "invalid_key");
/// # Ok::<(), palisade_webhooks::sign::SecretError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    inner: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    pub(crate) fn from_verifying_key(inner: ed25519_dalek::VerifyingKey) -> Self {
        Self { inner }
    }

    /// A key from its 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`SecretError`] with kind `"invalid_key"` when the bytes are not a
    /// point on the curve.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SecretError> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(Self::from_verifying_key)
            .map_err(|_| SecretError::INVALID_KEY)
    }

    /// The 32 raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.inner.as_bytes()
    }

    /// Whether `sig` (64 bytes) signs the concatenation of `parts`.
    pub(crate) fn verifies(&self, parts: &[&[u8]], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.inner.multipart_verify(parts, &sig).is_ok()
    }
}

impl FromStr for PublicKey {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let b64 = s.strip_prefix(PUBLIC_KEY_PREFIX).unwrap_or(s);
        if b64.is_empty() {
            return Err(SecretError::EMPTY);
        }
        let mut buf = [0u8; 66];
        let len = BASE64
            .decode_slice(b64, &mut buf)
            .map_err(|_| SecretError::INVALID_BASE64)?;
        let mut bytes = [0u8; 32];
        if len != bytes.len() {
            return Err(SecretError::INVALID_KEY);
        }
        bytes.copy_from_slice(&buf[..32]);
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PUBLIC_KEY_PREFIX}{}",
            BASE64.encode(self.inner.as_bytes())
        )
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}
