//! The local layers' cost per call, peers side by side: bulkhead, rate limit
//! (never limiting), keyed rate limit over 10,000 keys, timeout; then the
//! Redis limiter's round trip on loopback (median and p99), skipped with a
//! message when Redis is not reachable at `PALISADE_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`).
//!
//! Every contender answers a trivial inner service on a current-thread
//! runtime, driven by `palisade_benches::drive` (`ready().await` +
//! `call().await`). Allocations per call are printed before each measurement.
#![allow(missing_docs)]
#![allow(clippy::disallowed_methods)] // the Redis round trip is timed by hand

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_benches::peers::{BareGovernor, BareGovernorKeyed, BareGovernorStateInfo};
use palisade_benches::{
    ALLOCATION_CALLS, Noop, allocations_per_call, bench_service, current_thread, drive,
    report_allocations,
};
use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::rate_limit::redis::{FailurePolicy, RedisRateLimitLayer, lazy_connection};
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use palisade_resilience::timeout::TimeoutLayer;
use tower::limit::{ConcurrencyLimit, RateLimit, rate::Rate};
use tower::timeout::Timeout;
use tower::{Layer, Service, ServiceExt};

/// Room for every call in flight, for every concurrency limiter.
const MAX_CONCURRENT: usize = 1_000;
/// A rate no run gets close to.
const BILLION: u32 = 1_000_000_000;
/// [`BILLION`] for the quota constructors.
const NZ_BILLION: NonZeroU32 = match NonZeroU32::new(BILLION) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};
/// Distinct keys the keyed limiters cycle through.
const KEYS: u64 = 10_000;
/// A timeout that never fires.
const TIMEOUT: Duration = Duration::from_secs(30);

fn bulkhead(c: &mut Criterion) {
    const GROUP: &str = "bulkhead";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    let ours = BulkheadLayer::new(NonZeroUsize::new(MAX_CONCURRENT).expect("non-zero"));
    bench_service(&mut group, GROUP, &rt, "palisade", ours.layer(Noop));
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_concurrency_limit",
        ConcurrencyLimit::new(Noop, MAX_CONCURRENT),
    );
    let peer = tower_resilience::bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(MAX_CONCURRENT)
        .build()
        .expect("valid tower-resilience bulkhead");
    bench_service(&mut group, GROUP, &rt, "tower_resilience", peer.layer(Noop));
    group.finish();
}

fn rate_limit(c: &mut Criterion) {
    const GROUP: &str = "rate_limit";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    let ours = RateLimitLayer::global(Quota::per_second(NZ_BILLION));
    bench_service(&mut group, GROUP, &rt, "palisade_global", ours.layer(Noop));
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_rate_limit",
        RateLimit::new(Noop, Rate::new(u64::from(BILLION), Duration::from_secs(1))),
    );
    let peer = tower_resilience::ratelimiter::RateLimiterLayer::builder()
        .limit_for_period(BILLION as usize)
        .refresh_period(Duration::from_secs(1))
        .build()
        .expect("valid tower-resilience rate limiter");
    bench_service(&mut group, GROUP, &rt, "tower_resilience", peer.layer(Noop));
    bench_service(&mut group, GROUP, &rt, "governor_bare", BareGovernor::new());
    // Diagnostic: bare governor plus the state-information middleware ours uses.
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "governor_bare_state_info",
        BareGovernorStateInfo::new(),
    );
    group.finish();
}

/// 10,000 distinct keys, cycled through; each limiter sees every key once
/// before anything is counted or timed, so the map is warm.
fn rate_limit_keyed(c: &mut Criterion) {
    const GROUP: &str = "rate_limit_keyed_10k";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);

    // One cell a second, a burst of a billion: never limits. Room for twice
    // the keys (the map's shards fill unevenly), so no key is ever evicted
    // and the map, like governor's, holds all 10,000.
    let quota = Quota::per_second(NonZeroU32::MIN)
        .burst(NZ_BILLION)
        .expect("a burst within a century");
    let room = std::num::NonZeroUsize::new(2 * KEYS as usize).expect("non-zero");
    let ours = RateLimitLayer::builder(quota)
        .keyed(|req: &u64| Some(*req % KEYS))
        .max_keys(room)
        .build();
    let mut svc = ours.layer(Noop);
    rt.block_on(drive(&mut svc, KEYS));
    bench_service(&mut group, GROUP, &rt, "palisade_keyed", svc);

    let mut bare = BareGovernorKeyed::new(KEYS);
    rt.block_on(drive(&mut bare, KEYS));
    bench_service(&mut group, GROUP, &rt, "governor_bare_keyed", bare);
    group.finish();
}

fn timeout(c: &mut Criterion) {
    const GROUP: &str = "timeout";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    let ours = TimeoutLayer::new(TIMEOUT);
    bench_service(&mut group, GROUP, &rt, "palisade", ours.layer(Noop));
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_timeout",
        Timeout::new(Noop, TIMEOUT),
    );
    let peer = tower_resilience::timelimiter::TimeLimiterLayer::builder()
        .timeout_duration(TIMEOUT)
        .build();
    bench_service(&mut group, GROUP, &rt, "tower_resilience", peer.layer(Noop));
    group.finish();
}

/// The Redis limiter's round trip on loopback: every call's latency goes into
/// a Vec, which is sorted for the median and the 99th percentile.
fn redis_round_trip(_: &mut Criterion) {
    const GROUP: &str = "redis";
    const WARM_UP: u64 = 1_000;
    const CALLS: usize = 20_000;
    let url = std::env::var("PALISADE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    // The connection needs the I/O driver as well as timers.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("redis: skipped, no runtime with I/O: {err}");
            return;
        }
    };
    let _guard = rt.enter();
    let conn = match lazy_connection(&url, Duration::from_millis(500)) {
        Ok(conn) => conn,
        Err(err) => {
            eprintln!("redis: skipped, no connection to {url}: {err}");
            return;
        }
    };
    // A microsecond per cell and a second of burst: never limits here.
    let layer = RedisRateLimitLayer::builder(
        conn,
        Quota::per_second(NonZeroU32::new(1_000_000).expect("non-zero")),
        |req: &u64| Some(*req % 100),
    )
    .prefix("palisade:bench:")
    .timeout(Duration::from_millis(500))
    .failure_policy(FailurePolicy::FailClosed)
    .build()
    .expect("valid Redis limiter");
    let mut svc = layer.layer(Noop);
    let probe = rt.block_on(async { svc.ready().await?.call(0).await });
    if let Err(err) = probe {
        eprintln!("redis: skipped, Redis at {url} is unreachable: {err}");
        return;
    }
    rt.block_on(drive(&mut svc, WARM_UP));
    let allocations = allocations_per_call(&rt, &mut svc, ALLOCATION_CALLS);
    report_allocations(GROUP, "palisade_redis", allocations);

    let mut latencies = Vec::with_capacity(CALLS);
    let mut errors = 0_usize;
    rt.block_on(async {
        for i in 0..CALLS as u64 {
            let start = Instant::now();
            let result = match svc.ready().await {
                Ok(ready) => ready.call(i).await,
                Err(err) => Err(err),
            };
            latencies.push(start.elapsed());
            errors += usize::from(result.is_err());
        }
    });
    latencies.sort_unstable();
    let median = latencies[CALLS / 2];
    let p99 = latencies[CALLS * 99 / 100];
    eprintln!(
        "redis/palisade_redis: {CALLS} calls, median {:.1} µs, p99 {:.1} µs, max {:.1} µs, {errors} errors",
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        latencies[CALLS - 1].as_secs_f64() * 1e6,
    );
}

criterion_group!(
    benches,
    bulkhead,
    rate_limit,
    rate_limit_keyed,
    timeout,
    redis_round_trip
);
criterion_main!(benches);
