//! Standard Webhooks `v1` (HMAC-SHA256) and `v1a` (ed25519) verification.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

#[cfg(feature = "ed25519")]
use super::ed25519::PublicKey;
use super::error::KeyConfigError;
use super::parse;
use super::{Scheme, Verified, VerifyError};
use crate::sign::mac::MacKey;
use crate::sign::{Secret, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};

/// The tolerance Standard Webhooks recommends, in both directions.
pub(crate) const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// One family of the three header names.
struct Family {
    id: (HeaderName, &'static str),
    timestamp: (HeaderName, &'static str),
    signature: (HeaderName, &'static str),
}

static STANDARD: Family = Family {
    id: (WEBHOOK_ID, "webhook-id"),
    timestamp: (WEBHOOK_TIMESTAMP, "webhook-timestamp"),
    signature: (WEBHOOK_SIGNATURE, "webhook-signature"),
};

static SVIX: Family = Family {
    id: (HeaderName::from_static("svix-id"), "svix-id"),
    timestamp: (HeaderName::from_static("svix-timestamp"), "svix-timestamp"),
    signature: (HeaderName::from_static("svix-signature"), "svix-signature"),
};

impl Family {
    /// `webhook-*` unless the request carries none of them and some `svix-*`
    /// header, so a request missing one `webhook-*` header is reported as
    /// missing that header. Returns the family and its id header, if any.
    fn detect(headers: &HeaderMap) -> (&'static Self, Option<&HeaderValue>) {
        // The common case costs one lookup.
        if let Some(id) = headers.get(&STANDARD.id.0) {
            return (&STANDARD, Some(id));
        }
        let has =
            |f: &Self| headers.contains_key(&f.timestamp.0) || headers.contains_key(&f.signature.0);
        if has(&STANDARD) {
            (&STANDARD, None)
        } else if let Some(id) = headers.get(&SVIX.id.0) {
            (&SVIX, Some(id))
        } else if has(&SVIX) {
            (&SVIX, None)
        } else {
            (&STANDARD, None)
        }
    }
}

/// Verifies [Standard Webhooks](https://www.standardwebhooks.com/) signatures.
///
/// Reads `webhook-id`, `webhook-timestamp` and `webhook-signature` (or the
/// `svix-id` / `svix-timestamp` / `svix-signature` family that Svix sends —
/// both are accepted), rejects timestamps more than the tolerance (300 s by
/// default) in the past or the future, then accepts the message if any
/// space-separated `v1,<base64>` entry is the HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under any configured secret (several secrets let a
/// receiver overlap a rotation). With the `ed25519` feature, `v1a,<base64>`
/// entries are checked against configured `PublicKey`s. Unknown versions are
/// ignored. Signatures are compared as decoded bytes, in constant time.
///
/// ```
/// use std::time::Duration;
/// use palisade_webhooks::{Scheme, Secret, StandardWebhooks, VerifyError};
///
/// let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
/// let verifier = StandardWebhooks::new(secret).tolerance(Duration::from_secs(60));
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse()?);
/// headers.insert("webhook-timestamp", "1614265330".parse()?);
/// headers.insert("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse()?);
/// let body = br#"{"test": 2432232314}"#;
///
/// let verified = verifier.verify(&headers, body, 1614265330)?;
/// assert_eq!(verified.timestamp, Some(1614265330));
/// assert_eq!(
///     verifier.verify(&headers, body, 1614265330 + 61),
///     Err(VerifyError::TimestampTooOld { age_secs: 61 })
/// );
/// assert_eq!(verifier.verify(&headers, b"tampered", 1614265330), Err(VerifyError::InvalidSignature));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct StandardWebhooks {
    secrets: Vec<MacKey>,
    #[cfg(feature = "ed25519")]
    public_keys: Vec<PublicKey>,
    tolerance_secs: i64,
}

impl StandardWebhooks {
    fn empty() -> Self {
        Self {
            secrets: Vec::new(),
            #[cfg(feature = "ed25519")]
            public_keys: Vec::new(),
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        }
    }

    /// A verifier holding one secret.
    // By value: the verifier owns the key; only its keyed MAC state is kept.
    #[allow(clippy::needless_pass_by_value)]
    pub fn new(secret: Secret) -> Self {
        Self::empty().add_secret(secret)
    }

    /// A verifier accepting signatures made with any of `secrets`.
    ///
    /// # Errors
    ///
    /// [`KeyConfigError::NoKeys`] when `secrets` is empty.
    pub fn with_secrets(secrets: Vec<Secret>) -> Result<Self, KeyConfigError> {
        if secrets.is_empty() {
            return Err(KeyConfigError::NoKeys);
        }
        Ok(secrets.into_iter().fold(Self::empty(), Self::add_secret))
    }

    /// Also accepts signatures made with `secret`.
    #[allow(clippy::needless_pass_by_value)] // see `new`
    pub fn add_secret(mut self, secret: Secret) -> Self {
        self.secrets.push(MacKey::new(secret.as_bytes()));
        self
    }

    /// A verifier of `v1a` (ed25519) signatures made by the holder of the
    /// signing key of `key`.
    #[cfg(feature = "ed25519")]
    pub fn from_public_key(key: PublicKey) -> Self {
        Self::empty().add_public_key(key)
    }

    /// Also accepts `v1a` signatures verified by `key`.
    #[cfg(feature = "ed25519")]
    pub fn add_public_key(mut self, key: PublicKey) -> Self {
        self.public_keys.push(key);
        self
    }

    /// How far the timestamp may be from the verifier's clock, in either
    /// direction (default 300 s). Whole seconds; larger than `i64::MAX`
    /// seconds means no limit.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Whether any `v1` (`v1a`) entry in `values` matches a secret (public
    /// key). Entries are parsed again for every key so that nothing is
    /// allocated; receivers hold one or two keys.
    fn check_signatures(
        &self,
        values: &http::header::GetAll<'_, HeaderValue>,
        parts: &[&[u8]; 5],
    ) -> Result<(), VerifyError> {
        let entries = || {
            values
                .iter()
                .flat_map(|v| v.as_bytes().split(|&b| b == b' '))
                .filter_map(|entry| {
                    let comma = entry.iter().position(|&b| b == b',')?;
                    Some((&entry[..comma], &entry[comma + 1..]))
                })
        };

        let mut candidates = false;
        let mut buf = [0u8; 66];
        if !self.secrets.is_empty() && entries().any(|(version, _)| version == b"v1") {
            candidates = true;
            for key in &self.secrets {
                let expected = key.tag(parts);
                for (version, sig) in entries() {
                    if version == b"v1"
                        && parse::base64_into(sig, &mut buf)
                            .is_some_and(|sig| parse::ct_eq(&expected, sig))
                    {
                        return Ok(());
                    }
                }
            }
        }
        #[cfg(feature = "ed25519")]
        if !self.public_keys.is_empty() {
            for (version, sig) in entries() {
                if version != b"v1a" {
                    continue;
                }
                candidates = true;
                if let Some(sig) = parse::base64_into(sig, &mut buf)
                    && self.public_keys.iter().any(|key| key.verifies(parts, sig))
                {
                    return Ok(());
                }
            }
        }
        if candidates {
            Err(VerifyError::InvalidSignature)
        } else {
            Err(VerifyError::NoSignature)
        }
    }
}

impl Scheme for StandardWebhooks {
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, VerifyError> {
        let (family, id) = Family::detect(headers);
        let id = id
            .filter(|v| !parse::is_blank(v))
            .ok_or(VerifyError::MissingHeader(family.id.1))?;
        let ts = parse::required(headers, &family.timestamp.0, family.timestamp.1)?;
        let signatures = headers.get_all(&family.signature.0);
        if signatures.iter().all(parse::is_blank) {
            return Err(VerifyError::MissingHeader(family.signature.1));
        }

        let id = parse::text(id, family.id.1)?;
        let ts_text = ts.as_bytes();
        let timestamp = parse::timestamp(ts_text)?;
        parse::check_window(
            timestamp,
            now,
            self.tolerance_secs,
            Some(self.tolerance_secs),
        )?;

        let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_text, b".", body];
        self.check_signatures(&signatures, &parts)?;
        Ok(Verified {
            id: Some(id.to_owned()),
            timestamp: Some(timestamp),
        })
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.tolerance_secs.unsigned_abs()))
    }
}

impl fmt::Debug for StandardWebhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StandardWebhooks");
        d.field("secrets", &self.secrets.len());
        #[cfg(feature = "ed25519")]
        d.field("public_keys", &self.public_keys);
        d.field("tolerance_secs", &self.tolerance_secs).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OTHER: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn verifier() -> StandardWebhooks {
        StandardWebhooks::new(SECRET.parse().unwrap())
    }

    #[test]
    fn a_signature_has_one_spelling() {
        // `E` and `F` differ only in the bits past the 32nd byte: a lenient
        // decoder would accept both.
        let respelled = SIG.replace("1OE=", "1OF=");
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", &respelled),
        ]);
        assert_eq!(
            verifier().verify(&h, BODY, TS),
            Err(VerifyError::InvalidSignature)
        );
        let unpadded = SIG.trim_end_matches('=');
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", unpadded),
        ]);
        assert!(verifier().verify(&h, BODY, TS).is_ok());
    }

    #[test]
    fn rotation_accepts_any_held_secret() {
        let both =
            StandardWebhooks::with_secrets(vec![OTHER.parse().unwrap(), SECRET.parse().unwrap()])
                .unwrap();
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ]);
        assert!(both.verify(&h, BODY, TS).is_ok());
        let only_other = StandardWebhooks::new(OTHER.parse().unwrap());
        assert_eq!(
            only_other.verify(&h, BODY, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            StandardWebhooks::with_secrets(vec![]).unwrap_err(),
            KeyConfigError::NoKeys
        );
    }

    #[test]
    fn signatures_split_across_header_lines_are_all_considered() {
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            ),
            ("webhook-signature", SIG),
        ]);
        assert!(verifier().verify(&h, BODY, TS).is_ok());
    }

    #[test]
    fn missing_and_unreadable_headers_are_named() {
        let h = headers(&[("webhook-id", ID), ("svix-timestamp", "1614265330")]);
        let err = verifier().verify(&h, BODY, TS).unwrap_err();
        assert_eq!(err, VerifyError::MissingHeader("webhook-timestamp"));
        assert_eq!(err.status(), 400);

        let h = headers(&[("webhook-id", ID), ("webhook-timestamp", "1614265330")]);
        let err = verifier().verify(&h, BODY, TS).unwrap_err();
        assert_eq!(err, VerifyError::MissingHeader("webhook-signature"));
        assert_eq!(err.status(), 401);

        let mut h = headers(&[
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ]);
        h.insert("webhook-id", HeaderValue::from_bytes(b"msg_\xff").unwrap());
        let err = verifier().verify(&h, BODY, TS).unwrap_err();
        assert_eq!(err.kind(), "malformed_header");
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn unknown_versions_only_is_no_signature() {
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", "v2,abc v1b,def garbage"),
        ]);
        assert_eq!(
            verifier().verify(&h, BODY, TS),
            Err(VerifyError::NoSignature)
        );
    }

    #[test]
    fn tolerance_is_configurable_in_both_directions() {
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ]);
        let strict = verifier().tolerance(Duration::from_secs(10));
        assert!(strict.verify(&h, BODY, TS + 10).is_ok());
        assert_eq!(
            strict.verify(&h, BODY, TS + 11),
            Err(VerifyError::TimestampTooOld { age_secs: 11 })
        );
        assert_eq!(
            strict.verify(&h, BODY, TS - 11),
            Err(VerifyError::TimestampTooNew { ahead_secs: 11 })
        );
        assert_eq!(Scheme::tolerance(&strict), Some(Duration::from_secs(10)));
    }
}
