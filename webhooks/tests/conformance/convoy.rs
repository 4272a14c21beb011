//! Convoy's signatures as a user-defined [`Scheme`]: proof that the trait is
//! enough to plug in a scheme the crate does not ship.
//!
//! Convoy sends `X-Convoy-Signature`. Simple mode: the encoded HMAC of the raw
//! body. Advanced mode: `t=<unix>,v1=<sig>[,v1=<sig>…]` in any order, where
//! each `v1` is the encoded HMAC of `{t},{body}` (a comma, not a dot). The key
//! is the secret string's bytes; the hash is SHA-256 or SHA-512 and the
//! encoding hex or base64.

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use http::HeaderMap;
use palisade_webhooks::{Scheme, Verified, VerifyError};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq as _;

const HEADER: &str = "x-convoy-signature";

#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    Simple,
    Advanced,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Hash {
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Encoding {
    Hex,
    Base64,
}

#[derive(Debug)]
pub(crate) struct Convoy {
    pub(crate) secret: Vec<u8>,
    pub(crate) mode: Mode,
    pub(crate) hash: Hash,
    pub(crate) encoding: Encoding,
    pub(crate) tolerance_secs: i64,
}

impl Convoy {
    fn tag(&self, parts: &[&[u8]]) -> Vec<u8> {
        match self.hash {
            Hash::Sha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
                parts.iter().for_each(|p| mac.update(p));
                mac.finalize().into_bytes().to_vec()
            }
            Hash::Sha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(&self.secret).expect("any key length");
                parts.iter().for_each(|p| mac.update(p));
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn matches(&self, expected: &[u8], encoded: &str) -> bool {
        let decoded = match self.encoding {
            Encoding::Hex => hex::decode(encoded.trim()).ok(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok(),
        };
        decoded.is_some_and(|d| d.len() == expected.len() && bool::from(d.ct_eq(expected)))
    }
}

impl Scheme for Convoy {
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, VerifyError> {
        let value = headers
            .get(HEADER)
            .ok_or(VerifyError::MissingHeader(HEADER))?
            .to_str()
            .map_err(|_| VerifyError::MalformedHeader {
                header: HEADER.into(),
                reason: "not visible ASCII",
            })?;

        match self.mode {
            Mode::Simple => {
                if self.matches(&self.tag(&[body]), value) {
                    Ok(Verified {
                        id: None,
                        timestamp: None,
                    })
                } else {
                    Err(VerifyError::InvalidSignature)
                }
            }
            Mode::Advanced => {
                let pairs = || value.split(',').filter_map(|item| item.split_once('='));
                let t = pairs()
                    .find(|(k, _)| k.trim() == "t")
                    .map(|(_, v)| v.trim())
                    .ok_or(VerifyError::MalformedHeader {
                        header: HEADER.into(),
                        reason: "no t= timestamp",
                    })?;
                // Digits only: rejects `Infinity`, signs and fractions.
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VerifyError::InvalidTimestamp);
                }
                let ts: i64 = t.parse().map_err(|_| VerifyError::InvalidTimestamp)?;
                let age = now.saturating_sub(ts);
                if age > self.tolerance_secs {
                    return Err(VerifyError::TimestampTooOld { age_secs: age });
                }
                let ahead = ts.saturating_sub(now);
                if ahead > self.tolerance_secs {
                    return Err(VerifyError::TimestampTooNew { ahead_secs: ahead });
                }
                let expected = self.tag(&[t.as_bytes(), b",", body]);
                let mut any = false;
                for (_, sig) in pairs().filter(|(k, _)| k.trim() == "v1") {
                    any = true;
                    if self.matches(&expected, sig) {
                        return Ok(Verified {
                            id: None,
                            timestamp: Some(ts),
                        });
                    }
                }
                Err(if any {
                    VerifyError::InvalidSignature
                } else {
                    VerifyError::NoSignature
                })
            }
        }
    }

    fn tolerance(&self) -> Option<std::time::Duration> {
        match self.mode {
            Mode::Simple => None,
            Mode::Advanced => Some(std::time::Duration::from_secs(
                self.tolerance_secs.unsigned_abs(),
            )),
        }
    }
}
