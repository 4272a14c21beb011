//! GitHub's `X-Hub-Signature-256: sha256=<hex>` scheme.

use std::fmt;

use http::{HeaderMap, HeaderName};

use super::parse;
use super::{Scheme, Verified, VerifyError};
use crate::sign::SecretError;
use crate::sign::mac::{MAC_LEN, MacKey};

const X_HUB_SIGNATURE_256: HeaderName = HeaderName::from_static("x-hub-signature-256");
const HEADER: &str = "x-hub-signature-256";

/// Verifies (and produces) GitHub webhook signatures.
///
/// `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed
/// with the UTF-8 bytes of the webhook secret. There is no timestamp and no id
/// in the MAC, so GitHub deliveries cannot be protected against replays by the
/// signature alone.
///
/// An empty (or whitespace-only) secret is refused: anyone can compute a MAC
/// keyed with nothing.
///
/// ```
/// use palisade_webhooks::{GitHub, Scheme, VerifyError};
///
/// let github = GitHub::new("It's a Secret to Everybody")?;
/// let header = github.sign(b"Hello, World!");
/// assert_eq!(header, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-hub-signature-256", header.parse()?);
/// assert!(github.verify(&headers, b"Hello, World!", 0).is_ok());
/// assert_eq!(github.verify(&headers, b"Hello, World?", 0), Err(VerifyError::InvalidSignature));
///
/// assert_eq!(GitHub::new("").unwrap_err().kind(), "empty_secret");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct GitHub {
    secrets: Vec<MacKey>,
}

impl GitHub {
    /// A verifier for the webhook secret `secret`.
    ///
    /// # Errors
    ///
    /// [`SecretError`] `"empty_secret"` when `secret` is empty or only
    /// whitespace.
    pub fn new(secret: impl AsRef<str>) -> Result<Self, SecretError> {
        Ok(Self {
            secrets: vec![MacKey::from_text(secret.as_ref())?],
        })
    }

    /// Also accepts signatures made with `secret` (while changing secrets).
    ///
    /// # Errors
    ///
    /// [`SecretError`] `"empty_secret"` when `secret` is empty or only
    /// whitespace.
    pub fn add_secret(mut self, secret: impl AsRef<str>) -> Result<Self, SecretError> {
        self.secrets.push(MacKey::from_text(secret.as_ref())?);
        Ok(self)
    }

    /// The `X-Hub-Signature-256` value for `body`, made with the first secret.
    #[must_use]
    pub fn sign(&self, body: &[u8]) -> String {
        let tag = self
            .secrets
            .first()
            .map(|k| k.tag(&[body]))
            .unwrap_or_default();
        format!("sha256={}", hex::encode(tag))
    }
}

impl Scheme for GitHub {
    fn verify(&self, headers: &HeaderMap, body: &[u8], _now: i64) -> Result<Verified, VerifyError> {
        let value = parse::required(headers, &X_HUB_SIGNATURE_256, HEADER)?;
        let Some(hex_sig) = value.as_bytes().strip_prefix(b"sha256=") else {
            return Err(VerifyError::MalformedHeader {
                header: HEADER.to_owned(),
                reason: "expected sha256=<hex>",
            });
        };
        let mut sig = [0u8; MAC_LEN];
        if hex::decode_to_slice(hex_sig, &mut sig).is_err() {
            return Err(VerifyError::InvalidSignature);
        }
        if self
            .secrets
            .iter()
            .any(|key| parse::ct_eq(&key.tag(&[body]), &sig))
        {
            Ok(Verified {
                id: None,
                timestamp: None,
            })
        } else {
            Err(VerifyError::InvalidSignature)
        }
    }
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-hub-signature-256",
            http::HeaderValue::from_bytes(value).unwrap(),
        );
        h
    }

    #[test]
    fn answers_say_what_is_wrong() {
        let github = GitHub::new("It's a Secret to Everybody").unwrap();
        let err = github.verify(&HeaderMap::new(), b"", 0).unwrap_err();
        assert_eq!(err, VerifyError::MissingHeader("x-hub-signature-256"));
        assert_eq!(err.status(), 401);
        let err = github.verify(&with(b"sha1=abcd"), b"", 0).unwrap_err();
        assert_eq!(
            (err.kind(), err.status().as_u16()),
            ("malformed_header", 400)
        );
        let err = github.verify(&with(b"sha256=zz\xff"), b"", 0).unwrap_err();
        assert_eq!(err, VerifyError::InvalidSignature);
    }

    #[test]
    fn a_second_secret_is_accepted_while_changing_secrets() {
        let old = GitHub::new("old").unwrap();
        let both = GitHub::new("new").unwrap().add_secret("old").unwrap();
        let header = old.sign(b"Hello, World!");
        assert!(
            both.verify(&with(header.as_bytes()), b"Hello, World!", 0)
                .is_ok()
        );
        assert!(
            GitHub::new("new")
                .unwrap()
                .verify(&with(header.as_bytes()), b"Hello, World!", 0)
                .is_err()
        );
    }

    #[test]
    fn an_empty_secret_is_refused_so_nobody_can_forge_with_it() {
        for blank in ["", " ", "\n", "\t \r\n"] {
            assert_eq!(
                GitHub::new(blank).unwrap_err(),
                SecretError::EMPTY,
                "{blank:?}"
            );
            let err = GitHub::new("real").unwrap().add_secret(blank).unwrap_err();
            assert_eq!(err.kind(), "empty_secret");
        }
    }
}
