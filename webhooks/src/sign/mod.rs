//! Signing outgoing webhooks: secrets, keys and the [`Signer`].
//!
//! A sender holds one [`Secret`] per endpoint (several while rotating) and a
//! [`Signer`] that turns `(id, timestamp, body)` into the `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` headers of
//! [Standard Webhooks](https://www.standardwebhooks.com/). With the `ed25519`
//! feature a `SigningKey` adds asymmetric `v1a` signatures.
//!
//! ```
//! use palisade_webhooks::sign::{Secret, Signer};
//!
//! let secret = Secret::generate();
//! let signer = Signer::new(secret);
//! let signed = signer.sign("msg_1", 1_700_000_000, b"\x00 raw bytes are fine \xff")?;
//! assert!(signed.signature.starts_with("v1,"));
//!
//! let mut headers = http::HeaderMap::new();
//! signed.apply(&mut headers);
//! assert_eq!(headers["webhook-timestamp"], "1700000000");
//! # Ok::<(), palisade_webhooks::sign::SignError>(())
//! ```

#[cfg(feature = "ed25519")]
mod ed25519;
pub(crate) mod encoding;
pub(crate) mod mac;
mod secret;
mod signer;

#[cfg(feature = "ed25519")]
pub use ed25519::SigningKey;
pub use secret::{Secret, SecretError};
pub use signer::{SignError, SignedHeaders, Signer};

pub(crate) use signer::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
