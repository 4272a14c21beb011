//! Circuit breaker cost per call, peers side by side: our breaker (count
//! window; count window with slow-call detection; time window) against no
//! layer, tower's `ConcurrencyLimit` and `Retry` (the cheapest tower layers
//! with shared state), tower-resilience 0.13's circuit breaker and failsafe
//! 1.3; then a time window already holding many calls, and two threads
//! hammering one breaker.
//!
//! Every contender answers a trivial inner service on a current-thread
//! runtime, driven by `palisade_benches::drive` (`ready().await` +
//! `call().await`). Allocations per call are printed before each measurement.
#![allow(missing_docs)]

use std::future::ready;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_benches::peers::NoRetry;
use palisade_benches::{
    ALLOCATION_CALLS, Noop, NoopError, allocations_per_call_fn, bench_service, current_thread,
    drive, drive_fn, drive_threads, report_allocations,
};
use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow};
use tower::Layer;
use tower::limit::ConcurrencyLimit;
use tower::retry::Retry;

/// tower's `ConcurrencyLimit` is given room for every call in flight.
const MAX_CONCURRENT: usize = 1_000;

fn count_window() -> CircuitBreakerLayer {
    CircuitBreakerLayer::builder()
        .name("bench")
        .sliding_window(SlidingWindow::count(100))
        .build()
        .expect("valid breaker")
}

fn count_window_slow_calls() -> CircuitBreakerLayer {
    CircuitBreakerLayer::builder()
        .name("bench")
        .sliding_window(SlidingWindow::count(100))
        .slow_call_duration(Duration::from_secs(1))
        .slow_call_rate_threshold(50.0)
        .build()
        .expect("valid breaker")
}

fn time_window(window: Duration) -> CircuitBreakerLayer {
    CircuitBreakerLayer::builder()
        .name("bench")
        .sliding_window(SlidingWindow::time(window, 60))
        .build()
        .expect("valid breaker")
}

fn tower_resilience_breaker() -> tower_resilience::circuitbreaker::CircuitBreakerLayer {
    tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .name("bench")
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .build()
        .expect("valid tower-resilience breaker")
}

fn breaker(c: &mut Criterion) {
    const GROUP: &str = "breaker";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);

    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade_count",
        count_window().layer(Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade_count_slow_call",
        count_window_slow_calls().layer(Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade_time",
        time_window(Duration::from_secs(60)).layer(Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_concurrency_limit",
        ConcurrencyLimit::new(Noop, MAX_CONCURRENT),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_retry_no_retry",
        Retry::new(NoRetry, Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_resilience",
        tower_resilience_breaker().layer(Noop),
    );

    // failsafe is not a tower service: its breaker wraps a future.
    {
        use failsafe::futures::CircuitBreaker as _;
        let breaker = failsafe::Config::new().build();
        let call = |i: u64| breaker.call(ready(Ok::<u64, NoopError>(i)));
        report_allocations(
            GROUP,
            "failsafe",
            allocations_per_call_fn(&rt, call, ALLOCATION_CALLS),
        );
        group.bench_function("failsafe", |b| {
            b.iter_custom(|iters| rt.block_on(drive_fn(call, iters)));
        });
    }
    group.finish();
}

/// A time window that already holds `filled` calls (an hour long, so none
/// leaves it during the run): the cost per call must not depend on `filled`.
fn breaker_time_window_filled(c: &mut Criterion) {
    const GROUP: &str = "breaker_time_window_filled";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    for filled in [1_000_u64, 100_000] {
        let mut svc = time_window(Duration::from_secs(3_600)).layer(Noop);
        rt.block_on(drive(&mut svc, filled));
        bench_service(
            &mut group,
            GROUP,
            &rt,
            &format!("palisade_time_{filled}"),
            svc,
        );
    }
    group.finish();
}

/// Two std threads, each with its own current-thread runtime and a clone of
/// one shared service; the time is per call on one thread.
fn breaker_two_threads(c: &mut Criterion) {
    const THREADS: usize = 2;
    let mut group = c.benchmark_group("breaker_two_threads");
    group.bench_function("no_layer", |b| {
        b.iter_custom(|iters| drive_threads(&Noop, THREADS, iters));
    });
    let count = count_window().layer(Noop);
    group.bench_function("palisade_count", |b| {
        b.iter_custom(|iters| drive_threads(&count, THREADS, iters));
    });
    let slow = count_window_slow_calls().layer(Noop);
    group.bench_function("palisade_count_slow_call", |b| {
        b.iter_custom(|iters| drive_threads(&slow, THREADS, iters));
    });
    let time = time_window(Duration::from_secs(60)).layer(Noop);
    group.bench_function("palisade_time", |b| {
        b.iter_custom(|iters| drive_threads(&time, THREADS, iters));
    });
    let limit = ConcurrencyLimit::new(Noop, MAX_CONCURRENT);
    group.bench_function("tower_concurrency_limit", |b| {
        b.iter_custom(|iters| drive_threads(&limit, THREADS, iters));
    });
    let peer = tower_resilience_breaker().layer(Noop);
    group.bench_function("tower_resilience", |b| {
        b.iter_custom(|iters| drive_threads(&peer, THREADS, iters));
    });
    group.finish();
}

criterion_group!(
    benches,
    breaker,
    breaker_time_window_filled,
    breaker_two_threads
);
criterion_main!(benches);
