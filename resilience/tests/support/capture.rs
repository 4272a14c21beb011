//! A `tracing` subscriber for tests that keeps the events it accepts, each
//! as its level and its fields formatted, shared by the tracing tests.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

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

/// An event's level and its fields, formatted.
pub(crate) type Captured = (Level, Vec<(String, String)>);

/// Keeps every event whose metadata `accepts`.
#[derive(Clone)]
pub(crate) struct Capture {
    accepts: fn(&Metadata<'_>) -> bool,
    events: Arc<Mutex<Vec<Captured>>>,
}

impl Capture {
    pub(crate) fn new(accepts: fn(&Metadata<'_>) -> bool) -> Self {
        Self {
            accepts,
            events: Arc::default(),
        }
    }

    /// The events kept so far, in order.
    pub(crate) fn events(&self) -> MutexGuard<'_, Vec<Captured>> {
        self.events.lock().unwrap()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        (self.accepts)(metadata)
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.events().push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
