//! Transitions reach listeners and `metrics`: in a test binary of their own,
//! because the `metrics` recorder is process-wide state.
// `allow` first: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)]
#![cfg(feature = "circuit-breaker")]

#[path = "circuit_breaker/support.rs"]
#[allow(dead_code)] // shared with the main breaker tests, which use all of it
mod support;

#[path = "circuit_breaker/cycle.rs"]
mod cycle;

#[path = "circuit_breaker/observe.rs"]
mod observe;
