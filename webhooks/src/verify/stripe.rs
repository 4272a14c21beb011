//! Stripe's `Stripe-Signature: t=…,v1=…` scheme.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName};

use super::parse;
use super::standard::DEFAULT_TOLERANCE_SECS;
use super::{Scheme, Verified, VerifyError};
use crate::sign::mac::{MAC_LEN, MacKey};

const STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");
const HEADER: &str = "stripe-signature";

/// Verifies (and produces) Stripe webhook signatures.
///
/// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` where each `v1` is the
/// hex HMAC-SHA256 of `{t}.{body}` keyed with the bytes of the whole endpoint
/// secret string — `whsec_` included, not base64-decoded. Any matching `v1`
/// accepts (Stripe sends one per active secret while rolling); other schemes
/// such as `v0` are ignored. As in Stripe's own libraries only the age of `t`
/// is limited (300 s by default): a timestamp in the future is accepted.
///
/// ```
/// use palisade_webhooks::{Scheme, Stripe};
///
/// let stripe = Stripe::new("whsec_test_secret");
/// let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
/// let header = stripe.sign(1700000000, body);
/// assert_eq!(header, "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990");
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("stripe-signature", header.parse()?);
/// let verified = stripe.verify(&headers, body, 1700000100)?;
/// assert_eq!(verified.timestamp, Some(1700000000));
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
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secrets: vec![MacKey::new(secret.into().as_bytes())],
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        }
    }

    /// Also accepts signatures made with `secret` (while rolling secrets).
    pub fn add_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(MacKey::new(secret.into().as_bytes()));
        self
    }

    /// How old `t` may be (default 300 s). Whole seconds; larger than
    /// `i64::MAX` seconds means no limit.
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
        parse::check_window(ts, now, self.tolerance_secs, None)?;
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
        let stripe = Stripe::new("whsec_test_secret");
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
        let old = Stripe::new("whsec_old");
        let both = Stripe::new("whsec_new").add_secret("whsec_old");
        let header = both.sign(1_700_000_000, BODY);
        assert_eq!(header.matches(",v1=").count(), 2);
        assert!(old.verify(&with(&header), BODY, 1_700_000_000).is_ok());
        let from_old = old.sign(1_700_000_000, BODY);
        assert!(both.verify(&with(&from_old), BODY, 1_700_000_000).is_ok());
    }

    #[test]
    fn only_age_is_limited() {
        let stripe = Stripe::new("whsec_test_secret").tolerance(Duration::from_secs(60));
        let header = stripe.sign(1_700_000_000, BODY);
        assert!(stripe.verify(&with(&header), BODY, 1_700_000_060).is_ok());
        assert_eq!(
            stripe.verify(&with(&header), BODY, 1_700_000_061),
            Err(VerifyError::TimestampTooOld { age_secs: 61 })
        );
        assert!(stripe.verify(&with(&header), BODY, 1_600_000_000).is_ok());
    }
}
