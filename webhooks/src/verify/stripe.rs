//! Stripe's `Stripe-Signature: t=…,v1=…` scheme.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName};

use super::parse;
use super::standard::DEFAULT_TOLERANCE_SECS;
use super::{Scheme, Verified, VerifyError};
use crate::sign::SecretError;
use crate::sign::mac::{MAC_LEN, MacKey};

const STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");
const HEADER: &str = "stripe-signature";

/// Verifies (and produces) Stripe webhook signatures.
///
/// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` where each `v1` is the
/// hex HMAC-SHA256 of `{t}.{body}` keyed with the bytes of the whole endpoint
/// secret string — `whsec_` included, not base64-decoded. Any matching `v1`
/// accepts (Stripe sends one per active secret while rolling); other schemes
/// such as `v0` are ignored.
///
/// The tolerance (300 s by default) applies in both directions, as for
/// [`StandardWebhooks`](crate::StandardWebhooks): `t` may be at most that far
/// in the past or in the future. (Stripe's own libraries check only the age,
/// so a signature with a timestamp years ahead would stay valid for years.)
/// An empty (or whitespace-only) secret is refused.
///
/// ```
/// use palisade_webhooks::{Scheme, Stripe, VerifyError};
///
/// let stripe = Stripe::new("whsec_test_secret")?;
/// let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
/// let header = stripe.sign(1700000000, body);
/// assert_eq!(header, "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990");
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("stripe-signature", header.parse()?);
/// let verified = stripe.verify(&headers, body, 1700000100)?;
/// assert_eq!(verified.timestamp, Some(1700000000));
/// assert_eq!(
///     stripe.verify(&headers, body, 1700000000 - 301),
///     Err(VerifyError::TimestampTooNew { ahead_secs: 301 })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Stripe {
    secrets: Vec<MacKey>,
    tolerance_secs: i64,
}

impl Stripe {
    /// A verifier for the endpoint secret `secret` (`whsec_…`, used as is).
    ///
    /// # Errors
    ///
    /// [`SecretError`] `"empty_secret"` when `secret` is empty or only
    /// whitespace.
    pub fn new(secret: impl AsRef<str>) -> Result<Self, SecretError> {
        Ok(Self {
            secrets: vec![MacKey::from_text(secret.as_ref())?],
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        })
    }

    /// Also accepts signatures made with `secret` (while rolling secrets).
    ///
    /// # Errors
    ///
    /// [`SecretError`] `"empty_secret"` when `secret` is empty or only
    /// whitespace.
    pub fn add_secret(mut self, secret: impl AsRef<str>) -> Result<Self, SecretError> {
        self.secrets.push(MacKey::from_text(secret.as_ref())?);
        Ok(self)
    }

    /// How far `t` may be from the verifier's clock, in either direction
    /// (default 300 s). Whole seconds; larger than `i64::MAX` seconds means no
    /// limit.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// The `Stripe-Signature` value for `body` sent at `timestamp`: one `v1`
    /// per configured secret, in order.
    #[must_use]
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let ts = timestamp.to_string();
        let mut out = format!("t={ts}");
        for key in &self.secrets {
            out.push_str(",v1=");
            out.push_str(&hex::encode(key.tag(&[ts.as_bytes(), b".", body])));
        }
        out
    }
}

impl Scheme for Stripe {
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, VerifyError> {
        let value = parse::text(parse::required(headers, &STRIPE_SIGNATURE, HEADER)?, HEADER)?;
        let malformed = |reason| VerifyError::MalformedHeader {
            header: HEADER.to_owned(),
            reason,
        };

        // Stripe's parser: every item must be `key=value`; the first `t`
        // wins; unreadable `v1` values are skipped, other keys ignored.
        let mut timestamp: Option<&str> = None;
        let mut any_v1 = false;
        for item in value.split(',') {
            let (key, val) = item
                .split_once('=')
                .ok_or_else(|| malformed("expected comma-separated key=value pairs"))?;
            match key.trim() {
                "t" if timestamp.is_none() => timestamp = Some(val.trim()),
                "v1" => any_v1 = true,
                _ => {}
            }
        }
        let ts_text = timestamp.ok_or_else(|| malformed("no t= timestamp"))?;
        let ts = parse::timestamp(ts_text.as_bytes())?;
        parse::check_window(ts, now, self.tolerance_secs, Some(self.tolerance_secs))?;
        if !any_v1 {
            return Err(VerifyError::NoSignature);
        }

        let mut sig = [0u8; MAC_LEN];
        for key in &self.secrets {
            let expected = key.tag(&[ts_text.as_bytes(), b".", body]);
            for item in value.split(',') {
                if let Some(("v1", hex_sig)) = item.split_once('=').map(|(k, v)| (k.trim(), v))
                    && hex::decode_to_slice(hex_sig.trim(), &mut sig).is_ok()
                    && parse::ct_eq(&expected, &sig)
                {
                    return Ok(Verified {
                        id: None,
                        timestamp: Some(ts),
                    });
                }
            }
        }
        Err(VerifyError::InvalidSignature)
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.tolerance_secs.unsigned_abs()))
    }
}

impl fmt::Debug for Stripe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stripe")
            .field("secrets", &self.secrets.len())
            .field("tolerance_secs", &self.tolerance_secs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("stripe-signature", value.parse().unwrap());
        h
    }

    #[test]
    fn header_problems_have_their_own_kinds() {
        let stripe = Stripe::new("whsec_test_secret").unwrap();
        let kind = |v: &str| stripe.verify(&with(v), BODY, 1_700_000_000).unwrap_err();
        assert_eq!(kind("v1,t=1").kind(), "malformed_header");
        assert_eq!(kind("v1=abcd").kind(), "malformed_header");
        assert_eq!(kind("t=soon,v1=abcd").kind(), "invalid_timestamp");
        assert_eq!(kind("t=1700000000,v0=abcd"), VerifyError::NoSignature);
        assert_eq!(kind(" ").kind(), "missing_header");
        assert_eq!(
            stripe.verify(&HeaderMap::new(), BODY, 0),
            Err(VerifyError::MissingHeader("stripe-signature"))
        );
    }

    #[test]
    fn rolling_secrets_sign_and_verify_with_each() {
        let old = Stripe::new("whsec_old").unwrap();
        let both = Stripe::new("whsec_new")
            .unwrap()
            .add_secret("whsec_old")
            .unwrap();
        let header = both.sign(1_700_000_000, BODY);
        assert_eq!(header.matches(",v1=").count(), 2);
        assert!(old.verify(&with(&header), BODY, 1_700_000_000).is_ok());
        let from_old = old.sign(1_700_000_000, BODY);
        assert!(both.verify(&with(&from_old), BODY, 1_700_000_000).is_ok());
    }

    #[test]
    fn the_tolerance_applies_in_both_directions() {
        let stripe = Stripe::new("whsec_test_secret")
            .unwrap()
            .tolerance(Duration::from_secs(60));
        let header = stripe.sign(1_700_000_000, BODY);
        assert!(stripe.verify(&with(&header), BODY, 1_700_000_060).is_ok());
        assert_eq!(
            stripe.verify(&with(&header), BODY, 1_700_000_061),
            Err(VerifyError::TimestampTooOld { age_secs: 61 })
        );
        assert!(stripe.verify(&with(&header), BODY, 1_699_999_940).is_ok());
        assert_eq!(
            stripe.verify(&with(&header), BODY, 1_699_999_939),
            Err(VerifyError::TimestampTooNew { ahead_secs: 61 })
        );
    }

    #[test]
    fn a_timestamp_three_years_ahead_is_refused() {
        let stripe = Stripe::new("whsec_test_secret").unwrap();
        let now = 1_700_000_000;
        let ahead = 3 * 365 * 24 * 3600;
        let header = stripe.sign(now + ahead, BODY);
        assert_eq!(
            stripe.verify(&with(&header), BODY, now),
            Err(VerifyError::TimestampTooNew { ahead_secs: ahead })
        );
        // Once the clock catches up, the same delivery verifies.
        assert!(stripe.verify(&with(&header), BODY, now + ahead).is_ok());
    }

    #[test]
    fn an_empty_secret_is_refused_so_nobody_can_forge_with_it() {
        for blank in ["", " ", "\n", "\t \r\n"] {
            assert_eq!(
                Stripe::new(blank).unwrap_err(),
                SecretError::EMPTY,
                "{blank:?}"
            );
            let err = Stripe::new("whsec_real")
                .unwrap()
                .add_secret(blank)
                .unwrap_err();
            assert_eq!(err.kind(), "empty_secret");
        }
    }
}
