//! The full stack of the `edge` module docs — fallback → rate limit →
//! overall timeout → retry → breaker → bulkhead → per-attempt timeout — around
//! one scripted flaky service, checking the documented order of effects with
//! paused time and exact call counts.
#![allow(missing_docs)]

use std::collections::VecDeque;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::ServiceBuilderExt;
use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::bulkhead::error::BulkheadFull;
use palisade_resilience::circuit_breaker::error::CircuitOpen;
use palisade_resilience::circuit_breaker::{
    CircuitBreakerHandle, CircuitBreakerLayer, SlidingWindow, State,
};
use palisade_resilience::fallback::FallbackLayer;
use palisade_resilience::rate_limit::error::RateLimited;
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use palisade_resilience::retry::{Backoff, Jitter, RetryLayer};
use palisade_resilience::timeout::TimeoutLayer;
use palisade_resilience::timeout::error::Elapsed;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const PER_ATTEMPT: Duration = Duration::from_secs(1);
const OVERALL: Duration = Duration::from_millis(2500);
const BACKOFF: Duration = Duration::from_millis(100);
const MAX_ATTEMPTS: u32 = 4;

/// What the upstream does on one call.
enum Step {
    Fail,
    /// Never answers (until a timeout drops it).
    Hang,
    /// Says it started, then answers once released.
    Hold(mpsc::UnboundedSender<()>, Arc<Notify>),
}

/// The flaky upstream: plays `script` one step per call (answering once it
/// is empty), and
/// counts the calls that reach it.
#[derive(Clone, Default)]
struct Upstream {
    script: Arc<Mutex<VecDeque<Step>>>,
    calls: Arc<AtomicUsize>,
}

impl Upstream {
    fn then(&self, times: usize, step: impl Fn() -> Step) -> &Self {
        let mut script = self.script.lock().expect("not poisoned");
        script.extend((0..times).map(|_| step()));
        self
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn service(
        &self,
    ) -> impl Service<u32, Response = String, Error = std::io::Error, Future: Send>
    + Clone
    + Send
    + 'static {
        let upstream = self.clone();
        service_fn(move |id: u32| {
            upstream.calls.fetch_add(1, Ordering::SeqCst);
            let step = upstream.script.lock().expect("not poisoned").pop_front();
            async move {
                match step {
                    None => Ok(format!("order {id}")),
                    Some(Step::Fail) => Err(std::io::Error::other("upstream broke")),
                    Some(Step::Hang) => std::future::pending().await,
                    Some(Step::Hold(started, release)) => {
                        let _ = started.send(());
                        release.notified().await;
                        Ok(format!("order {id}"))
                    }
                }
            }
        })
    }
}

/// What the fallback answers for each rejection it replaces.
fn degraded(error: &BoxError) -> String {
    if let Some(elapsed) = error.downcast_ref::<Elapsed>() {
        format!("fallback: timeout after {:?}", elapsed.timeout())
    } else if error.is::<CircuitOpen>() {
        "fallback: circuit open".to_owned()
    } else if error.is::<BulkheadFull>() {
        "fallback: bulkhead full".to_owned()
    } else if error.is::<RateLimited>() {
        "fallback: rate limited".to_owned()
    } else {
        format!("fallback: unexpected {error}")
    }
}

/// The documented stack around `upstream`; `quota` calls a minute pass the
/// rate limit. The breaker opens at 50 % failures over its last 4 calls and
/// stays open 60 s; the bulkhead has one permit and no queue.
fn stack(
    upstream: &Upstream,
    quota: NonZeroU32,
) -> (
    impl Service<u32, Response = String, Error = BoxError, Future: Send> + Clone + Send + 'static,
    CircuitBreakerHandle,
) {
    let breaker = CircuitBreakerLayer::builder()
        .name("orders")
        .sliding_window(SlidingWindow::count(4))
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(60))
        .build()
        .expect("valid configuration");
    let handle = breaker.handle();
    let svc = ServiceBuilder::new()
        .fallback(FallbackLayer::value(|error: BoxError| degraded(&error)).on_rejection())
        .rate_limit_with(RateLimitLayer::global(Quota::per_minute(quota)))
        .timeout_per_call(TimeoutLayer::new(OVERALL))
        .retry_with(
            RetryLayer::builder()
                .max_attempts(MAX_ATTEMPTS)
                .backoff(Backoff::exponential(BACKOFF, BACKOFF).jitter(Jitter::None))
                .no_budget()
                .build()
                .expect("valid configuration"),
        )
        .circuit_breaker(breaker)
        .bulkhead(BulkheadLayer::new(NonZeroUsize::MIN))
        .timeout_per_call(TimeoutLayer::new(PER_ATTEMPT))
        .service(upstream.service());
    (svc, handle)
}

#[tokio::test(start_paused = true)]
async fn a_failed_attempt_is_retried_and_counted_by_the_breaker() {
    let upstream = Upstream::default();
    upstream.then(1, || Step::Fail);
    let (svc, breaker) = stack(&upstream, NonZeroU32::new(10).unwrap());

    let start = Instant::now();
    assert_eq!(svc.oneshot(7).await.unwrap(), "order 7");
    assert_eq!(upstream.calls(), 2);
    assert_eq!(start.elapsed(), BACKOFF);
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn the_upstreams_own_error_passes_the_fallback() {
    let upstream = Upstream::default();
    upstream.then(4, || Step::Fail);
    let (svc, breaker) = stack(&upstream, NonZeroU32::new(10).unwrap());

    // Every attempt fails: retries run out and the last error is returned;
    // `on_rejection` leaves the upstream's own error alone.
    let err = svc.oneshot(7).await.unwrap_err();
    let io = err
        .downcast_ref::<std::io::Error>()
        .expect("the upstream's error");
    assert_eq!(io.to_string(), "upstream broke");
    assert_eq!(upstream.calls(), 4);
    // The fourth failure of four opened the breaker.
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn the_order_of_effects() {
    let upstream = Upstream::default();
    upstream.then(16, || Step::Hang);
    // Three calls a minute: the limiter sits outside the retry layer.
    let (svc, breaker) = stack(&upstream, NonZeroU32::new(3).unwrap());

    // Call 1: attempts 1 and 2 hang and are cut by the per-attempt timeout
    // (at 1.0 s and 2.1 s), each a breaker failure; attempt 3 starts at
    // 2.2 s and is dropped by the overall timeout at 2.5 s, unrecorded. The
    // overall `Elapsed` is a rejection: the fallback answers it.
    let start = Instant::now();
    assert_eq!(
        svc.clone().oneshot(1).await.unwrap(),
        "fallback: timeout after 2.5s"
    );
    assert_eq!(start.elapsed(), OVERALL);
    assert_eq!(upstream.calls(), 3);
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (2, 2));
    assert_eq!(snapshot.state, State::Closed);

    // Call 2: two more per-attempt timeouts (at 1.0 s and 2.1 s) make four
    // failures out of four: the breaker opens for 60 s. Attempt 3 (at 2.2 s)
    // is rejected by the breaker without reaching the upstream, and its
    // `CircuitOpen` asks for 59.9 s — more than the retry's
    // `max_retry_after` (30 s) — so the retry returns it at once instead of
    // spending attempt 4 against it. The fallback answers it.
    let start = Instant::now();
    assert_eq!(
        svc.clone().oneshot(2).await.unwrap(),
        "fallback: circuit open"
    );
    assert_eq!(start.elapsed(), 2 * PER_ATTEMPT + 2 * BACKOFF);
    assert_eq!(upstream.calls(), 5);
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.snapshot().rejected, 1);

    // Call 3: the first attempt is rejected and returned at once; the
    // upstream is not called and no backoff is slept.
    let start = Instant::now();
    assert_eq!(
        svc.clone().oneshot(3).await.unwrap(),
        "fallback: circuit open"
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(upstream.calls(), 5);
    assert_eq!(breaker.snapshot().rejected, 2);

    // Call 4: three calls (of 3 + 3 + 1 attempts) used the quota of three.
    // The limiter sits inside the fallback, so its rejection is answered
    // too, at once, and the upstream is not called.
    let start = Instant::now();
    assert_eq!(svc.oneshot(4).await.unwrap(), "fallback: rate limited");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(upstream.calls(), 5);
    // But readiness goes down the whole stack before the limiter decides in
    // `call`, and the open breaker decides in `poll_ready`: it counted a
    // rejection for this call too.
    assert_eq!(breaker.snapshot().rejected, 3);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_rejections_below_the_breaker_count_as_failures() {
    let upstream = Upstream::default();
    let (started, mut started_rx) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let held = Arc::clone(&release);
    upstream.then(1, move || Step::Hold(started.clone(), Arc::clone(&held)));
    let (svc, breaker) = stack(&upstream, NonZeroU32::new(10).unwrap());

    // The first call takes the only permit and holds it.
    let holder = tokio::spawn(svc.clone().oneshot(1));
    started_rx.recv().await.unwrap();

    // Every attempt of the second call finds the bulkhead full: each is a
    // breaker failure (the default classifier counts every error), retried
    // after the backoff; the fourth opens the breaker.
    let start = Instant::now();
    assert_eq!(
        svc.clone().oneshot(2).await.unwrap(),
        "fallback: bulkhead full"
    );
    assert_eq!(start.elapsed(), 3 * BACKOFF);
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(upstream.calls(), 1);

    // The holder still answers, and its permit comes back.
    release.notify_one();
    assert_eq!(holder.await.unwrap().unwrap(), "order 1");
    assert_eq!(upstream.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_default_retry_stops_at_a_forced_open_breaker() {
    // ForcedOpen has no schedule: only an operator's reset admits calls, so
    // the default predicate does not retry it.
    let upstream = Upstream::default();
    let breaker = CircuitBreakerLayer::builder().build().unwrap();
    let handle = breaker.handle();
    handle.force_open();
    let svc = ServiceBuilder::new()
        .retry_with(
            RetryLayer::builder()
                .max_attempts(MAX_ATTEMPTS)
                .backoff(Backoff::exponential(BACKOFF, BACKOFF).jitter(Jitter::None))
                .build()
                .unwrap(),
        )
        .circuit_breaker(breaker)
        .service(upstream.service());

    let start = Instant::now();
    let err = svc.oneshot(1).await.unwrap_err();
    let open = err
        .downcast_ref::<CircuitOpen>()
        .expect("the breaker's rejection");
    assert_eq!(open.state(), State::ForcedOpen);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(handle.snapshot().rejected, 1);
    assert_eq!(upstream.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_an_open_breaker_with_a_predicate_that_declines_it() {
    // A custom predicate sees every rejection as an error like any other; it
    // can decline them all, whatever their schedule.
    let upstream = Upstream::default();
    let breaker = CircuitBreakerLayer::builder().build().unwrap();
    let handle = breaker.handle();
    handle.force_open();
    let svc = ServiceBuilder::new()
        .retry_with(
            RetryLayer::builder()
                .max_attempts(MAX_ATTEMPTS)
                .backoff(Backoff::exponential(BACKOFF, BACKOFF).jitter(Jitter::None))
                .predicate(|result: &Result<String, BoxError>| {
                    result.as_ref().is_err_and(|e| !e.is::<CircuitOpen>())
                })
                .build()
                .unwrap(),
        )
        .circuit_breaker(breaker)
        .service(upstream.service());

    let start = Instant::now();
    let err = svc.oneshot(1).await.unwrap_err();
    assert!(err.is::<CircuitOpen>(), "got {err}");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(handle.snapshot().rejected, 1);
    assert_eq!(upstream.calls(), 0);
}
