//! Producing the three Standard Webhooks headers for an outgoing message.

use std::fmt;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};

#[cfg(feature = "ed25519")]
use super::ed25519::SigningKey;
use super::encoding::BASE64;
use super::mac::MacKey;
use super::secret::Secret;

/// `webhook-id`.
pub(crate) const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
/// `webhook-timestamp`.
pub(crate) const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
/// `webhook-signature`.
pub(crate) const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

#[derive(Clone)]
enum Key {
    Hmac(MacKey),
    #[cfg(feature = "ed25519")]
    Ed25519(Box<SigningKey>),
}

/// Signs outgoing webhooks the Standard Webhooks way.
///
/// The signed content is `{id}.{timestamp}.{body}` (the body as raw bytes).
/// During a key rotation the signer holds every active key and signs with
/// each, producing one header value with space-separated signatures
/// (`v1,<base64 HMAC-SHA256>` for secrets, `v1a,<base64 ed25519>` for
/// signing keys); a receiver accepts the message if any of them matches a key
/// it holds.
///
/// ```
/// use palisade_webhooks::{Scheme, Secret, Signer, StandardWebhooks};
///
/// let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
/// let signer = Signer::new(secret.clone());
/// let signed = signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#)?;
/// assert_eq!(signed.signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
///
/// let mut headers = http::HeaderMap::new();
/// signed.apply(&mut headers);
/// let verified = StandardWebhooks::new(secret)
///     .verify(&headers, br#"{"test": 2432232314}"#, 1614265330)
///     .expect("a fresh signature verifies");
/// assert_eq!(verified.id.as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Signer {
    keys: Vec<Key>,
}

impl Signer {
    /// A signer with one HMAC secret.
    // Taking the secret by value makes the signer its owner; the keyed MAC
    // state replaces it, so no copy of the raw key stays behind.
    #[allow(clippy::needless_pass_by_value)]
    pub fn new(secret: Secret) -> Self {
        Self {
            keys: vec![Key::Hmac(MacKey::new(secret.as_bytes()))],
        }
    }

    /// A signer with several HMAC secrets (key rotation): every message is
    /// signed with each of them, in this order.
    ///
    /// # Errors
    ///
    /// [`SignError::NoKeys`] when `secrets` is empty.
    pub fn with_secrets(secrets: Vec<Secret>) -> Result<Self, SignError> {
        if secrets.is_empty() {
            return Err(SignError::NoKeys);
        }
        Ok(Self {
            keys: secrets
                .into_iter()
                .map(|s| Key::Hmac(MacKey::new(s.as_bytes())))
                .collect(),
        })
    }

    /// Also signs with `secret` (appended after the existing keys).
    #[allow(clippy::needless_pass_by_value)] // see `new`
    pub fn add_secret(mut self, secret: Secret) -> Self {
        self.keys.push(Key::Hmac(MacKey::new(secret.as_bytes())));
        self
    }

    /// A signer producing `v1a` (ed25519) signatures only.
    #[cfg(feature = "ed25519")]
    pub fn from_signing_key(key: SigningKey) -> Self {
        Self {
            keys: vec![Key::Ed25519(Box::new(key))],
        }
    }

    /// Also signs with the ed25519 `key` (`v1a`), appended after the
    /// existing keys.
    #[cfg(feature = "ed25519")]
    pub fn add_signing_key(mut self, key: SigningKey) -> Self {
        self.keys.push(Key::Ed25519(Box::new(key)));
        self
    }

    /// Signs `body` for the message `id` sent at `timestamp` (Unix seconds)
    /// and returns the header values to send.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidId`] when `id` is empty, contains `.` (it would
    /// make the signed content ambiguous) or a byte outside visible ASCII (it
    /// must travel in a header); [`SignError::NegativeTimestamp`] when
    /// `timestamp` is before 1970 (receivers reject it).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<SignedHeaders, SignError> {
        check_id(id)?;
        if timestamp < 0 {
            return Err(SignError::NegativeTimestamp);
        }
        let ts = timestamp.to_string();
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", body];

        let mut signature = String::with_capacity(self.keys.len() * 92);
        for key in &self.keys {
            if !signature.is_empty() {
                signature.push(' ');
            }
            match key {
                Key::Hmac(mac) => {
                    signature.push_str("v1,");
                    BASE64.encode_string(mac.tag(&parts), &mut signature);
                }
                #[cfg(feature = "ed25519")]
                Key::Ed25519(key) => {
                    let sig = key.sign_parts(&parts).map_err(|_| SignError::KeyFailed)?;
                    signature.push_str("v1a,");
                    BASE64.encode_string(sig, &mut signature);
                }
            }
        }
        Ok(SignedHeaders {
            id: id.to_owned(),
            timestamp,
            signature,
        })
    }
}

fn check_id(id: &str) -> Result<(), SignError> {
    if id.is_empty() {
        return Err(SignError::InvalidId {
            reason: "must not be empty",
        });
    }
    if id.contains('.') {
        return Err(SignError::InvalidId {
            reason: "must not contain '.'",
        });
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SignError::InvalidId {
            reason: "must be visible ASCII without spaces",
        });
    }
    Ok(())
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// The header values of a signed message, as [`Signer::sign`] made them.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The `webhook-id` value.
    pub id: String,
    /// The `webhook-timestamp` value (Unix seconds).
    pub timestamp: i64,
    /// The `webhook-signature` value: space-separated `v1,…` / `v1a,…`.
    pub signature: String,
}

impl SignedHeaders {
    /// Inserts `webhook-id`, `webhook-timestamp` and `webhook-signature`
    /// into `headers`, replacing any values already there.
    ///
    /// Values from [`Signer::sign`] are always valid header values; a field
    /// edited by hand into one that is not (a control character, say) is left
    /// out, which the receiver reports as a missing header.
    pub fn apply(&self, headers: &mut HeaderMap) {
        self.apply_names(headers, [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]);
    }

    /// Like [`apply`](Self::apply) with the `svix-id`, `svix-timestamp` and
    /// `svix-signature` names that Svix sends.
    pub fn apply_svix(&self, headers: &mut HeaderMap) {
        self.apply_names(
            headers,
            [
                HeaderName::from_static("svix-id"),
                HeaderName::from_static("svix-timestamp"),
                HeaderName::from_static("svix-signature"),
            ],
        );
    }

    fn apply_names(&self, headers: &mut HeaderMap, [id, ts, sig]: [HeaderName; 3]) {
        if let Ok(v) = HeaderValue::from_str(&self.id) {
            headers.insert(id, v);
        }
        headers.insert(ts, HeaderValue::from(self.timestamp));
        if let Ok(v) = HeaderValue::from_str(&self.signature) {
            headers.insert(sig, v);
        }
    }
}

impl fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .field("signature", &"<redacted>")
            .finish()
    }
}

/// A message could not be signed, or a signer could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The signer was given no key.
    NoKeys,
    /// The message id cannot be signed.
    InvalidId {
        /// Why, in lowercase words.
        reason: &'static str,
    },
    /// The timestamp is before 1970.
    NegativeTimestamp,
    /// The ed25519 implementation refused to sign.
    KeyFailed,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoKeys => f.write_str("at least one signing key is required"),
            Self::InvalidId { reason } => write!(f, "message id {reason}"),
            Self::NegativeTimestamp => f.write_str("timestamp must not be negative"),
            Self::KeyFailed => f.write_str("the signing key could not sign"),
        }
    }
}

impl std::error::Error for SignError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap()
    }

    #[test]
    fn rejects_ids_that_would_make_the_content_ambiguous() {
        let signer = Signer::new(secret());
        for id in ["", "a.b", "with space", "tab\t", "é"] {
            assert!(
                matches!(signer.sign(id, 1, b""), Err(SignError::InvalidId { .. })),
                "{id:?}"
            );
        }
        assert_eq!(
            signer.sign("ok", -1, b""),
            Err(SignError::NegativeTimestamp)
        );
    }

    #[test]
    fn rotation_signs_with_every_key_in_order() {
        let other: Secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".parse().unwrap();
        let one = Signer::new(secret()).sign("m", 5, b"x").unwrap().signature;
        let two = Signer::new(other.clone())
            .sign("m", 5, b"x")
            .unwrap()
            .signature;
        let both = Signer::with_secrets(vec![secret(), other]).unwrap();
        assert_eq!(
            both.sign("m", 5, b"x").unwrap().signature,
            format!("{one} {two}")
        );
        assert_eq!(Signer::with_secrets(vec![]).unwrap_err(), SignError::NoKeys);
    }

    #[test]
    fn debug_hides_signatures() {
        let signed = Signer::new(secret()).sign("m", 5, b"x").unwrap();
        assert!(!format!("{signed:?}").contains("v1,"));
    }

    #[test]
    fn apply_sets_the_three_headers() {
        let signed = Signer::new(secret()).sign("m", 5, b"x").unwrap();
        let mut headers = HeaderMap::new();
        signed.apply(&mut headers);
        assert_eq!(headers["webhook-id"], "m");
        assert_eq!(headers["webhook-timestamp"], "5");
        assert_eq!(headers["webhook-signature"], signed.signature.as_str());
    }
}
