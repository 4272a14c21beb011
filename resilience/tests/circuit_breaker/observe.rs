//! Transitions reach listeners, `tracing` and `metrics`.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow, State};
use tokio::time;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::support::{Call, breaker, rejection, send, send_all};

fn builder(name: &str) -> palisade_resilience::circuit_breaker::CircuitBreakerBuilder {
    CircuitBreakerLayer::builder()
        .name(name)
        .sliding_window(SlidingWindow::count(2))
        .minimum_calls(2)
        .permitted_calls_in_half_open(1)
        .wait_duration_in_open(Duration::from_secs(5))
}

/// Closed → Open → HalfOpen → Closed, then ForcedOpen → Closed by hand.
async fn full_cycle(builder: palisade_resilience::circuit_breaker::CircuitBreakerBuilder) {
    let (mut service, handle, _) = breaker(builder);
    send_all(&mut service, &[Call::Fail; 2]).await;
    rejection(send(&mut service, Call::Ok).await);
    time::advance(Duration::from_secs(5)).await;
    send_all(&mut service, &[Call::Ok]).await;
    assert_eq!(handle.state(), State::Closed);
    handle.force_open();
    handle.reset();
}

const CYCLE: [(State, State); 5] = [
    (State::Closed, State::Open),
    (State::Open, State::HalfOpen),
    (State::HalfOpen, State::Closed),
    (State::Closed, State::ForcedOpen),
    (State::ForcedOpen, State::Closed),
];

#[tokio::test(start_paused = true)]
async fn listeners_see_every_transition() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let start = time::Instant::now();
    full_cycle(builder("listened").on_transition(move |t| {
        assert_eq!(t.name(), "listened");
        sink.lock()
            .unwrap()
            .push((t.from(), t.to(), t.at() - start));
    }))
    .await;
    let seen = seen.lock().unwrap();
    let pairs: Vec<_> = seen.iter().map(|(from, to, _)| (*from, *to)).collect();
    assert_eq!(pairs, CYCLE);
    // The move to HalfOpen happened when the first call after the wait came.
    assert_eq!(seen[1].2, Duration::from_secs(5));
}

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

#[cfg(feature = "metrics")]
mod metrics {
    use std::sync::OnceLock;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
    use metrics_util::{CompositeKey, MetricKind};

    use super::*;

    /// One recorder for the whole test binary; tests tell their breakers
    /// apart by name.
    fn snapshotter() -> &'static Snapshotter {
        static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
        SNAPSHOTTER.get_or_init(|| {
            let recorder = DebuggingRecorder::new();
            let snapshotter = recorder.snapshotter();
            ::metrics::set_global_recorder(recorder).expect("no other recorder in this binary");
            snapshotter
        })
    }

    /// What was recorded since the previous read (reading drains counters
    /// and gauges), for the breaker named `name`.
    struct Read(Vec<(CompositeKey, DebugValue)>);

    fn read(name: &str) -> Read {
        Read(
            snapshotter()
                .snapshot()
                .into_vec()
                .into_iter()
                .filter(|(key, ..)| {
                    key.key()
                        .labels()
                        .any(|l| l.key() == "name" && l.value() == name)
                })
                .map(|(key, _, _, value)| (key, value))
                .collect(),
        )
    }

    impl Read {
        fn value(
            &self,
            kind: MetricKind,
            name: &str,
            labels: &[(&str, &str)],
        ) -> Option<&DebugValue> {
            self.0
                .iter()
                .find(|(key, _)| {
                    key.kind() == kind
                        && key.key().name() == name
                        && labels.iter().all(|(label, value)| {
                            key.key()
                                .labels()
                                .any(|l| l.key() == *label && l.value() == *value)
                        })
                })
                .map(|(_, value)| value)
        }

        fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
            match self.value(MetricKind::Counter, name, labels) {
                Some(DebugValue::Counter(n)) => *n,
                _ => 0,
            }
        }

        fn transitions(&self, from: &str, to: &str) -> u64 {
            self.counter(
                "palisade_circuit_breaker_transitions_total",
                &[("from", from), ("to", to)],
            )
        }

        fn calls(&self, outcome: &str) -> u64 {
            self.counter(
                "palisade_circuit_breaker_calls_total",
                &[("outcome", outcome)],
            )
        }

        fn state(&self) -> Option<f64> {
            match self.value(MetricKind::Gauge, "palisade_circuit_breaker_state", &[]) {
                Some(DebugValue::Gauge(g)) => Some(g.into_inner()),
                _ => None,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transitions_and_calls_are_counted() {
        snapshotter();
        let (mut service, handle, _) = breaker(builder("metered"));
        send_all(&mut service, &[Call::Ok, Call::Ok, Call::Fail]).await;
        assert_eq!(handle.state(), State::Open);
        rejection(send(&mut service, Call::Ok).await);
        rejection(send(&mut service, Call::Ok).await);

        let metrics = read("metered");
        assert_eq!(metrics.transitions("closed", "open"), 1);
        assert_eq!(metrics.calls("success"), 2);
        assert_eq!(metrics.calls("failure"), 1);
        assert_eq!(metrics.calls("rejected"), 2);
        assert_eq!(metrics.state(), Some(1.0));

        time::advance(Duration::from_secs(5)).await;
        send_all(&mut service, &[Call::Ok]).await;
        handle.force_open();
        let metrics = read("metered");
        assert_eq!(metrics.transitions("closed", "open"), 0);
        assert_eq!(metrics.transitions("open", "half_open"), 1);
        assert_eq!(metrics.transitions("half_open", "closed"), 1);
        assert_eq!(metrics.transitions("closed", "forced_open"), 1);
        assert_eq!(metrics.calls("success"), 1);
        assert_eq!(metrics.state(), Some(3.0));

        // Disabled calls are not counted.
        handle.disable();
        send_all(&mut service, &[Call::Ok, Call::Fail]).await;
        let metrics = read("metered");
        assert_eq!(metrics.calls("success") + metrics.calls("failure"), 0);
        assert_eq!(metrics.state(), Some(4.0));
    }
}
