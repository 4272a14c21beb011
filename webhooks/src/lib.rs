#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`sign`]: secrets, keys and the [`Signer`] for senders.
//! - [`verify`]: the [`Scheme`] trait, [`StandardWebhooks`], [`Stripe`],
//!   [`GitHub`], [`VerifyError`] and the [`Clock`].
//! - [`layer`]: the receiver middleware, [`VerifyWebhookLayer`].
//! - `deliver` (feature `deliver`): sending; `deliver::connect` is the
//!   SSRF-safe outbound connector and client.

pub mod layer;
pub mod sign;
pub mod verify;

#[cfg(feature = "axum")]
pub mod extract;
#[cfg(feature = "store")]
pub mod store;

#[cfg(feature = "deliver")]
pub mod deliver;

pub use layer::VerifyWebhookLayer;
pub use sign::{Secret, SignedHeaders, Signer};
pub use verify::{
    Clock, GitHub, Scheme, StandardWebhooks, Stripe, SystemClock, Verified, VerifyError,
};
