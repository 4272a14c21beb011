//! Coalescing, hedging and client-side throttling, peers side by side:
//!
//! - `coalesce_single`: one caller at a time (no sharing possible), the cost
//!   of the layer on the leader path; palisade vs tower-resilience 0.13's
//!   `coalesce`.
//! - `coalesce_burst`: 100 concurrent identical calls to an inner service
//!   that yields once, so 99 of them join the first; time per call.
//! - `hedge_not_needed`: every call answers at once, so no hedge is sent;
//!   palisade (fixed delay, percentile delay) vs tower 0.5's `Hedge`.
//! - `throttle`: the healthy path (nothing refused); no peer has the feature.
//!
//! Allocations per call are printed before each measurement.
#![allow(missing_docs)]
#![allow(clippy::disallowed_methods)] // the bursts are timed by hand

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_benches::{
    ALLOCATION_CALLS, Noop, NoopError, bench_service, current_thread, report_allocations,
};
use palisade_resilience::coalesce::CoalesceLayer;
use palisade_resilience::hedge::{HedgeDelay, HedgeLayer};
use palisade_resilience::throttle::ThrottleLayer;
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt, service_fn};

/// Callers per burst in `coalesce_burst`.
const BURST: usize = 100;

fn coalesce_single(c: &mut Criterion) {
    const GROUP: &str = "coalesce_single";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    let ours = CoalesceLayer::new(|req: &u64| Some(*req));
    bench_service(&mut group, GROUP, &rt, "palisade", ours.layer(Noop));
    let peer = tower_resilience::coalesce::CoalesceLayer::new(|req: &u64| *req);
    bench_service(&mut group, GROUP, &rt, "tower_resilience", peer.layer(Noop));
    group.finish();
}

/// An inner service that yields once before answering, so that concurrent
/// callers overlap.
fn yielding() -> impl Service<u64, Response = u64, Error = NoopError, Future: Send> + Clone + Send {
    service_fn(|req: u64| async move {
        tokio::task::yield_now().await;
        Ok::<_, NoopError>(req)
    })
}

/// Runs `iters / BURST` bursts of `BURST` identical calls, polled round-robin
/// on one task, and returns the time taken.
async fn bursts<S>(svc: &S, iters: u64) -> Duration
where
    S: Service<u64> + Clone,
{
    let bursts = (iters / BURST as u64).max(1);
    let start = Instant::now();
    for burst in 0..bursts {
        let mut calls: Vec<Pin<Box<_>>> = (0..BURST)
            .map(|_| Box::pin(svc.clone().oneshot(burst)))
            .collect();
        let mut done = [false; BURST];
        poll_fn(|cx| {
            let mut pending = false;
            for (call, done) in calls.iter_mut().zip(done.iter_mut()) {
                if !*done {
                    match call.as_mut().poll(cx) {
                        Poll::Ready(result) => {
                            *done = true;
                            std::hint::black_box(result.is_ok());
                        }
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }
    start.elapsed()
}

fn bench_burst<S>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    id: &str,
    svc: &S,
) where
    S: Service<u64> + Clone,
{
    let info = allocation_counter::measure(|| {
        rt.block_on(bursts(svc, ALLOCATION_CALLS));
    });
    #[allow(clippy::cast_precision_loss)]
    report_allocations(
        "coalesce_burst",
        id,
        info.count_total as f64 / ALLOCATION_CALLS as f64,
    );
    group.bench_function(id, |b| {
        b.iter_custom(|iters| rt.block_on(bursts(svc, iters)))
    });
}

fn coalesce_burst(c: &mut Criterion) {
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group("coalesce_burst");
    group.throughput(criterion::Throughput::Elements(1));
    bench_burst(&mut group, &rt, "no_layer", &yielding());
    let ours = CoalesceLayer::new(|req: &u64| Some(*req)).layer(yielding());
    bench_burst(&mut group, &rt, "palisade", &ours);
    let peer = tower_resilience::coalesce::CoalesceLayer::new(|req: &u64| *req).layer(yielding());
    bench_burst(&mut group, &rt, "tower_resilience", &peer);
    group.finish();
}

/// tower's hedge policy: every request may be hedged.
#[derive(Clone)]
struct HedgeEvery;

impl tower::hedge::Policy<u64> for HedgeEvery {
    fn clone_request(&self, req: &u64) -> Option<u64> {
        Some(*req)
    }

    fn can_retry(&self, _: &u64) -> bool {
        true
    }
}

fn hedge_not_needed(c: &mut Criterion) {
    const GROUP: &str = "hedge_not_needed";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    let fixed = HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(10)))
        .build()
        .expect("valid hedge");
    bench_service(&mut group, GROUP, &rt, "palisade_fixed", fixed.layer(Noop));
    let percentile = HedgeLayer::builder(HedgeDelay::percentile(95.0, Duration::from_secs(10)))
        .build()
        .expect("valid hedge");
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade_p95",
        percentile.layer(Noop),
    );
    let tower_hedge =
        tower::hedge::Hedge::new::<u64>(Noop, HedgeEvery, 10, 0.95, Duration::from_secs(10));
    bench_service(&mut group, GROUP, &rt, "tower_hedge_p95", tower_hedge);
    group.finish();
}

fn throttle(c: &mut Criterion) {
    const GROUP: &str = "throttle";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade",
        ThrottleLayer::new().layer(Noop),
    );
    group.finish();
}

criterion_group!(
    benches,
    coalesce_single,
    coalesce_burst,
    hedge_not_needed,
    throttle
);
criterion_main!(benches);
