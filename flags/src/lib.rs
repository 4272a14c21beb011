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
//! - [`gate`] (feature `tower`): [`FlagGateLayer`](gate::FlagGateLayer) puts a
//!   service or route behind a flag.
//! - [`extract`] (feature `axum`): extractors for handlers that branch on a
//!   flag or variant.
//! - [`hooks`]: hooks around evaluation and impression events.
//! - [`hash`]: Unleash-compatible MurmurHash3 bucketing.
//! - [`openfeature`] (feature `openfeature`): an `open-feature` provider.
//! - [`stale`]: evaluation counts and the stale-flag report.
//! - [`time`]: timestamps and the injectable clock.

#[cfg(feature = "axum")]
pub mod extract;
#[cfg(feature = "tower")]
pub mod gate;
pub mod hash;
pub mod hooks;
pub mod model;
pub mod native;
pub mod stale;
#[cfg(feature = "live")]
pub mod store;
pub mod time;
pub mod unleash;

mod context;
mod eval;

pub use context::Context;
pub use eval::{ErrorCode, Evaluation, Explanation, Flags, Reason, Step, Value};

#[cfg(feature = "openfeature")]
pub mod openfeature;
