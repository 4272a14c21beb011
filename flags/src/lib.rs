#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`model`]: flags, strategies, constraints, segments, variants,
//!   dependencies, validated into a [`FlagSet`](model::FlagSet).
//! - [`unleash`]: read Unleash client-API JSON (and delta events) into the model.
//! - [`Flags`]: evaluation over an atomically swapped snapshot, with
//!   [`Flags::explain`] for the rule trace.
//! - [`native`]: Palisade's own JSON/YAML definition format.
//! - `store` (feature `live`): live snapshots, change subscriptions, sources
//!   and stores.
//! - [`hash`]: Unleash-compatible MurmurHash3 bucketing.
//! - [`time`]: timestamps and the injectable clock.

pub mod hash;
pub mod model;
pub mod native;
#[cfg(feature = "live")]
pub mod store;
pub mod time;
pub mod unleash;

mod context;
mod eval;

pub use context::Context;
pub use eval::{ErrorCode, Evaluation, Explanation, Flags, Reason, Step, Value};
