//! The adaptive concurrency limit against a simulated server, in paused time.
#![cfg(feature = "adaptive")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::adaptive::{
    AdaptiveLimitLayer, Aimd, Algorithm, Gradient2, Vegas, error::LimitReached,
};
use palisade_resilience::{ConfigError, rejection};
use tower::{Layer, Service, ServiceExt, service_fn};

const BASE_LATENCY: Duration = Duration::from_millis(10);
const CLIENTS: usize = 60;

/// A server that answers in 10 ms up to `capacity` concurrent calls; past
/// it, latency grows with the fourth power of the overload (it queues and
/// thrashes).
#[derive(Clone)]
struct Server {
    in_flight: Arc<AtomicUsize>,
    capacity: Arc<AtomicUsize>,
    /// The most calls it ever had at once.
    peak: Arc<AtomicUsize>,
}

impl Server {
    fn new(capacity: usize) -> Self {
        Self {
            in_flight: Arc::new(AtomicUsize::new(0)),
            capacity: Arc::new(AtomicUsize::new(capacity)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    async fn serve(self) -> Result<(), BoxError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let capacity = self.capacity.load(Ordering::SeqCst);
        #[allow(clippy::cast_precision_loss)]
        let overload = (now as f64 / capacity as f64).max(1.0);
        tokio::time::sleep(BASE_LATENCY.mul_f64(overload.powi(4))).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Clients that call in a loop as fast as the limit lets them; a rejected
/// client waits 5 ms before trying again.
fn start_clients<S>(svc: &S, done: &Arc<AtomicU64>, stop: &Arc<AtomicBool>)
where
    S: Service<(), Response = (), Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    for _ in 0..CLIENTS {
        let svc = svc.clone();
        let done = Arc::clone(done);
        let stop = Arc::clone(stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match svc.clone().oneshot(()).await {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => {
                        assert!(err.is::<LimitReached>(), "unexpected error: {err}");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        });
    }
}

/// Waits (in paused time) until `calls` more calls have completed, noting
/// the limit every 10 ms.
async fn run_for(calls: u64, done: &AtomicU64, limit: impl Fn() -> usize) -> Vec<usize> {
    let target = done.load(Ordering::Relaxed) + calls;
    let mut seen = Vec::new();
    while done.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(10)).await;
        seen.push(limit());
    }
    seen
}

async fn settles_and_recovers(algorithm: impl Into<Algorithm>) {
    let algorithm = algorithm.into();
    let layer = AdaptiveLimitLayer::builder()
        .algorithm(algorithm)
        .initial_limit(NonZeroUsize::new(10).unwrap())
        .sample_window(Duration::from_millis(100))
        .build()
        .unwrap();
    let handle = layer.handle();
    let server = Server::new(20);
    let svc = layer.layer(service_fn({
        let server = server.clone();
        move |()| server.clone().serve()
    }));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    start_clients(&svc, &done, &stop);
    let limit = || handle.limit();

    // Settling takes at most 6,000 calls (3 s of the server's capacity) …
    let settling = run_for(6_000, &done, limit).await;
    // … after which the limit stays between 15 and 25 for the next 6,000.
    let settled = run_for(6_000, &done, limit).await;
    let (low, high) = (
        settled.iter().min().copied().unwrap(),
        settled.iter().max().copied().unwrap(),
    );
    assert!(
        (15..=25).contains(&low) && (15..=25).contains(&high),
        "{}: settled within {low}..={high}; settling: {settling:?}; settled: {settled:?}",
        algorithm.as_str()
    );
    assert!(
        handle.rejected_total() > 0,
        "the clients offer more than the limit"
    );

    // The capacity doubles: the limit rises past the old capacity.
    server.capacity.store(40, Ordering::SeqCst);
    let recovering = run_for(12_000, &done, limit).await;
    let recovered = handle.limit();
    assert!(
        recovered > 30,
        "{}: limit {recovered} after the capacity doubled; {recovering:?}",
        algorithm.as_str()
    );
    stop.store(true, Ordering::Relaxed);
}

#[tokio::test(start_paused = true)]
async fn aimd_settles_near_the_capacity_and_recovers() {
    settles_and_recovers(Aimd::default().latency_threshold(Duration::from_millis(15))).await;
}

#[tokio::test(start_paused = true)]
async fn vegas_settles_near_the_capacity_and_recovers() {
    settles_and_recovers(Vegas::default()).await;
}

#[tokio::test(start_paused = true)]
async fn gradient2_settles_near_the_capacity_and_recovers() {
    settles_and_recovers(Gradient2::default()).await;
}

/// A service that sleeps `ms` milliseconds, then answers `ms`.
fn sleeper() -> impl Service<u64, Response = u64, Error = BoxError, Future: Send> + Clone + Send {
    service_fn(|ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, BoxError>(ms)
    })
}

#[tokio::test(start_paused = true)]
async fn a_call_over_the_limit_queues_until_a_place_frees_or_its_wait_ends() {
    let layer = AdaptiveLimitLayer::builder()
        .initial_limit(NonZeroUsize::MIN)
        .limits(NonZeroUsize::MIN, NonZeroUsize::new(10).unwrap())
        .max_waiters(1)
        .max_wait(Duration::from_millis(50))
        .build()
        .unwrap();
    let handle = layer.handle();
    let mut svc = layer.layer(sleeper());

    let running = svc.ready().await.unwrap().call(30);
    let queued = svc.ready().await.unwrap().call(5);
    let rejected = svc.ready().await.unwrap().call(5);
    let err = rejected.await.unwrap_err();
    let reached = err.downcast_ref::<LimitReached>().unwrap();
    assert_eq!(reached.limit(), 1);
    assert!(!reached.is_wait_expired());
    assert_eq!(handle.waiting(), 1);

    // The queued call runs once the first ends (30 ms < its 50 ms wait).
    let (first, second) = tokio::join!(running, queued);
    assert_eq!((first.unwrap(), second.unwrap()), (30, 5));
    assert_eq!((handle.in_flight(), handle.waiting()), (0, 0));

    // A call that waits longer than `max_wait` is rejected, never called.
    let long = svc.ready().await.unwrap().call(200);
    let waiting = svc.ready().await.unwrap().call(1);
    let err = waiting.await.unwrap_err();
    assert!(
        err.downcast_ref::<LimitReached>()
            .unwrap()
            .is_wait_expired()
    );
    assert_eq!(long.await.unwrap(), 200);
    assert_eq!(handle.rejected_total(), 2);
    assert!(rejection::find(&*err).is_some_and(|r| r.code() == "limit_reached"));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_frees_its_place_without_moving_the_limit() {
    let layer = AdaptiveLimitLayer::builder()
        .algorithm(Aimd::default())
        .initial_limit(NonZeroUsize::new(2).unwrap())
        .sample_window(Duration::from_millis(1))
        .min_samples(NonZeroUsize::MIN)
        .build()
        .unwrap();
    let handle = layer.handle();
    let mut svc = layer.layer(sleeper());
    let call = svc.ready().await.unwrap().call(100);
    assert_eq!(handle.in_flight(), 1);
    drop(call);
    assert_eq!(handle.in_flight(), 0);
    tokio::time::advance(Duration::from_millis(10)).await;
    assert_eq!(handle.limit(), 2);
}

#[tokio::test(start_paused = true)]
async fn errors_classified_as_overload_shrink_the_limit() {
    let layer = AdaptiveLimitLayer::builder()
        .algorithm(Aimd::default().backoff_ratio(0.5))
        .initial_limit(NonZeroUsize::new(8).unwrap())
        .sample_window(Duration::from_millis(1))
        .min_samples(NonZeroUsize::MIN)
        // Only "overloaded" is a drop; other errors say nothing about load.
        .classify(|result: &Result<(), &'static str>| match result {
            Err("overloaded") => palisade_resilience::classify::Outcome::Failure,
            _ => palisade_resilience::classify::Outcome::Success,
        })
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(service_fn(|fail: &'static str| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        if fail.is_empty() { Ok(()) } else { Err(fail) }
    }));
    svc.clone().oneshot("not found").await.unwrap_err();
    assert_eq!(handle.limit(), 8, "an idle limit neither grows nor shrinks");
    svc.clone().oneshot("overloaded").await.unwrap_err();
    assert_eq!(handle.limit(), 4);
    svc.clone().oneshot("overloaded").await.unwrap_err();
    assert_eq!(handle.limit(), 2);
}

#[test]
fn bad_settings_are_refused_at_build() {
    let n = |v| NonZeroUsize::new(v).unwrap();
    assert_eq!(
        AdaptiveLimitLayer::builder()
            .initial_limit(n(5))
            .limits(n(10), n(20))
            .build()
            .unwrap_err(),
        ConfigError::Inverted {
            lower: "min_limit",
            upper: "initial_limit"
        }
    );
    assert_eq!(
        AdaptiveLimitLayer::builder()
            .initial_limit(n(50))
            .limits(n(1), n(20))
            .build()
            .unwrap_err(),
        ConfigError::Inverted {
            lower: "initial_limit",
            upper: "max_limit"
        }
    );
    assert_eq!(
        AdaptiveLimitLayer::builder()
            .sample_window(Duration::ZERO)
            .build()
            .unwrap_err(),
        ConfigError::Zero {
            field: "sample_window"
        }
    );
    assert!(matches!(
        AdaptiveLimitLayer::builder()
            .algorithm(Aimd::default().backoff_ratio(1.5))
            .build()
            .unwrap_err(),
        ConfigError::OutOfRange {
            field: "backoff_ratio",
            ..
        }
    ));
    assert!(matches!(
        AdaptiveLimitLayer::builder()
            .algorithm(Gradient2::default().smoothing(f64::NAN))
            .build()
            .unwrap_err(),
        ConfigError::NotFinite { field: "smoothing" }
    ));
}

#[cfg(feature = "health")]
#[tokio::test(start_paused = true)]
async fn the_health_report_names_the_limit_and_degrades_at_it() {
    use palisade_resilience::health::{HealthRegistry, Status};

    let layer = AdaptiveLimitLayer::builder()
        .initial_limit(NonZeroUsize::MIN)
        .name("search")
        .build()
        .unwrap();
    let registry = HealthRegistry::new();
    registry.register("search", layer.handle());
    let mut svc = layer.layer(sleeper());
    let report = registry.check();
    let search = report
        .components
        .iter()
        .find(|c| c.name == "search")
        .unwrap();
    assert_eq!(search.health.kind, "adaptive_limit");
    assert_eq!(search.health.state, "limit 1");
    assert_eq!(search.health.status, Status::Healthy);

    let running = svc.ready().await.unwrap().call(10);
    let report = registry.check();
    let search = report
        .components
        .iter()
        .find(|c| c.name == "search")
        .unwrap();
    assert_eq!(search.health.status, Status::Degraded);
    assert_eq!(search.health.in_flight, Some(1));
    running.await.unwrap();
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn the_limit_is_a_gauge() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let layer = AdaptiveLimitLayer::builder()
        .algorithm(Aimd::default())
        .initial_limit(NonZeroUsize::new(4).unwrap())
        .sample_window(Duration::from_millis(1))
        .min_samples(NonZeroUsize::new(4).unwrap())
        .name("gauged")
        .build()
        .unwrap();
    let svc = layer.layer(sleeper());
    // Four calls at once use the whole limit: AIMD adds one when the window
    // of all four closes.
    let calls: Vec<_> = (0..4)
        .map(|_| tokio::spawn(svc.clone().oneshot(2)))
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let gauge = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == "palisade_adaptive_limit")
        .map(|(.., value)| value);
    assert_eq!(gauge, Some(DebugValue::Gauge(5.0.into())));
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_edge_answers_503_limit_reached() {
    use palisade_resilience::edge::error_response;

    let err: BoxError = LimitReached::new(7, None).into();
    let response = error_response(&err);
    assert_eq!(response.status(), 503);
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "limit_reached");
    assert_eq!(
        body["type"],
        "https://palisade-rs.github.io/problems/limit_reached"
    );
}
