//! `HedgeLayer`: hedged tail latency, bounded extra load, dropped losers.
#![cfg(feature = "hedge")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::hedge::{HedgeDelay, HedgeLayer};
use palisade_resilience::retry::RetryBudget;
use palisade_resilience::{BoxError, ConfigError};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

#[derive(Default)]
struct Counts {
    calls: AtomicUsize,
    /// Inner futures dropped before they answered: the losers.
    dropped: AtomicUsize,
}

struct Unfinished(Arc<Counts>, bool);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.1 {
            self.0.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// An upstream whose `n`th call (from 0) takes `latency(n)`, then answers
/// `n` (or fails when `fails(n)`).
fn upstream(
    latency: impl Fn(usize) -> Duration + Send + Sync + Clone + 'static,
    fails: impl Fn(usize) -> bool + Send + Sync + Clone + 'static,
) -> (
    Arc<Counts>,
    impl Service<u32, Response = usize, Error = BoxError, Future: Send> + Clone,
) {
    let counts = Arc::new(Counts::default());
    let seen = Arc::clone(&counts);
    let svc = service_fn(move |_: u32| {
        let n = seen.calls.fetch_add(1, Ordering::SeqCst);
        let guard = Unfinished(Arc::clone(&seen), false);
        let (delay, fail) = (latency(n), fails(n));
        async move {
            let mut guard = guard;
            tokio::time::sleep(delay).await;
            guard.1 = true;
            if fail {
                Err(BoxError::from(format!("call {n} failed")))
            } else {
                Ok(n)
            }
        }
    });
    (counts, svc)
}

/// 95 % of calls take 10 ms, 5 % (every 20th) take 1 s.
fn long_tail(n: usize) -> Duration {
    if n % 20 == 19 {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(10)
    }
}

fn never(_: usize) -> bool {
    false
}

/// Latencies of `calls` sequential calls.
async fn latencies<S>(svc: &S, calls: usize) -> Vec<Duration>
where
    S: Service<u32, Response = usize, Error = BoxError> + Clone,
{
    let mut seen = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        svc.clone().oneshot(0).await.unwrap();
        seen.push(start.elapsed());
    }
    seen.sort();
    seen
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() * 99 / 100 - 1]
}

#[tokio::test(start_paused = true)]
async fn hedging_cuts_the_p99_of_a_long_tail_within_the_budget() {
    // Without hedging, the slowest 5 % make the p99.
    let (_, plain) = upstream(long_tail, never);
    assert_eq!(p99(&latencies(&plain, 2_000).await), Duration::from_secs(1));

    let ratio = 0.1;
    let layer = HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(20)))
        .budget(RetryBudget::new(Duration::from_secs(10), 0, ratio))
        .build()
        .unwrap();
    let handle = layer.handle();
    let (counts, inner) = upstream(long_tail, never);
    let hedged = layer.layer(inner);
    let seen = latencies(&hedged, 2_000).await;

    assert!(
        p99(&seen) < Duration::from_millis(50),
        "p99 {:?}",
        p99(&seen)
    );
    assert!(*seen.last().unwrap() <= Duration::from_millis(30));
    // Each slow first attempt was hedged once and lost to its hedge.
    let sent = handle.hedges_sent();
    assert!(sent >= 90, "{sent} hedges for about 5 % of 2,000 calls");
    assert_eq!(handle.hedges_won(), sent);
    assert_eq!(
        counts.dropped.load(Ordering::SeqCst) as u64,
        sent,
        "losers are dropped"
    );
    // Extra load stays within the configured share.
    let extra = counts.calls.load(Ordering::SeqCst) - 2_000;
    assert_eq!(extra as u64, sent);
    assert!(extra as f64 <= ratio * 2_000.0, "{extra} extra calls");
    assert_eq!(handle.budget_exhausted(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_hedges_only_the_slowest_calls() {
    let layer = HedgeLayer::builder(HedgeDelay::percentile(90.0, Duration::from_secs(5)))
        .budget(RetryBudget::new(Duration::from_secs(10), 0, 0.1))
        .build()
        .unwrap();
    let handle = layer.handle();
    let (counts, inner) = upstream(long_tail, never);
    let hedged = layer.layer(inner);

    // Nothing is hedged before 20 latencies are known.
    assert_eq!(handle.delay(), None);
    let warm_up = latencies(&hedged, 20).await;
    assert_eq!(handle.hedges_sent(), 0);
    assert_eq!(*warm_up.last().unwrap(), Duration::from_secs(1));
    let delay = handle.delay().expect("a delay once 20 latencies are known");
    assert!(
        delay > Duration::from_millis(10) && delay < Duration::from_millis(13),
        "{delay:?}"
    );

    let seen = latencies(&hedged, 2_000).await;
    assert!(
        p99(&seen) < Duration::from_millis(50),
        "p99 {:?}",
        p99(&seen)
    );
    let sent = handle.hedges_sent();
    assert!(sent > 0);
    assert_eq!(counts.dropped.load(Ordering::SeqCst) as u64, sent);
    assert!((sent as f64) <= 0.1 * 2_020.0, "{sent} hedges");
}

#[tokio::test(start_paused = true)]
async fn an_average_plus_delay_hedges_calls_slower_than_the_average_plus_the_margin() {
    let layer = HedgeLayer::builder(HedgeDelay::average_plus(50.0, Duration::from_secs(60)))
        .no_budget()
        .build()
        .unwrap();
    let handle = layer.handle();
    // Calls take 10 ms, but call 20 takes 14 ms and call 21 hangs for a second.
    let (counts, inner) = upstream(
        |n| match n {
            20 => Duration::from_millis(14),
            21 => Duration::from_secs(1),
            _ => Duration::from_millis(10),
        },
        never,
    );
    let svc = layer.layer(inner);

    // Nothing is hedged before 20 latencies are known.
    assert_eq!(handle.delay(), None);
    let _ = latencies(&svc, 20).await;
    assert_eq!(handle.hedges_sent(), 0);
    // The average, 10 ms, plus 50 %.
    assert_eq!(handle.delay(), Some(Duration::from_millis(15)));

    // Within the margin: not hedged.
    let start = Instant::now();
    assert_eq!(svc.clone().oneshot(0).await.unwrap(), 20);
    assert_eq!(start.elapsed(), Duration::from_millis(14));
    assert_eq!(handle.hedges_sent(), 0);

    // Slower: hedged at 15 ms and answered by the hedge 10 ms later.
    let start = Instant::now();
    assert_eq!(svc.oneshot(0).await.unwrap(), 22);
    assert_eq!(start.elapsed(), Duration::from_millis(25));
    assert_eq!((handle.hedges_sent(), handle.hedges_won()), (1, 1));
    assert_eq!(counts.dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_stops_hedging() {
    // Every call is slow: hedging cannot help, and the budget caps the cost.
    let layer = HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(10)))
        .budget(RetryBudget::new(Duration::from_secs(10), 0, 0.05))
        .build()
        .unwrap();
    let handle = layer.handle();
    let (counts, inner) = upstream(|_| Duration::from_millis(100), never);
    let hedged = layer.layer(inner);
    let _ = latencies(&hedged, 1_000).await;
    let sent = handle.hedges_sent();
    assert!(sent <= 50, "{sent} hedges, 5 % of 1,000 calls allowed");
    assert!(sent >= 40, "{sent}: the budget is spent as it is earned");
    assert_eq!(counts.calls.load(Ordering::SeqCst) as u64, 1_000 + sent);
    assert_eq!(handle.budget_exhausted(), 1_000 - sent);
}

#[tokio::test(start_paused = true)]
async fn up_to_max_hedges_are_sent_and_every_loser_dropped() {
    let layer = HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(20)))
        .max_hedges(NonZeroU32::new(3).unwrap())
        .no_budget()
        .build()
        .unwrap();
    let handle = layer.handle();
    // The first three attempts hang; the fourth (the third hedge) is quick.
    let (counts, inner) = upstream(
        |n| {
            if n < 3 {
                Duration::from_secs(5)
            } else {
                Duration::from_millis(10)
            }
        },
        never,
    );
    let svc = layer.layer(inner);
    let start = Instant::now();
    assert_eq!(svc.oneshot(0).await.unwrap(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(70));
    assert_eq!((handle.hedges_sent(), handle.hedges_won()), (3, 1));
    assert_eq!(counts.dropped.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn failures_end_the_call_only_when_no_attempt_is_left() {
    let layer = HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(20)))
        .no_budget()
        .build()
        .unwrap();
    let handle = layer.handle();
    // A quick failure is returned at once: an error is not a reason to hedge.
    let (counts, inner) = upstream(|_| Duration::from_millis(5), |_| true);
    let err = layer.layer(inner).oneshot(0).await.unwrap_err();
    assert_eq!(err.to_string(), "call 0 failed");
    assert_eq!(counts.calls.load(Ordering::SeqCst), 1);
    assert_eq!(handle.hedges_sent(), 0);

    // A slow first attempt that fails after its hedge was sent loses to the hedge.
    let (_, inner) = upstream(
        |n| {
            if n == 0 {
                Duration::from_millis(25)
            } else {
                Duration::from_millis(10)
            }
        },
        |n| n == 0,
    );
    assert_eq!(layer.layer(inner).oneshot(0).await.unwrap(), 1);

    // Both fail (the first at 25 ms, the hedge at 30 ms): the last error is returned.
    let (_, inner) = upstream(
        |n| Duration::from_millis(if n == 0 { 25 } else { 10 }),
        |_| true,
    );
    let err = layer.layer(inner).oneshot(0).await.unwrap_err();
    assert_eq!(err.to_string(), "call 1 failed");
}

#[tokio::test(start_paused = true)]
async fn ineligible_requests_are_never_hedged() {
    let layer = HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(5)))
        .no_budget()
        .eligible(|id: &u32| id.is_multiple_of(2))
        .build()
        .unwrap();
    let handle = layer.handle();
    let (counts, inner) = upstream(|_| Duration::from_millis(50), never);
    let svc = layer.layer(inner);
    svc.clone().oneshot(1).await.unwrap();
    assert_eq!(handle.hedges_sent(), 0);
    assert_eq!(counts.calls.load(Ordering::SeqCst), 1);
    svc.oneshot(2).await.unwrap();
    assert_eq!(handle.hedges_sent(), 1);
}

#[cfg(feature = "http")]
#[tokio::test(start_paused = true)]
async fn the_http_preset_hedges_idempotent_methods_only() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let layer = HedgeLayer::http(HedgeDelay::fixed(Duration::from_millis(5)))
        .no_budget()
        .build()
        .unwrap();
    let svc = layer.layer(service_fn(move |_: http::Request<String>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, BoxError>("done")
        }
    }));
    let post = http::Request::post("/orders")
        .body("{}".to_owned())
        .unwrap();
    svc.clone().oneshot(post).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let get = http::Request::get("/orders/1").body(String::new()).unwrap();
    svc.oneshot(get).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn bad_settings_are_reported() {
    let build = |delay| HedgeLayer::builder(delay).build().map(|_| ());
    assert!(matches!(
        build(HedgeDelay::percentile(120.0, Duration::from_secs(1))),
        Err(ConfigError::OutOfRange {
            field: "percentile",
            ..
        })
    ));
    assert!(matches!(
        build(HedgeDelay::average_plus(-10.0, Duration::from_secs(1))),
        Err(ConfigError::OutOfRange {
            field: "percent",
            ..
        })
    ));
    assert!(matches!(
        build(HedgeDelay::average_plus(f64::NAN, Duration::from_secs(1))),
        Err(ConfigError::NotFinite { field: "percent" })
    ));
    assert!(matches!(
        build(HedgeDelay::average_plus(10.0, Duration::ZERO)),
        Err(ConfigError::Zero { field: "window" })
    ));
    assert!(matches!(
        build(HedgeDelay::percentile(95.0, Duration::ZERO)),
        Err(ConfigError::Zero { field: "window" })
    ));
    assert!(matches!(
        HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(1)))
            .budget(RetryBudget::new(Duration::ZERO, 1, 0.1))
            .build()
            .map(|_| ()),
        Err(ConfigError::Zero { .. })
    ));
}
