//! Transitions are `tracing` events with the breaker's name, `from` and `to`.
//!
//! Alone in its test binary: a scoped `tracing` dispatcher races with other
//! threads that reach the same callsites first (their cached interest can hide
//! events from it), so no other test may run beside this one.
// `allow` first: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)]
#![cfg(feature = "circuit-breaker")]

use std::fmt;
use std::sync::{Arc, Mutex};

use palisade_resilience::circuit_breaker::State;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[path = "circuit_breaker/support.rs"]
#[allow(dead_code)] // shared with the main breaker tests, which use all of it
mod support;

#[path = "circuit_breaker/cycle.rs"]
mod cycle;

use cycle::{CYCLE, builder, full_cycle};

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

/// Keeps the fields of every event of the breaker's target.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

/// An event's level and its fields, formatted.
type Captured = (tracing::Level, Vec<(String, String)>);

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "palisade_resilience::circuit_breaker"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test(start_paused = true)]
async fn transitions_are_tracing_events_with_name_from_and_to() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    // A callsite first reached by another thread before this dispatcher existed
    // may have cached "never"; recompute every callsite's interest now.
    tracing::callsite::rebuild_interest_cache();
    full_cycle(builder("traced")).await;

    let events = capture.0.lock().unwrap();
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
