//! Retry meeting our own rejections: it waits as long as they ask (the
//! larger of that and the backoff), or gives up at once with the rejection.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::bulkhead::error::BulkheadFull;
use palisade_resilience::circuit_breaker::error::CircuitOpen;
use palisade_resilience::circuit_breaker::{
    CircuitBreakerHandle, CircuitBreakerLayer, SlidingWindow, State,
};
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use palisade_resilience::retry::{Backoff, Jitter, RetryBudget, RetryLayer, RetryLayerBuilder};
use palisade_resilience::timeout::TimeoutLayer;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use super::support::{Boom, call, flaky};

/// A retry layer with a fixed backoff (no jitter) and no budget.
fn retry(
    max_attempts: u32,
    backoff: Duration,
) -> RetryLayerBuilder<palisade_resilience::retry::RetryErrors> {
    RetryLayer::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::exponential(backoff, backoff).jitter(Jitter::None))
        .no_budget()
}

/// A breaker that opens on the first failure and stays open for `wait`.
fn breaker(wait: Duration) -> (CircuitBreakerLayer, CircuitBreakerHandle) {
    let layer = CircuitBreakerLayer::builder()
        .name("upstream")
        .sliding_window(SlidingWindow::count(1))
        .minimum_calls(1)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(wait)
        .permitted_calls_in_half_open(1)
        .build()
        .unwrap();
    let handle = layer.handle();
    (layer, handle)
}

fn circuit_open(error: &BoxError) -> &CircuitOpen {
    error
        .downcast_ref::<CircuitOpen>()
        .unwrap_or_else(|| panic!("expected CircuitOpen, got {error}"))
}

#[tokio::test(start_paused = true)]
async fn circuit_open_waits_until_the_probe_then_succeeds() {
    // Attempt 1 fails and opens the breaker for 10 s; after the 100 ms
    // backoff attempt 2 is rejected with 9.9 s to wait, which the retry
    // waits instead of the 100 ms backoff; attempt 3 is the probe.
    let (breaker, handle) = breaker(Duration::from_secs(10));
    let (upstream, calls) = flaky(1);
    let mut service = ServiceBuilder::new()
        .layer(retry(3, Duration::from_millis(100)).build().unwrap())
        .layer(breaker)
        .service(upstream);

    let answer = call(&mut service, "get").await.unwrap();
    assert_eq!(answer, 2, "the upstream's second call answered");
    assert_eq!(calls.gaps(), [Duration::from_secs(10)]);
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().rejected, 1, "one attempt was rejected");
}

#[tokio::test(start_paused = true)]
async fn a_backoff_longer_than_the_breakers_wait_is_kept() {
    // Open for 10 s; the backoff is 6 s. Attempt 2 (t = 6 s) is rejected
    // with 4 s to wait, but the backoff is longer: attempt 3 at t = 12 s.
    let (breaker, handle) = breaker(Duration::from_secs(10));
    let (upstream, calls) = flaky(1);
    let mut service = ServiceBuilder::new()
        .layer(retry(3, Duration::from_secs(6)).build().unwrap())
        .layer(breaker)
        .service(upstream);

    assert_eq!(call(&mut service, "get").await.unwrap(), 2);
    assert_eq!(calls.gaps(), [Duration::from_secs(12)]);
    assert_eq!(handle.snapshot().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn rate_limited_waits_its_retry_after_then_succeeds() {
    let limiter = RateLimitLayer::global(Quota::per_second(NonZeroU32::MIN));
    let (upstream, calls) = flaky(0);
    let mut service = ServiceBuilder::new()
        .layer(retry(3, Duration::from_millis(100)).build().unwrap())
        .layer(limiter)
        .service(upstream);

    // The first call takes the only cell; the second is limited for 1 s,
    // longer than the 100 ms backoff, and passes once it is over.
    assert_eq!(call(&mut service, "first").await.unwrap(), 1);
    assert_eq!(call(&mut service, "second").await.unwrap(), 2);
    assert_eq!(calls.gaps(), [Duration::from_secs(1)]);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_full_is_retried_after_the_backoff() {
    // One permit, no queue. A slow call holds it for 1 s; the second call is
    // rejected, waits the 2 s backoff (a bulkhead has no schedule to ask
    // for) and then gets the permit.
    let bulkhead = BulkheadLayer::new(NonZeroUsize::MIN);
    let slow = tower::service_fn(|hold: Duration| async move {
        tokio::time::sleep(hold).await;
        Ok::<_, Boom>(Instant::now())
    });
    let stack = ServiceBuilder::new()
        .layer(retry(2, Duration::from_secs(2)).build().unwrap())
        .layer(bulkhead)
        .service(slow);

    let start = Instant::now();
    let holder = tokio::spawn(stack.clone().oneshot(Duration::from_secs(1)));
    tokio::task::yield_now().await;
    let finished = stack.oneshot(Duration::ZERO).await.unwrap();
    assert_eq!(finished - start, Duration::from_secs(2));
    assert_eq!(
        holder.await.unwrap().unwrap() - start,
        Duration::from_secs(1)
    );
}

#[tokio::test(start_paused = true)]
async fn bulkhead_full_comes_back_unchanged_when_attempts_run_out() {
    let stack = ServiceBuilder::new()
        .layer(retry(2, Duration::from_millis(10)).build().unwrap())
        .layer(BulkheadLayer::new(NonZeroUsize::MIN))
        .service(tower::service_fn(|hold: Duration| async move {
            tokio::time::sleep(hold).await;
            Ok::<_, Boom>(())
        }));
    let _holder = tokio::spawn(stack.clone().oneshot(Duration::from_secs(60)));
    tokio::task::yield_now().await;
    let err = stack.oneshot(Duration::ZERO).await.unwrap_err();
    assert!(err.is::<BulkheadFull>(), "got {err}");
}

#[tokio::test(start_paused = true)]
async fn elapsed_is_retried_after_the_backoff() {
    // The first attempt hangs and is cut after 1 s; the second follows the
    // 500 ms backoff.
    let (upstream, calls) = flaky(0);
    let hangs_once = tower::service_fn(move |request: &'static str| {
        let mut upstream = upstream.clone();
        async move {
            let n = upstream.ready().await?.call(request).await?;
            if n == 1 {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok::<_, Boom>(n)
        }
    });
    let mut service = ServiceBuilder::new()
        .layer(retry(2, Duration::from_millis(500)).build().unwrap())
        .layer(TimeoutLayer::new(Duration::from_secs(1)))
        .service(hangs_once);

    assert_eq!(call(&mut service, "get").await.unwrap(), 2);
    assert_eq!(calls.gaps(), [Duration::from_millis(1500)]);
}

#[tokio::test(start_paused = true)]
async fn a_wait_beyond_max_elapsed_gives_up_at_once_with_the_rejection() {
    // Open for 10 s, but the whole call may take 5 s: the rejection after
    // the first backoff is returned at once, not slept on.
    let (breaker, handle) = breaker(Duration::from_secs(10));
    let (upstream, calls) = flaky(1);
    let mut service = ServiceBuilder::new()
        .layer(
            retry(5, Duration::from_millis(100))
                .max_elapsed(Duration::from_secs(5))
                .build()
                .unwrap(),
        )
        .layer(breaker)
        .service(upstream);

    let start = Instant::now();
    let err = call(&mut service, "get").await.unwrap_err();
    let open = circuit_open(&err);
    assert_eq!(open.state(), State::Open);
    assert_eq!(open.retry_after(), Some(Duration::from_millis(9900)));
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100),
        "only the backoff"
    );
    assert_eq!(calls.count(), 1);
    assert_eq!(
        handle.snapshot().rejected,
        1,
        "one rejected attempt, not four"
    );
}

#[tokio::test(start_paused = true)]
async fn the_rejection_is_returned_when_attempts_run_out() {
    let (breaker, _handle) = breaker(Duration::from_secs(10));
    let (upstream, calls) = flaky(1);
    let mut service = ServiceBuilder::new()
        .layer(retry(2, Duration::from_millis(100)).build().unwrap())
        .layer(breaker)
        .service(upstream);

    let start = Instant::now();
    let err = call(&mut service, "get").await.unwrap_err();
    assert_eq!(circuit_open(&err).state(), State::Open);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(calls.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_forced_open_breaker_is_not_retried() {
    let (breaker, handle) = breaker(Duration::from_secs(10));
    handle.force_open();
    let (upstream, calls) = flaky(0);
    let mut service = ServiceBuilder::new()
        .layer(retry(5, Duration::from_millis(100)).build().unwrap())
        .layer(breaker)
        .service(upstream);

    let start = Instant::now();
    let err = call(&mut service, "get").await.unwrap_err();
    assert_eq!(circuit_open(&err).state(), State::ForcedOpen);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(calls.count(), 0);
    assert_eq!(handle.snapshot().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn giving_up_on_a_rejection_spends_no_budget() {
    // A budget of exactly one retry (1 per second over a 1 s window, nothing
    // earned from successes), shared by every service of the layer.
    let layer = RetryLayer::builder()
        .max_attempts(2)
        .backoff(
            Backoff::exponential(Duration::from_millis(1), Duration::from_millis(1))
                .jitter(Jitter::None),
        )
        .max_elapsed(Duration::from_secs(5))
        .budget(RetryBudget::new(Duration::from_secs(1), 1, 0.0))
        .build()
        .unwrap();

    // Open the breaker, then call through it: its 10 s wait exceeds the 5 s
    // max_elapsed, so the retry gives up before asking the budget.
    let (breaker, handle) = breaker(Duration::from_secs(10));
    let mut opener = breaker.layer(flaky(1).0);
    let _ = call(&mut opener, "open it").await;
    assert_eq!(handle.state(), State::Open);
    let (upstream, calls) = flaky(0);
    let mut guarded = layer.layer(breaker.layer(upstream));
    let err = call(&mut guarded, "rejected").await.unwrap_err();
    assert_eq!(circuit_open(&err).state(), State::Open);
    assert_eq!(calls.count(), 0);

    // The budget's one retry is still there: a failure is retried once…
    let (upstream, calls) = flaky(1);
    let mut service = layer.layer(upstream);
    assert_eq!(call(&mut service, "fails once").await.unwrap(), 2);
    assert_eq!(calls.count(), 2, "the failure was retried");
    // …and that was the only one.
    let (upstream, calls) = flaky(usize::MAX);
    let mut service = layer.layer(upstream);
    let err = call(&mut service, "no budget left").await.unwrap_err();
    assert_eq!(err.downcast_ref::<Boom>(), Some(&Boom(1)));
    assert_eq!(calls.count(), 1, "the budget is spent");
}
