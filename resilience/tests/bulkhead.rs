//! `BulkheadLayer` and `KeyedBulkheadLayer`: queueing, max wait, rejection,
//! permit release, keyed isolation.
#![cfg(feature = "bulkhead")]
#![allow(missing_docs)]

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::bulkhead::error::{BulkheadFull, Reason};
use palisade_resilience::{BoxError, ConfigError};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt};
use tower_test::mock;

/// Polls `fut` once without registering interest in a wake-up.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(std::task::Waker::noop()))
}

fn expect_full<T: std::fmt::Debug>(poll: Poll<Result<T, BoxError>>) -> BulkheadFull {
    match poll {
        Poll::Ready(Err(err)) => *err
            .downcast_ref::<BulkheadFull>()
            .unwrap_or_else(|| panic!("expected BulkheadFull, got {err}")),
        other => panic!("expected a BulkheadFull rejection, got {other:?}"),
    }
}

fn queueing_layer(max_wait: Duration) -> BulkheadLayer {
    BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::MIN)
        .max_waiters(1)
        .max_wait(max_wait)
        .build()
        .expect("valid configuration")
}

#[tokio::test(start_paused = true)]
async fn next_call_waits_and_proceeds_when_a_permit_is_released() {
    let layer = queueing_layer(Duration::from_secs(10));
    let bulkhead = layer.handle();
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(svc.poll_ready().is_ready());
    let mut first = Box::pin(svc.call("first"));
    assert!(
        svc.poll_ready().is_ready(),
        "the bulkhead never blocks readiness"
    );
    let mut second = Box::pin(svc.call("second"));

    let (req, send_first) = handle.next_request().await.unwrap();
    assert_eq!(req, "first");
    assert!(poll_once(&mut second).is_pending());
    assert!(
        handle.poll_request().is_pending(),
        "queued call reached the inner service"
    );
    assert_eq!((bulkhead.in_flight(), bulkhead.waiting()), (1, 1));

    advance(Duration::from_secs(5)).await;
    send_first.send_response("one");
    assert!(matches!(poll_once(&mut first), Poll::Ready(Ok("one"))));
    // The permit is released on completion, even though `first` is still
    // alive, and goes straight to the waiter: it is called now.
    assert!(poll_once(&mut second).is_pending());
    let (req, send_second) = handle.next_request().await.unwrap();
    assert_eq!(req, "second");
    assert_eq!((bulkhead.in_flight(), bulkhead.waiting()), (1, 0));
    drop(first);
    send_second.send_response("two");
    assert_eq!(second.await.unwrap(), "two");
    assert_eq!(bulkhead.available(), 1);
    assert_eq!(bulkhead.rejected_total(), 0);
}

#[tokio::test(start_paused = true)]
async fn queued_call_fails_after_max_wait_without_reaching_the_inner_service() {
    let layer = queueing_layer(Duration::from_millis(100));
    let bulkhead = layer.handle();
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(svc.poll_ready().is_ready());
    let first = svc.call("first");
    assert!(svc.poll_ready().is_ready());
    let mut second = Box::pin(svc.call("second"));
    let (_, send_first) = handle.next_request().await.unwrap();

    assert!(poll_once(&mut second).is_pending());
    advance(Duration::from_millis(99)).await;
    assert!(poll_once(&mut second).is_pending());
    advance(Duration::from_millis(1)).await;
    let full = expect_full(poll_once(&mut second));
    assert_eq!(
        full.reason(),
        Reason::WaitExpired {
            max_wait: Duration::from_millis(100)
        }
    );
    assert_eq!(full.max_concurrent(), 1);
    assert_eq!((bulkhead.waiting(), bulkhead.rejected_total()), (0, 1));

    // Release the permit: the expired call must not be sent after all.
    send_first.send_response("one");
    assert_eq!(first.await.unwrap(), "one");
    assert!(handle.poll_request().is_pending());

    assert!(svc.poll_ready().is_ready());
    let third = svc.call("third");
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, "third");
    send.send_response("three");
    assert_eq!(third.await.unwrap(), "three");
}

#[tokio::test(start_paused = true)]
async fn rejects_at_once_when_the_queue_is_full() {
    let layer = queueing_layer(Duration::from_secs(1));
    let bulkhead = layer.handle();
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(svc.poll_ready().is_ready());
    let _first = svc.call("first");
    assert!(svc.poll_ready().is_ready());
    let mut second = Box::pin(svc.call("second"));
    assert!(poll_once(&mut second).is_pending());
    assert!(svc.poll_ready().is_ready());
    let mut third = Box::pin(svc.call("third"));

    let full = expect_full(poll_once(&mut third));
    assert!(full.is_queue_full());
    assert_eq!(bulkhead.rejected_total(), 1);
    let (req, _send) = handle.next_request().await.unwrap();
    assert_eq!(req, "first");
    assert!(handle.poll_request().is_pending());
}

#[tokio::test(start_paused = true)]
async fn without_a_queue_a_full_bulkhead_rejects_immediately() {
    // Waiters but a zero max_wait: nobody may wait.
    let zero_wait = BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::new(2).unwrap())
        .max_waiters(10)
        .build()
        .unwrap();
    for layer in [BulkheadLayer::new(NonZeroUsize::new(2).unwrap()), zero_wait] {
        let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);
        let mut running = Vec::new();
        for _ in 0..2 {
            assert!(svc.poll_ready().is_ready());
            running.push(svc.call("ok"));
        }
        assert!(svc.poll_ready().is_ready());
        let mut rejected = Box::pin(svc.call("rejected"));
        assert!(expect_full(poll_once(&mut rejected)).is_queue_full());
        for _ in 0..2 {
            assert_eq!(handle.next_request().await.unwrap().0, "ok");
        }
        assert!(handle.poll_request().is_pending());
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_response_futures_releases_permits_and_queue_places() {
    let layer = queueing_layer(Duration::from_secs(1));
    let bulkhead = layer.handle();
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(svc.poll_ready().is_ready());
    let first = svc.call("first");
    assert!(svc.poll_ready().is_ready());
    let mut second = Box::pin(svc.call("second"));
    assert!(poll_once(&mut second).is_pending());
    assert_eq!((bulkhead.available(), bulkhead.waiting()), (0, 1));

    drop(second);
    assert_eq!(bulkhead.waiting(), 0);
    drop(first);
    assert_eq!((bulkhead.available(), bulkhead.in_flight()), (1, 0));

    // The permit is free again: the next call goes straight through.
    assert!(svc.poll_ready().is_ready());
    let third = svc.call("third");
    assert_eq!(handle.next_request().await.unwrap().0, "first");
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, "third");
    send.send_response("three");
    assert_eq!(third.await.unwrap(), "three");
    // The dropped queued call never reached the inner service.
    assert!(handle.poll_request().is_pending());
}

#[tokio::test(start_paused = true)]
async fn permit_is_released_on_completion_before_the_future_is_dropped() {
    let layer = BulkheadLayer::new(NonZeroUsize::MIN);
    let bulkhead = layer.handle();
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(svc.poll_ready().is_ready());
    let mut first = Box::pin(svc.call("first"));
    let (_, send) = handle.next_request().await.unwrap();
    assert_eq!(bulkhead.available(), 0);
    send.send_response("one");
    assert!(matches!(poll_once(&mut first), Poll::Ready(Ok("one"))));
    assert_eq!(bulkhead.available(), 1);
    drop(first);
}

#[tokio::test(start_paused = true)]
async fn queued_call_honours_the_inner_services_readiness() {
    let layer = queueing_layer(Duration::from_millis(100));
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(svc.poll_ready().is_ready());
    let first = svc.call("first");
    assert!(svc.poll_ready().is_ready());
    let mut second = Box::pin(svc.call("second"));
    assert!(poll_once(&mut second).is_pending());
    let (_, send_first) = handle.next_request().await.unwrap();

    handle.allow(0);
    send_first.send_response("one");
    assert_eq!(first.await.unwrap(), "one");
    // Holding the permit now, but the inner service is not ready. `max_wait`
    // bounds the wait for a permit only, so this is not a rejection.
    advance(Duration::from_secs(1)).await;
    assert!(poll_once(&mut second).is_pending());
    assert!(handle.poll_request().is_pending());

    handle.allow(1);
    assert!(poll_once(&mut second).is_pending());
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, "second");
    send.send_response("two");
    assert_eq!(second.await.unwrap(), "two");
}

#[tokio::test(start_paused = true)]
async fn keyed_partitions_are_isolated() {
    let layer = BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::MIN)
        .keyed(|req: &(char, u32)| Some(req.0))
        .build()
        .unwrap();
    let keyed = layer.handle();
    let (mock, mut handle) = mock::pair::<(char, u32), u32>();
    let mut svc = layer.layer(mock);

    let a1 = svc.ready().await.unwrap().call(('a', 1));
    let mut a2 = Box::pin(svc.ready().await.unwrap().call(('a', 2)));
    let b1 = svc.ready().await.unwrap().call(('b', 1));

    assert!(expect_full(poll_once(&mut a2)).is_queue_full());
    assert_eq!((keyed.in_flight(&'a'), keyed.in_flight(&'b')), (1, 1));
    assert_eq!((keyed.available(&'a'), keyed.available(&'c')), (0, 1));
    assert_eq!(keyed.partitions(), 2);

    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, ('a', 1));
    send.send_response(1);
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, ('b', 1));
    send.send_response(2);
    assert!(handle.poll_request().is_pending());
    assert_eq!((a1.await.unwrap(), b1.await.unwrap()), (1, 2));
    assert_eq!((keyed.in_flight_total(), keyed.rejected_total()), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn keyed_bulkhead_bounds_partitions_and_drops_idle_ones() {
    let layer = BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::MIN)
        .keyed(|req: &&'static str| Some(*req))
        .max_keys(NonZeroUsize::MIN)
        .build()
        .unwrap();
    let keyed = layer.handle();
    let (mock, mut handle) = mock::pair::<&str, &str>();
    let mut svc = layer.layer(mock);

    let a = svc.ready().await.unwrap().call("a");
    let mut b = Box::pin(svc.ready().await.unwrap().call("b"));
    let full = expect_full(poll_once(&mut b));
    assert_eq!(full.reason(), Reason::TooManyPartitions { max_keys: 1 });

    let (_, send) = handle.next_request().await.unwrap();
    send.send_response("a");
    assert_eq!(a.await.unwrap(), "a");

    // "a" is idle now, so it makes room for "b".
    let b = svc.ready().await.unwrap().call("b");
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, "b");
    send.send_response("b");
    assert_eq!(b.await.unwrap(), "b");
    assert_eq!(keyed.partitions(), 1);
}

#[tokio::test]
async fn keyed_bulkhead_refuses_a_request_without_a_key() {
    let layer = BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::MIN)
        .keyed(|req: &&'static str| (!req.is_empty()).then_some(*req))
        .build()
        .unwrap();
    let keyed = layer.handle();
    let (mock, _handle) = mock::pair::<&str, &str>();
    let err = layer.layer(mock).oneshot("").await.unwrap_err();
    assert!(err.is::<palisade_resilience::key::MissingKey>());
    assert_eq!(keyed.partitions(), 0);
}

#[test]
fn configuration_is_validated() {
    assert!(matches!(
        BulkheadLayer::builder()
            .max_concurrent(NonZeroUsize::MAX)
            .build()
            .unwrap_err(),
        ConfigError::OutOfRange { .. }
    ));
    // `new` cannot fail: a bound above tokio's limit is lowered to it.
    assert_eq!(
        BulkheadLayer::new(NonZeroUsize::MAX)
            .handle()
            .max_concurrent(),
        tokio::sync::Semaphore::MAX_PERMITS
    );
    // A zero max_wait is allowed: it means "do not wait".
    let layer = BulkheadLayer::builder()
        .max_waiters(5)
        .max_wait(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(layer.handle().max_waiters(), 0);
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn rejections_and_in_flight_are_reported_as_metrics() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // The gauge handle is taken when the layer is built.
    let layer = metrics::with_local_recorder(&recorder, || {
        BulkheadLayer::builder()
            .max_concurrent(NonZeroUsize::MIN)
            .name("db")
            .build()
            .unwrap()
    });
    let (mock, _handle) = mock::pair::<&str, &str>();
    let mut svc = layer.layer(mock);
    let running = svc.ready().await.unwrap().call("running");
    svc.ready().await.unwrap();
    let mut rejected = Box::pin(metrics::with_local_recorder(&recorder, || svc.call("x")));
    expect_full(poll_once(&mut rejected));

    let metrics: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key().clone();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect();
    assert!(
        metrics.contains(&(
            "palisade_bulkhead_rejected_total".to_owned(),
            vec!["name=db".to_owned(), "reason=queue_full".to_owned()],
            DebugValue::Counter(1)
        )),
        "{metrics:?}"
    );
    assert!(
        metrics.contains(&(
            "palisade_bulkhead_in_flight".to_owned(),
            vec!["name=db".to_owned()],
            DebugValue::Gauge(1.0.into())
        )),
        "{metrics:?}"
    );
    drop(running);
}

#[test]
fn services_are_send_sync_and_futures_send() {
    use palisade_resilience::bulkhead::{Bulkhead, KeyedBulkhead};
    type Mock = mock::Mock<String, String>;
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Bulkhead<Mock>>();
    assert_send::<<Bulkhead<Mock> as Service<String>>::Future>();
    type Keyed = KeyedBulkhead<Mock, fn(&String) -> Option<usize>, usize>;
    assert_send_sync::<Keyed>();
    assert_send::<<Keyed as Service<String>>::Future>();
}

#[cfg(feature = "health")]
#[tokio::test(start_paused = true)]
async fn handle_reports_health() {
    use palisade_resilience::health::{HealthRegistry, Status};

    let layer = BulkheadLayer::new(NonZeroUsize::MIN);
    let registry = HealthRegistry::new();
    registry.register("db", layer.handle());
    assert_eq!(registry.check().status, Status::Healthy);

    let (mock, _handle) = mock::pair::<&str, &str>();
    let mut svc = layer.layer(mock);
    let running = svc.ready().await.unwrap().call("busy");
    let report = registry.check();
    assert_eq!(report.status, Status::Degraded);
    assert_eq!(report.components[0].health.in_flight, Some(1));
    drop(running);
    assert_eq!(registry.check().status, Status::Healthy);
}
