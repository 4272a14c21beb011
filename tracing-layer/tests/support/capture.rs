//! A `tracing` layer that collects every span's fields and whether it closed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

/// One span as seen by the subscriber.
#[derive(Clone, Debug, Default)]
pub(crate) struct CapturedSpan {
    pub(crate) name: &'static str,
    pub(crate) fields: HashMap<String, String>,
    pub(crate) closed: bool,
    /// The messages of the events recorded inside the span.
    pub(crate) events: Vec<String>,
}

impl CapturedSpan {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Clone, Default)]
pub(crate) struct Capture {
    spans: Arc<Mutex<Vec<CapturedSpan>>>,
    ids: Arc<Mutex<HashMap<u64, usize>>>,
}

impl Capture {
    /// A subscriber that records into a new `Capture`.
    pub(crate) fn new() -> (Self, impl Subscriber + Send + Sync) {
        // Tests run in parallel threads, each with its own default
        // subscriber. A callsite first hit on a thread with no subscriber
        // at all would have its interest cached as "never" for every
        // thread, racing with the test that sets its subscriber, and that
        // test would then see no span. A global subscriber interested in
        // everything closes the race; each test still captures only what
        // its own thread's default sees.
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let _ = tracing::subscriber::set_global_default(Registry::default());
        });
        let capture = Self::default();
        let subscriber = Registry::default().with(capture.clone());
        (capture, subscriber)
    }

    /// All spans so far, in creation order.
    pub(crate) fn spans(&self) -> Vec<CapturedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// The only span; panics unless there is exactly one.
    pub(crate) fn only(&self) -> CapturedSpan {
        let spans = self.spans();
        assert_eq!(spans.len(), 1, "{spans:#?}");
        spans.into_iter().next().unwrap()
    }

    fn with_span(&self, id: &Id, f: impl FnOnce(&mut CapturedSpan)) {
        let index = self.ids.lock().unwrap().get(&id.into_u64()).copied();
        if let Some(index) = index {
            f(&mut self.spans.lock().unwrap()[index]);
        }
    }
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut span = CapturedSpan {
            name: attrs.metadata().name(),
            ..CapturedSpan::default()
        };
        attrs.record(&mut Fields(&mut span.fields));
        let mut spans = self.spans.lock().unwrap();
        self.ids.lock().unwrap().insert(id.into_u64(), spans.len());
        spans.push(span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        self.with_span(id, |span| values.record(&mut Fields(&mut span.fields)));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(parent) = ctx.event_span(event) else {
            return;
        };
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        self.with_span(&parent.id(), |span| span.events.push(message));
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        self.with_span(&id, |span| span.closed = true);
    }
}
