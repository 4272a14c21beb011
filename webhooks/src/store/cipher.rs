//! Endpoint secrets sealed at rest with XChaCha20-Poly1305.
//!
//! With a [`SecretKeyring`] configured, a store writes every endpoint secret
//! as `enc:v1:<key id>:<base64 of nonce ‖ ciphertext>`, the endpoint id
//! bound in as associated data (a sealed secret copied to another endpoint
//! does not open). Without one, secrets are stored as `whsec_…` text; both
//! forms are read, so turning encryption on needs no migration.
//!
//! # Rotating the key
//!
//! 1. Generate a new key (`SecretKey::generate`), make it the keyring's
//!    current key and keep the old one with [`SecretKeyring::with_old`], so
//!    both open what is stored.
//! 2. Call the store's `reseal_secrets`: every secret is written again under
//!    the current key (plain ones included).
//! 3. Drop the old key from the configuration.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::TryRng as _;

use super::StoreError;
use crate::Secret;

const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;

/// One 256-bit key with a short id (`[A-Za-z0-9_-]`, at most 32 characters),
/// written `<id>:<base64 of 32 bytes>` in configuration. `Debug` shows the
/// id only.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    cipher: XChaCha20Poly1305,
    encoded: String,
}

impl SecretKey {
    /// A fresh random key named `id`.
    ///
    /// # Errors
    ///
    /// An invalid id, or no randomness from the operating system.
    pub fn generate(id: &str) -> Result<Self, KeyError> {
        let mut bytes = [0u8; 32];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|_| KeyError("the operating system gave no randomness"))?;
        Self::from_parts(id, &bytes)
    }

    fn from_parts(id: &str, bytes: &[u8]) -> Result<Self, KeyError> {
        if id.is_empty()
            || id.len() > 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(KeyError(
                "the key id must be 1 to 32 characters of [A-Za-z0-9_-]",
            ));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes)
            .map_err(|_| KeyError("the key must be 32 bytes (44 characters of base64)"))?;
        Ok(Self {
            id: id.to_owned(),
            cipher,
            encoded: format!("{id}:{}", STANDARD.encode(bytes)),
        })
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `<id>:<base64>`, the form [`FromStr`] reads: configuration material,
    /// never for logs.
    #[must_use]
    pub fn to_config_string(&self) -> String {
        self.encoded.clone()
    }
}

impl FromStr for SecretKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, b64) = s
            .trim()
            .split_once(':')
            .ok_or(KeyError("expected `<key id>:<base64 of 32 bytes>`"))?;
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| KeyError("the key is not valid base64"))?;
        Self::from_parts(id, &bytes)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}: <redacted>)", self.id)
    }
}

/// A key for endpoint secrets could not be read or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyError(&'static str);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid secret-encryption key: {}", self.0)
    }
}

impl std::error::Error for KeyError {}

/// The keys a store seals and opens endpoint secrets with: the current one
/// (sealing and opening) and older ones (opening only, during a rotation).
/// The default keyring has no key: secrets are stored as plain text.
///
/// ```
/// use palisade_webhooks::store::{SecretKey, SecretKeyring};
///
/// let key: SecretKey = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".parse()?;
/// let keyring = SecretKeyring::new(key);
/// assert_eq!(keyring.current().map(SecretKey::id), Some("k1"));
/// assert!(!format!("{keyring:?}").contains("AAEC"));
/// # Ok::<(), palisade_webhooks::store::KeyError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SecretKeyring {
    current: Option<SecretKey>,
    old: Vec<SecretKey>,
}

impl SecretKeyring {
    /// Seals with `current`.
    #[must_use]
    pub fn new(current: SecretKey) -> Self {
        Self {
            current: Some(current),
            old: Vec::new(),
        }
    }

    /// Also opens what `key` sealed (a key being rotated out).
    #[must_use]
    pub fn with_old(mut self, key: SecretKey) -> Self {
        self.old.push(key);
        self
    }

    /// The key new secrets are sealed with.
    #[must_use]
    pub fn current(&self) -> Option<&SecretKey> {
        self.current.as_ref()
    }

    /// The stored form of `secret` for endpoint `endpoint_id`.
    pub(crate) fn seal(&self, secret: &Secret, endpoint_id: &str) -> Result<String, StoreError> {
        let Some(key) = &self.current else {
            return Ok(secret.to_string());
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| StoreError::Secret("the operating system gave no randomness".into()))?;
        let sealed = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: endpoint_id.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Secret("sealing failed".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}:{}", key.id, STANDARD.encode(blob)))
    }

    /// The secret behind a stored form.
    pub(crate) fn open(&self, stored: &str, endpoint_id: &str) -> Result<Secret, StoreError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return stored
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("a secret of endpoint {endpoint_id}")));
        };
        let (id, b64) = rest.split_once(':').ok_or_else(|| {
            StoreError::Corrupt(format!("a sealed secret of endpoint {endpoint_id}"))
        })?;
        let key = self
            .current
            .iter()
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| {
                StoreError::Secret(format!(
                    "endpoint {endpoint_id}'s secret is sealed with key `{id}`, which is not configured"
                ))
            })?;
        let blob = STANDARD.decode(b64).map_err(|_| {
            StoreError::Corrupt(format!("a sealed secret of endpoint {endpoint_id}"))
        })?;
        if blob.len() <= NONCE_LEN {
            return Err(StoreError::Corrupt(format!(
                "a sealed secret of endpoint {endpoint_id}"
            )));
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| {
            StoreError::Corrupt(format!("a sealed secret of endpoint {endpoint_id}"))
        })?;
        let plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: endpoint_id.as_bytes(),
                },
            )
            .map_err(|_| {
                StoreError::Secret(format!(
                    "endpoint {endpoint_id}'s secret does not open with key `{id}` (wrong key or tampered row)"
                ))
            })?;
        Secret::from_bytes(&plain)
            .map_err(|_| StoreError::Corrupt(format!("a sealed secret of endpoint {endpoint_id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_endpoint_and_key() {
        let k1 = SecretKey::generate("k1").expect("key");
        let k2 = SecretKey::generate("k2").expect("key");
        let secret = Secret::generate();
        let ring = SecretKeyring::new(k1.clone());
        let stored = ring.seal(&secret, "ep_1").expect("seal");
        assert!(stored.starts_with("enc:v1:k1:"));
        assert!(!stored.contains(&secret.to_string()));
        assert_eq!(ring.open(&stored, "ep_1").expect("open"), secret);
        assert!(
            matches!(ring.open(&stored, "ep_2"), Err(StoreError::Secret(_))),
            "bound to the endpoint"
        );
        // After a rotation the old key still opens, and a ring without it says which key is missing.
        let rotated = SecretKeyring::new(k2.clone()).with_old(k1);
        assert_eq!(rotated.open(&stored, "ep_1").expect("open"), secret);
        let err = SecretKeyring::new(k2)
            .open(&stored, "ep_1")
            .expect_err("missing key");
        assert!(err.to_string().contains("key `k1`"), "{err}");
        // Plain secrets are read with or without a key.
        assert_eq!(
            ring.open(&secret.to_string(), "ep_1").expect("plain"),
            secret
        );
        assert_eq!(
            SecretKeyring::default()
                .seal(&secret, "ep_1")
                .expect("plain"),
            secret.to_string()
        );
    }

    #[test]
    fn keys_parse_from_configuration_and_refuse_bad_input() {
        let key = SecretKey::generate("prod-2026").expect("key");
        let again: SecretKey = key.to_config_string().parse().expect("round trip");
        assert_eq!(again.id(), "prod-2026");
        for bad in [
            "nocolon",
            "k1:not base64!",
            "k1:AAAA",
            "bad id:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ] {
            assert!(bad.parse::<SecretKey>().is_err(), "{bad}");
        }
        assert_eq!(format!("{key:?}"), "SecretKey(prod-2026: <redacted>)");
    }
}
