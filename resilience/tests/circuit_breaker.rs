//! Integration tests of the circuit breaker.
// `allow` first: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
// Test helpers outside `#[test]` functions unwrap too; a panic is a test failure.
#![allow(clippy::unwrap_used)]
#![cfg(feature = "circuit-breaker")]

#[path = "circuit_breaker/support.rs"]
mod support;

#[path = "circuit_breaker/concurrency.rs"]
mod concurrency;
#[path = "circuit_breaker/config.rs"]
mod config;
#[path = "circuit_breaker/half_open.rs"]
mod half_open;
#[path = "circuit_breaker/http.rs"]
mod http;
#[path = "circuit_breaker/keyed.rs"]
mod keyed;
#[path = "circuit_breaker/last_transition.rs"]
mod last_transition;
#[path = "circuit_breaker/states.rs"]
mod states;
#[path = "circuit_breaker/timing.rs"]
mod timing;
#[path = "circuit_breaker/windows.rs"]
mod windows;
