//! Transitions are `tracing` events with the breaker's name, `from` and `to`.
//!
//! Alone in its test binary: a scoped `tracing` dispatcher races with other
//! threads that reach the same callsites first (their cached interest can hide
//! events from it), so no other test may run beside this one.
// `allow` first: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)]
#![cfg(feature = "circuit-breaker")]

use palisade_resilience::circuit_breaker::State;

#[path = "circuit_breaker/support.rs"]
#[allow(dead_code)] // shared with the main breaker tests, which use all of it
mod support;

#[path = "circuit_breaker/cycle.rs"]
mod cycle;

use cycle::{CYCLE, builder, full_cycle};

#[path = "support/capture.rs"]
mod capture;

use capture::Capture;

/// Every event of the breaker's own target.
fn breaker_events(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.target() == "palisade_resilience::circuit_breaker"
}

#[tokio::test(start_paused = true)]
async fn transitions_are_tracing_events_with_name_from_and_to() {
    let capture = Capture::new(breaker_events);
    let _guard = tracing::subscriber::set_default(capture.clone());
    // A callsite first reached by another thread before this dispatcher existed
    // may have cached "never"; recompute every callsite's interest now.
    tracing::callsite::rebuild_interest_cache();
    full_cycle(builder("traced")).await;

    let events = capture.events();
    let transitions: Vec<_> = events
        .iter()
        .map(|(level, fields)| {
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            assert_eq!(get("name"), "traced");
            (*level, get("from"), get("to"))
        })
        .collect();
    let expected: Vec<_> = CYCLE
        .iter()
        .map(|(from, to)| {
            let level = if matches!(to, State::Open | State::ForcedOpen) {
                tracing::Level::WARN
            } else {
                tracing::Level::INFO
            };
            (level, from.as_str().to_owned(), to.as_str().to_owned())
        })
        .collect();
    assert_eq!(transitions, expected);
}
