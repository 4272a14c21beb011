//! Integration tests of the `retry` feature (and its `http` preset).
#![cfg(feature = "retry")]
#![allow(missing_docs)]
// Helpers outside `#[test]` functions unwrap too: in tests a panic is a failure.
#![allow(clippy::unwrap_used)]

#[path = "retry/support.rs"]
mod support;

#[path = "retry/budget.rs"]
mod budget;
#[path = "retry/config.rs"]
mod config;
#[cfg(feature = "http")]
#[path = "retry/http.rs"]
mod http;
#[path = "retry/jitter.rs"]
mod jitter;
#[cfg(all(
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "rate-limit",
    feature = "timeout"
))]
#[path = "retry/rejections.rs"]
mod rejections;
#[path = "retry/schedule.rs"]
mod schedule;
