//! The ed25519 signing key of Standard Webhooks `v1a` (`whsk_<base64>`).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ed25519_dalek::ed25519::signature::MultipartSigner as _;

use super::encoding::BASE64;
use super::secret::SecretError;
use crate::verify::PublicKey;

/// The prefix of a `v1a` signing key.
const SIGNING_KEY_PREFIX: &str = "whsk_";

/// An ed25519 signing key for Standard Webhooks `v1a` (asymmetric) signatures.
///
/// Parsed from `whsk_<base64>` where the base64 holds the 32-byte seed
/// followed by the 32-byte public key (how Svix stores it) or the seed alone;
/// printed back in the 64-byte form. Receivers only need the
/// [`PublicKey`](crate::verify::PublicKey) (`whpk_…`) from
/// [`SigningKey::public_key`]. `Debug` is redacted.
///
/// ```
/// use palisade_webhooks::sign::SigningKey;
///
/// let key = SigningKey::generate();
/// let back: SigningKey = key.to_string().parse()?;
/// assert_eq!(back.public_key(), key.public_key());
/// assert!(key.public_key().to_string().starts_with("whpk_"));
/// assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
/// # Ok::<(), palisade_webhooks::sign::SecretError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// Draws a fresh key from the operating system's random number generator.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide randomness (see
    /// [`SigningKey::try_generate`]).
    #[must_use]
    pub fn generate() -> Self {
        // As for `Secret::generate`: no entropy is not recoverable.
        #[allow(clippy::expect_used)]
        Self::try_generate().expect("the operating system's random number generator failed")
    }

    /// Draws a fresh key, reporting a failing random number generator.
    ///
    /// # Errors
    ///
    /// [`SecretError`] with kind `"rng_failed"`.
    pub fn try_generate() -> Result<Self, SecretError> {
        let secret = super::Secret::try_generate()?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(secret.as_bytes());
        Ok(Self::from_seed(&seed))
    }

    /// A key from its 32-byte seed.
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            inner: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The public key receivers verify with.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_verifying_key(self.inner.verifying_key())
    }

    /// Signs the concatenation of `parts` (the body is not copied).
    pub(crate) fn sign_parts(&self, parts: &[&[u8]]) -> Result<[u8; 64], SecretError> {
        self.inner
            .try_multipart_sign(parts)
            .map(|sig| sig.to_bytes())
            .map_err(|_| SecretError::INVALID_KEY)
    }
}

impl FromStr for SigningKey {
    type Err = SecretError;

    /// Parses `whsk_<base64>` of the seed and public key (64 bytes) or of the
    /// seed alone (32 bytes); the prefix and padding are optional.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let b64 = s.strip_prefix(SIGNING_KEY_PREFIX).unwrap_or(s);
        if b64.is_empty() {
            return Err(SecretError::EMPTY);
        }
        let mut buf = [0u8; 66];
        let len = BASE64
            .decode_slice(b64, &mut buf)
            .map_err(|_| SecretError::INVALID_BASE64)?;
        let inner = match len {
            32 => {
                let mut seed = [0u8; 32];
                seed.copy_from_slice(&buf[..32]);
                ed25519_dalek::SigningKey::from_bytes(&seed)
            }
            64 => {
                let mut pair = [0u8; 64];
                pair.copy_from_slice(&buf[..64]);
                // Rejects a stored public half that does not belong to the seed.
                ed25519_dalek::SigningKey::from_keypair_bytes(&pair)
                    .map_err(|_| SecretError::INVALID_KEY)?
            }
            _ => return Err(SecretError::INVALID_KEY),
        };
        Ok(Self { inner })
    }
}

impl fmt::Display for SigningKey {
    /// Prints `whsk_<base64 of seed ‖ public key>`: the private key itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SIGNING_KEY_PREFIX}{}",
            BASE64.encode(self.inner.to_keypair_bytes())
        )
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SK: &str = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
    const PK: &str = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=";

    #[test]
    fn parses_the_svix_form_and_derives_the_public_key() {
        let key: SigningKey = SK.parse().unwrap();
        assert_eq!(key.public_key().to_string(), PK);
        assert_eq!(key.to_string(), SK);
    }

    #[test]
    fn seed_only_form_is_the_same_key() {
        let key: SigningKey = SK.parse().unwrap();
        let pair = BASE64.decode(&SK[5..]).unwrap();
        let seed_only = format!("whsk_{}", BASE64.encode(&pair[..32]));
        let again: SigningKey = seed_only.parse().unwrap();
        assert_eq!(again.public_key(), key.public_key());
    }

    #[test]
    fn mismatched_public_half_is_rejected() {
        let mut pair = BASE64.decode(&SK[5..]).unwrap();
        pair[40] ^= 1;
        let bad = format!("whsk_{}", BASE64.encode(&pair));
        assert_eq!(bad.parse::<SigningKey>().unwrap_err().kind(), "invalid_key");
        assert_eq!(
            "whsk_AAAA".parse::<SigningKey>().unwrap_err().kind(),
            "invalid_key"
        );
    }
}
