//! Verifying incoming webhooks: the [`Scheme`] trait and the schemes we ship.
//!
//! A [`Scheme`] looks at the request headers and the raw body bytes and either
//! proves the message authentic ([`Verified`]) or says why not
//! ([`VerifyError`], which maps to a 400 or 401). Verification is sans-IO: the
//! caller buffers the body and reads the clock ([`Clock`]); the
//! `VerifyWebhookLayer` does both for tower services.
//!
//! Shipped schemes: [`StandardWebhooks`] (also the `svix-*` headers, and
//! `v1a` ed25519 with the `ed25519` feature), [`Stripe`] and [`GitHub`].
//! Anything else is a `Scheme` implementation away:
//!
//! ```
//! use http::HeaderMap;
//! use palisade_webhooks::{Scheme, Verified, VerifyError};
//!
//! /// A shared token in `x-signature` (no MAC: an example, not a recommendation).
//! struct Token(&'static str);
//!
//! impl Scheme for Token {
//!     fn verify(&self, headers: &HeaderMap, _body: &[u8], _now: i64) -> Result<Verified, VerifyError> {
//!         match headers.get("x-signature") {
//!             None => Err(VerifyError::MissingHeader("x-signature")),
//!             Some(v) if v.as_bytes() == self.0.as_bytes() => Ok(Verified { id: None, timestamp: None }),
//!             Some(_) => Err(VerifyError::InvalidSignature),
//!         }
//!     }
//! }
//!
//! let scheme: Box<dyn Scheme> = Box::new(Token("hunter2"));
//! let mut headers = HeaderMap::new();
//! assert_eq!(scheme.verify(&headers, b"", 0).unwrap_err().status(), 401);
//! headers.insert("x-signature", "hunter2".parse()?);
//! assert!(scheme.verify(&headers, b"", 0).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
#[cfg(feature = "ed25519")]
mod ed25519;
mod error;
mod github;
mod parse;
mod standard;
mod stripe;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

pub use clock::{Clock, SystemClock};
#[cfg(feature = "ed25519")]
pub use ed25519::PublicKey;
pub use error::{KeyConfigError, VerifyError};
pub use github::GitHub;
pub use standard::StandardWebhooks;
pub use stripe::Stripe;

/// A signature scheme a receiver verifies. Implement it for schemes we don't
/// ship.
///
/// Implementations must never panic, whatever the headers hold.
pub trait Scheme: Send + Sync + 'static {
    /// Verifies the raw `body` against the request `headers` at `now` (Unix
    /// seconds).
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] saying why the message is not proven authentic.
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, VerifyError>;

    /// How far from `now` a timestamp this scheme accepts can be, if the
    /// scheme has signed timestamps (`None` otherwise, the default).
    ///
    /// A replay cache must remember a verified id until its timestamp plus
    /// this tolerance has passed; after that the timestamp check rejects the
    /// message anyway.
    ///
    /// The shipped schemes also have a `tolerance(self, Duration)` builder
    /// method; on a concrete type call this one as `Scheme::tolerance(&s)`.
    fn tolerance(&self) -> Option<Duration> {
        None
    }
}

impl<S: Scheme + ?Sized> Scheme for Box<S> {
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, VerifyError> {
        (**self).verify(headers, body, now)
    }

    fn tolerance(&self) -> Option<Duration> {
        (**self).tolerance()
    }
}

impl<S: Scheme + ?Sized> Scheme for Arc<S> {
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, VerifyError> {
        (**self).verify(headers, body, now)
    }

    fn tolerance(&self) -> Option<Duration> {
        (**self).tolerance()
    }
}

/// What a successful verification proves: the message id and timestamp the
/// signature covers, when the scheme has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The message id (`webhook-id`), covered by the signature.
    pub id: Option<String>,
    /// The send time in Unix seconds, covered by the signature.
    pub timestamp: Option<i64>,
}
