//! The engine's metrics, read from a recorder installed for this test binary.
#![cfg(all(feature = "deliver", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "deliver/harness.rs"]
mod harness;

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use palisade_webhooks::deliver::RetrySchedule;

fn values(snapshotter: &Snapshotter) -> Vec<(String, Vec<String>, DebugValue)> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key().clone();
            let labels = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_queue_and_breakers_are_measured() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).unwrap();

    let schedule = RetrySchedule::new(vec![Duration::ZERO, Duration::from_secs(3600)]).jitter(0.0);
    let s = harness::setup_with("metrics", schedule, |b| {
        b.upkeep_interval(Duration::from_millis(20))
            .breaker_metrics(true)
    })
    .await;
    let down = s.endpoint("down").await;
    s.endpoint("ok").await;
    let running = s.engine.start();
    for n in 0..10 {
        s.publish(n).await;
    }
    s.wait_for("ok", 10).await;
    s.wait_for("down", 10).await;
    // Let the reports land and the upkeep run a few times.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = values(&snapshotter);
    let counter = |name: &str, labels: &[&str]| {
        seen.iter()
            .find(|(n, l, _)| n == name && l.iter().map(String::as_str).eq(labels.iter().copied()))
            .map(|(_, _, v)| v)
    };
    assert_eq!(
        counter(
            "palisade_webhook_attempts_total",
            &["outcome=succeeded", "status_class=2xx"]
        ),
        Some(&DebugValue::Counter(10)),
        "{seen:?}"
    );
    assert_eq!(
        counter(
            "palisade_webhook_attempts_total",
            &["outcome=retrying", "status_class=5xx"]
        ),
        Some(&DebugValue::Counter(10)),
        "{seen:?}"
    );
    // Ten deliveries wait for their retry in an hour; none is overdue.
    assert_eq!(
        counter("palisade_webhook_deliveries_waiting", &[]),
        Some(&DebugValue::Gauge(10.0.into()))
    );
    assert_eq!(
        counter("palisade_webhook_queue_lag_seconds", &[]),
        Some(&DebugValue::Gauge(0.0.into()))
    );
    assert_eq!(
        counter("palisade_webhook_attempts_in_flight", &[]),
        Some(&DebugValue::Gauge(0.0.into()))
    );
    match counter("palisade_webhook_attempt_duration_seconds", &[]) {
        Some(DebugValue::Histogram(samples)) => assert_eq!(samples.len(), 20),
        other => panic!("no latency histogram: {other:?}"),
    }
    // Ten 500s are too few for the breaker (20 calls minimum): it is closed.
    let label = format!("endpoint={down}");
    assert_eq!(
        counter("palisade_webhook_endpoint_breaker_open", &[label.as_str()]),
        Some(&DebugValue::Gauge(0.0.into())),
        "{seen:?}"
    );
    // The clock moves past the retry: the lag gauge shows the overdue wait.
    s.clock.advance(Duration::from_secs(3600 + 90));
    running.shutdown(Duration::from_secs(5)).await;
    let stats = palisade_webhooks::store::Store::stats(s.store.as_ref(), s.clock.now())
        .await
        .unwrap();
    assert_eq!(stats.waiting, 10);
    let lag = s
        .clock
        .now()
        .duration_since(stats.oldest_due_at.unwrap())
        .unwrap();
    assert_eq!(lag.as_secs(), 90);
}
