//! Transitions reach listeners and `metrics`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time;

use crate::cycle::{CYCLE, builder, full_cycle};
#[cfg(feature = "metrics")]
use crate::support::{Call, breaker, rejection, send, send_all};
#[cfg(feature = "metrics")]
use palisade_resilience::circuit_breaker::State;

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
