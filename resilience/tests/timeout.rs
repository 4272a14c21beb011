//! `TimeoutLayer`: elapsed timing, pass-through, and per-attempt vs overall ordering with retry.
#![cfg(feature = "timeout")]
#![allow(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::timeout::TimeoutLayer;
use palisade_resilience::timeout::error::Elapsed;
use tokio::time::{Instant, advance};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

/// Polls `fut` once without registering interest in a wake-up.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(std::task::Waker::noop()))
}

#[tokio::test(start_paused = true)]
async fn elapses_after_exactly_the_timeout() {
    let layer = TimeoutLayer::new(Duration::from_millis(100));
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(svc.poll_ready().is_ready());
    let mut fut = Box::pin(svc.call("hello"));
    // The request reached the inner service; it never answers.
    let (_req, _send) = handle.next_request().await.unwrap();

    advance(Duration::from_millis(99)).await;
    assert!(poll_once(&mut fut).is_pending(), "fired early");
    advance(Duration::from_millis(1)).await;
    let err = match poll_once(&mut fut) {
        Poll::Ready(Err(err)) => err,
        other => panic!("expected Elapsed at 100 ms, got {other:?}"),
    };
    let elapsed = err.downcast_ref::<Elapsed>().unwrap();
    assert_eq!(elapsed.timeout(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn fast_call_passes_and_inner_errors_keep_their_type() {
    let layer = TimeoutLayer::new(Duration::from_millis(100));
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(svc.poll_ready().is_ready());
    let fut = svc.call("hello");
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, "hello");
    advance(Duration::from_millis(99)).await;
    send.send_response("world");
    assert_eq!(fut.await.unwrap(), "world");

    assert!(svc.poll_ready().is_ready());
    let fut = svc.call("again");
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_error(std::io::Error::other("boom"));
    let err = fut.await.unwrap_err();
    assert!(err.downcast_ref::<Elapsed>().is_none());
    assert_eq!(err.to_string(), "boom");
}

#[tokio::test(start_paused = true)]
async fn timer_starts_at_call_not_at_readiness() {
    let layer = TimeoutLayer::new(Duration::from_millis(100));
    let (mut svc, mut handle) = mock::spawn_layer::<&str, &str, _>(layer);
    handle.allow(0);
    assert!(svc.poll_ready().is_pending());
    advance(Duration::from_secs(1)).await;
    handle.allow(1);
    assert!(svc.poll_ready().is_ready());
    let fut = svc.call("late");
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response("ok");
    assert_eq!(fut.await.unwrap(), "ok");
}

#[tokio::test(start_paused = true)]
async fn zero_timeout_admits_only_calls_ready_at_once() {
    let layer = TimeoutLayer::new(Duration::ZERO);
    let ready = layer.layer(tower::service_fn(
        |n: u32| async move { Ok::<_, BoxError>(n) },
    ));
    assert_eq!(ready.oneshot(7).await.unwrap(), 7);

    let waits = layer.layer(tower::service_fn(|n: u32| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok::<_, BoxError>(n)
    }));
    assert!(waits.oneshot(7).await.unwrap_err().is::<Elapsed>());
}

/// A deliberately small retry: `attempts` tries, `backoff` apart, any error is
/// retried. Enough to show what a timeout bounds depending on its position.
#[derive(Clone)]
struct Retry<S> {
    inner: S,
    attempts: usize,
    backoff: Duration,
}

struct RetryLayer {
    attempts: usize,
    backoff: Duration,
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            attempts: self.attempts,
            backoff: self.backoff,
        }
    }
}

impl<S> Service<()> for Retry<S>
where
    S: Service<(), Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        let (svc, attempts, backoff) = (self.inner.clone(), self.attempts, self.backoff);
        Box::pin(async move {
            let mut last = None;
            for attempt in 0..attempts {
                if attempt > 0 {
                    tokio::time::sleep(backoff).await;
                }
                match svc.clone().oneshot(()).await {
                    Ok(response) => return Ok(response),
                    Err(err) => last = Some(err),
                }
            }
            Err(last.expect("at least one attempt"))
        })
    }
}

/// An upstream whose first attempt takes `first`, every later one `rest`;
/// returns the service and its attempt counter.
fn upstream(
    first: Duration,
    rest: Duration,
) -> (
    impl Service<(), Response = &'static str, Error = BoxError, Future: Send> + Clone + Send + 'static,
    Arc<AtomicUsize>,
) {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let svc = service_fn(move |()| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(if n == 0 { first } else { rest }).await;
            Ok::<_, BoxError>("pong")
        }
    });
    (svc, attempts)
}

#[tokio::test(start_paused = true)]
async fn inside_retry_the_timeout_bounds_each_attempt() {
    let (inner, attempts) = upstream(Duration::from_millis(300), Duration::from_millis(10));
    let svc = ServiceBuilder::new()
        .layer(RetryLayer {
            attempts: 3,
            backoff: Duration::from_millis(100),
        })
        .layer(TimeoutLayer::new(Duration::from_millis(200)))
        .service(inner);

    let start = Instant::now();
    assert_eq!(svc.oneshot(()).await.unwrap(), "pong");
    // 200 ms (first attempt cut) + 100 ms backoff + 10 ms second attempt.
    assert_eq!(start.elapsed(), Duration::from_millis(310));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn outside_retry_the_timeout_bounds_the_whole_call_including_backoff() {
    // Every attempt fails fast; only the backoff sleeps make the call long.
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let failing = service_fn(move |()| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err::<&str, BoxError>("refused".into())
        }
    });
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_millis(200)))
        .layer(RetryLayer {
            attempts: 5,
            backoff: Duration::from_millis(100),
        })
        .service(failing);

    let start = Instant::now();
    let err = svc.oneshot(()).await.unwrap_err();
    assert!(err.is::<Elapsed>(), "got {err}");
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    // Attempts at 0 and 110 ms; the third would have started at 220 ms.
    assert_eq!(attempts.load(Ordering::SeqCst), 2);

    // The same slow upstream that per-attempt timeouts rescue fails overall.
    let (inner, attempts) = upstream(Duration::from_millis(300), Duration::from_millis(10));
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_millis(200)))
        .layer(RetryLayer {
            attempts: 3,
            backoff: Duration::from_millis(100),
        })
        .service(inner);
    assert!(svc.oneshot(()).await.unwrap_err().is::<Elapsed>());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}
