//! The adaptive concurrency limit beside its peers, on the path where the
//! limit is never reached (one caller, or two threads):
//!
//! - `adaptive_limit`: one caller at a time; palisade's `AdaptiveLimitLayer`
//!   (AIMD, Vegas, Gradient2) vs tower 0.5's `ConcurrencyLimit` (a fixed
//!   limit) and tower-resilience 0.13's `AdaptiveLimiterLayer` with AIMD.
//! - `adaptive_limit_two_threads`: two std threads calling clones of one
//!   layer at once, time per call as one thread sees it.
//!
//! Allocations per call are printed before each measurement of the first
//! group.
#![allow(missing_docs)]

use std::num::NonZeroUsize;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_benches::{Noop, bench_service, current_thread, drive_threads};
use palisade_resilience::adaptive::{AdaptiveLimitLayer, Aimd, Algorithm, Gradient2, Vegas};
use tower::Layer;

/// High enough that no contender ever limits: the benches measure the cost
/// of the bookkeeping, not of waiting.
const LIMIT: usize = 1_000;
const THREADS: usize = 2;

fn ours(algorithm: impl Into<Algorithm>) -> AdaptiveLimitLayer {
    AdaptiveLimitLayer::builder()
        .algorithm(algorithm)
        .initial_limit(NonZeroUsize::new(LIMIT).expect("non-zero"))
        .limits(
            NonZeroUsize::MIN,
            NonZeroUsize::new(LIMIT).expect("non-zero"),
        )
        .build()
        .expect("valid adaptive limit")
}

fn peer_aimd() -> tower_resilience::adaptive::AdaptiveLimiterLayer<tower_resilience::adaptive::Aimd>
{
    tower_resilience::adaptive::AdaptiveLimiterLayer::new(
        tower_resilience::adaptive::Aimd::builder()
            .initial_limit(LIMIT)
            .min_limit(1)
            .max_limit(LIMIT)
            .latency_threshold(Duration::from_secs(5))
            .build()
            .expect("valid AIMD"),
    )
}

fn adaptive_limit(c: &mut Criterion) {
    const GROUP: &str = "adaptive_limit";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    let tower_fixed = tower::limit::ConcurrencyLimitLayer::new(LIMIT);
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_concurrency_limit",
        tower_fixed.layer(Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade_aimd",
        ours(Aimd::default()).layer(Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade_vegas",
        ours(Vegas::default()).layer(Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade_gradient2",
        ours(Gradient2::default()).layer(Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_resilience_aimd",
        peer_aimd().layer(Noop),
    );
    group.finish();
}

fn adaptive_limit_two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("adaptive_limit_two_threads");
    group.bench_function("no_layer", |b| {
        b.iter_custom(|iters| drive_threads(&Noop, THREADS, iters));
    });
    let tower_fixed = tower::limit::ConcurrencyLimitLayer::new(LIMIT).layer(Noop);
    group.bench_function("tower_concurrency_limit", |b| {
        b.iter_custom(|iters| drive_threads(&tower_fixed, THREADS, iters));
    });
    let aimd = ours(Aimd::default()).layer(Noop);
    group.bench_function("palisade_aimd", |b| {
        b.iter_custom(|iters| drive_threads(&aimd, THREADS, iters));
    });
    let peer = peer_aimd().layer(Noop);
    group.bench_function("tower_resilience_aimd", |b| {
        b.iter_custom(|iters| drive_threads(&peer, THREADS, iters));
    });
    group.finish();
}

criterion_group!(benches, adaptive_limit, adaptive_limit_two_threads);
criterion_main!(benches);
