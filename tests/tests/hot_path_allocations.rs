//! The layers promise an allocation-free hot path: a closed breaker, a call
//! that needs no retry, an admitted bulkhead or rate-limited call, a timeout
//! that does not fire. This test counts the heap allocations of many such
//! calls (on this thread, after a warm-up) and expects none.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::num::{NonZeroU32, NonZeroUsize};
use std::task::{Context, Poll};
use std::time::Duration;

use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow};
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use palisade_resilience::retry::RetryLayer;
use palisade_resilience::timeout::TimeoutLayer;
use tower::{Layer, Service, ServiceExt};

/// Always ready, answers at once: whatever allocates is the layer's.
#[derive(Debug, Clone, Copy)]
struct Echo;

impl Service<u64> for Echo {
    type Response = u64;
    type Error = Infallible;
    type Future = Ready<Result<u64, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        ready(Ok(req))
    }
}

/// Allocations made by `calls` calls through `service`, after a warm-up
/// (the runtime's and the layer's one-off setup is not the hot path).
fn allocations<S>(mut service: S, calls: u64) -> u64
where
    S: Service<u64, Response = u64>,
    S::Error: std::fmt::Debug,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut run = |n: u64| {
        rt.block_on(async {
            for i in 0..n {
                let answer = service.ready().await.unwrap().call(i).await.unwrap();
                assert_eq!(answer, i);
            }
        });
    };
    run(64);
    allocation_counter::measure(|| run(calls)).count_total
}

#[test]
fn a_closed_breaker_with_a_count_window_allocates_nothing() {
    let layer = CircuitBreakerLayer::builder()
        .sliding_window(SlidingWindow::count(100))
        .build()
        .unwrap();
    assert_eq!(allocations(layer.layer(Echo), 10_000), 0);
}

#[test]
fn a_closed_breaker_with_a_time_window_and_slow_calls_allocates_nothing() {
    let layer = CircuitBreakerLayer::builder()
        .sliding_window(SlidingWindow::time(Duration::from_secs(60), 10))
        .slow_call_duration(Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(allocations(layer.layer(Echo), 10_000), 0);
}

#[test]
fn a_call_that_needs_no_retry_allocates_nothing() {
    let layer = RetryLayer::builder().build().unwrap();
    assert_eq!(allocations(layer.layer(Echo), 10_000), 0);
}

#[test]
fn an_admitted_bulkhead_call_allocates_nothing() {
    let layer = BulkheadLayer::new(NonZeroUsize::new(16).unwrap());
    assert_eq!(allocations(layer.layer(Echo), 10_000), 0);
}

#[test]
fn an_allowed_global_rate_limited_call_allocates_nothing() {
    let layer = RateLimitLayer::global(Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap()));
    assert_eq!(allocations(layer.layer(Echo), 10_000), 0);
}

#[test]
fn a_timeout_that_does_not_fire_allocates_nothing() {
    let layer = TimeoutLayer::new(Duration::from_secs(5));
    assert_eq!(allocations(layer.layer(Echo), 10_000), 0);
}

#[test]
fn a_healthy_outlier_endpoint_allocates_nothing() {
    let detector = palisade_resilience::outlier::OutlierDetector::builder()
        // Interval judgements (a small Vec of the pool) run within the calls.
        .interval(Duration::from_secs(3_600))
        .build()
        .unwrap();
    let _peer = detector.layer(Echo);
    assert_eq!(allocations(detector.layer(Echo), 10_000), 0);
}

/// The control: a service that boxes its future on every call is counted, so
/// the zeros above are measurements, not a counter that never counts.
#[test]
fn the_counter_sees_a_boxed_future_per_call() {
    let boxed = tower::util::BoxService::new(Echo);
    assert_eq!(allocations(boxed, 1_000), 1_000);
}
