//! Retry cost per call when no retry is needed, peers side by side: ours
//! (default, with its retry budget, and with the budget off) against no layer,
//! tower's `Retry` with the smallest policy and with a `TpsBudget` policy, and
//! tower-resilience 0.13's retry.
//!
//! Every contender answers a trivial inner service on a current-thread
//! runtime, driven by `palisade_benches::drive` (`ready().await` +
//! `call().await`). Allocations per call are printed before each measurement.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_benches::peers::{BudgetRetry, NoRetry};
use palisade_benches::{Noop, NoopError, bench_service, current_thread};
use palisade_resilience::retry::RetryLayer;
use tower::Layer;
use tower::retry::Retry;

fn retry(c: &mut Criterion) {
    const GROUP: &str = "retry";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);

    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    let ours = RetryLayer::builder().build().expect("valid retry layer");
    bench_service(&mut group, GROUP, &rt, "palisade_default", ours.layer(Noop));
    let no_budget = RetryLayer::builder()
        .no_budget()
        .build()
        .expect("valid retry layer");
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "palisade_no_budget",
        no_budget.layer(Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_retry_minimal",
        Retry::new(NoRetry, Noop),
    );
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_retry_tps_budget",
        Retry::new(BudgetRetry::new(), Noop),
    );
    let peer = tower_resilience::retry::RetryLayer::<u64, u64, NoopError>::builder()
        .max_attempts(3)
        .build();
    bench_service(&mut group, GROUP, &rt, "tower_resilience", peer.layer(Noop));
    group.finish();
}

criterion_group!(benches, retry);
criterion_main!(benches);
