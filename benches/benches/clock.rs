//! What one clock read costs: `tokio::time::Instant::now()` (a
//! `clock_gettime` through the vDSO) against our `Clock` over tokio and over
//! the TSC (quanta). The reason for `docs/decisions/0001-cheap-clock.md`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_resilience::clock::Clock;

fn clock(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock");
    group.bench_function("tokio_instant_now", |b| {
        b.iter(|| black_box(tokio::time::Instant::now()));
    });
    let tokio = Clock::tokio();
    group.bench_function("palisade_tokio", |b| {
        b.iter(|| black_box(tokio.now_nanos()))
    });
    let quanta = Clock::quanta();
    group.bench_function("palisade_quanta", |b| {
        b.iter(|| black_box(quanta.now_nanos()));
    });
    group.finish();
}

criterion_group!(benches, clock);
criterion_main!(benches);
