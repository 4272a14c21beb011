//! The registry: layers listed by name and reconfigured while they serve,
//! each change validated and emitted as an event.
#![cfg(feature = "registry")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::ConfigError;
use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::bulkhead::error::BulkheadFull;
use palisade_resilience::circuit_breaker::error::CircuitOpen;
use palisade_resilience::circuit_breaker::{
    CircuitBreakerHandle, CircuitBreakerLayer, SlidingWindow, State,
};
use palisade_resilience::rate_limit::error::RateLimited;
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use palisade_resilience::registry::{
    BulkheadConfig, Kind, LayerConfig, Registry, RegistryError, TunableRate,
};
use tower::{Layer, Service, ServiceExt, service_fn};

const TASKS: usize = 8;
const CALLS_PER_TASK: usize = 250;

/// What the callers saw: calls answered by the inner service (success or
/// its error) and calls the breaker rejected.
#[derive(Debug, Default)]
struct Seen {
    answered: AtomicUsize,
    rejected: AtomicUsize,
}

/// Drives `TASKS` tasks of `CALLS_PER_TASK` calls each through clones of
/// `svc` on the multi-thread runtime, counting every outcome once:
/// `rejected` says which errors are the layer's rejections.
async fn load<S>(svc: S, rejected: fn(&BoxError) -> bool) -> Seen
where
    S: Service<(), Response = (), Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    let seen = Arc::new(Seen::default());
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let svc = svc.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                for _ in 0..CALLS_PER_TASK {
                    match svc.clone().oneshot(()).await {
                        Err(err) if rejected(&err) => seen.rejected.fetch_add(1, Ordering::SeqCst),
                        _ => seen.answered.fetch_add(1, Ordering::SeqCst),
                    };
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    Arc::try_unwrap(seen).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_threshold_lowered_at_run_time_takes_effect_on_the_next_calls_under_load() {
    let breaker = CircuitBreakerLayer::builder()
        .name("upstream")
        .sliding_window(SlidingWindow::count(100))
        .minimum_calls(100)
        .failure_rate_threshold(100.0)
        .build()
        .unwrap();
    let handle = breaker.handle();
    let registry = Registry::new();
    registry.register_breaker(handle.clone()).unwrap();
    let mut events = registry.subscribe();

    // Every fourth call fails until `always_fail` is set.
    let reached = Arc::new(AtomicUsize::new(0));
    let always_fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let svc = breaker.layer(service_fn({
        let reached = Arc::clone(&reached);
        let always_fail = Arc::clone(&always_fail);
        move |()| {
            let n = reached.fetch_add(1, Ordering::SeqCst);
            let fail = always_fail.load(Ordering::SeqCst) || n.is_multiple_of(4);
            async move {
                tokio::task::yield_now().await;
                if fail {
                    Err(BoxError::from("upstream failed"))
                } else {
                    Ok(())
                }
            }
        }
    }));

    // A quarter of the calls fail: far from 100 %, nothing is rejected and
    // every call is counted once, by the callers, the upstream and the window.
    let before = load(svc.clone(), |e| e.is::<CircuitOpen>()).await;
    let total = TASKS * CALLS_PER_TASK;
    assert_eq!(before.answered.load(Ordering::SeqCst), total);
    assert_eq!(before.rejected.load(Ordering::SeqCst), 0);
    assert_eq!(reached.load(Ordering::SeqCst), total);
    let snapshot = handle.snapshot();
    assert_eq!(snapshot.state, State::Closed);
    assert_eq!(snapshot.calls, 100, "the window holds its last 100 calls");
    assert_eq!(snapshot.rejected, 0);

    // 20 %: the window (about a quarter failures) is now over the threshold.
    let Some(LayerConfig::Breaker(mut config)) = registry.config("upstream") else {
        panic!("the breaker is registered");
    };
    assert_eq!(config.failure_rate_threshold, 100.0);
    config.failure_rate_threshold = 20.0;
    let changed = registry
        .reconfigure("upstream", LayerConfig::Breaker(config))
        .unwrap();
    assert_eq!(changed, events.try_recv().unwrap());
    assert_eq!(changed.kind(), Kind::Breaker);
    always_fail.store(true, Ordering::SeqCst);

    let after = load(svc, |e| e.is::<CircuitOpen>()).await;
    let answered = after.answered.load(Ordering::SeqCst);
    let rejected = after.rejected.load(Ordering::SeqCst);
    // Nothing lost, nothing counted twice.
    assert_eq!(answered + rejected, total);
    assert_eq!(reached.load(Ordering::SeqCst), total + answered);
    assert_eq!(handle.snapshot().rejected, rejected as u64);
    // It opened within the first calls judged after the change: those in
    // flight at the time, plus the few whose outcome equalled the one leaving
    // the window (a failure replacing a failure changes no rate).
    assert_eq!(handle.state(), State::Open);
    assert!(
        answered <= TASKS + 30,
        "{answered} calls passed after the change"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_change_keeps_the_old_settings_and_emits_nothing() {
    let breaker = CircuitBreakerLayer::builder().name("db").build().unwrap();
    let bulkhead = BulkheadLayer::builder().name("pool").build().unwrap();
    let registry = Registry::new();
    registry.register_breaker(breaker.handle()).unwrap();
    registry.register_bulkhead(bulkhead.handle()).unwrap();
    let mut events = registry.subscribe();
    let Some(LayerConfig::Breaker(old)) = registry.config("db") else {
        panic!("registered");
    };

    let mut bad = old;
    bad.failure_rate_threshold = f64::NAN;
    let err = registry
        .reconfigure("db", LayerConfig::Breaker(bad))
        .unwrap_err();
    assert_eq!(
        err,
        RegistryError::Invalid {
            name: "db".into(),
            error: ConfigError::NotFinite {
                field: "failure_rate_threshold"
            }
        }
    );
    bad = old;
    bad.wait_duration_in_open = Duration::ZERO;
    assert!(matches!(
        registry.reconfigure("db", LayerConfig::Breaker(bad)),
        Err(RegistryError::Invalid { .. })
    ));
    let huge = NonZeroUsize::new(usize::MAX).unwrap();
    assert!(matches!(
        registry.reconfigure("pool", LayerConfig::Bulkhead(BulkheadConfig::new(huge))),
        Err(RegistryError::Invalid { .. })
    ));
    assert_eq!(
        registry
            .reconfigure("pool", LayerConfig::Breaker(old))
            .unwrap_err(),
        RegistryError::KindMismatch {
            name: "pool".into(),
            registered: Kind::Bulkhead,
            given: Kind::Breaker
        }
    );
    assert!(matches!(
        registry.reconfigure("nope", LayerConfig::Breaker(old)),
        Err(RegistryError::UnknownName { .. })
    ));
    assert!(matches!(
        registry.register_breaker(breaker.handle()),
        Err(RegistryError::DuplicateName { .. })
    ));

    assert_eq!(registry.config("db"), Some(LayerConfig::Breaker(old)));
    assert_eq!(bulkhead.handle().max_concurrent(), 25);
    assert!(events.try_recv().is_err(), "no event for a refused change");
}

#[tokio::test(start_paused = true)]
async fn a_new_wait_in_open_applies_to_the_next_opening() {
    let breaker = CircuitBreakerLayer::builder()
        .name("db")
        .consecutive_failures(NonZeroU32::MIN)
        .wait_duration_in_open(Duration::from_secs(30))
        .build()
        .unwrap();
    let handle = breaker.handle();
    let registry = Registry::new();
    registry.register_breaker(handle.clone()).unwrap();
    let Some(LayerConfig::Breaker(mut config)) = registry.config("db") else {
        panic!("registered");
    };
    config.wait_duration_in_open = Duration::from_secs(2);
    registry
        .reconfigure("db", LayerConfig::Breaker(config))
        .unwrap();

    let svc = breaker.layer(service_fn(|()| async {
        Err::<(), _>(BoxError::from("down"))
    }));
    let _ = svc.clone().oneshot(()).await;
    assert_eq!(handle.state(), State::Open);
    let err = svc.clone().oneshot(()).await.unwrap_err();
    let open = err.downcast_ref::<CircuitOpen>().unwrap();
    assert_eq!(open.retry_after(), Some(Duration::from_secs(2)));
}

/// Holds every call until `release` is notified, tracking how many run at once.
#[derive(Clone, Default)]
struct Gate {
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

#[tokio::test(start_paused = true)]
async fn a_bulkhead_limit_moves_without_interrupting_calls_in_flight() {
    let bulkhead = BulkheadLayer::builder()
        .name("pool")
        .max_concurrent(NonZeroUsize::new(4).unwrap())
        .build()
        .unwrap();
    let handle = bulkhead.handle();
    let registry = Registry::new();
    registry.register_bulkhead(handle.clone()).unwrap();
    let svc = bulkhead.layer(service_fn(|secs: u64| async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        Ok::<_, BoxError>(secs)
    }));

    // Four calls in flight, ending after 1, 2, 3 and 4 s.
    let running: Vec<_> = (1..=4)
        .map(|s| tokio::spawn(svc.clone().oneshot(s)))
        .collect();
    tokio::task::yield_now().await;
    assert_eq!(handle.in_flight(), 4);

    let two = BulkheadConfig::new(NonZeroUsize::new(2).unwrap());
    registry
        .reconfigure("pool", LayerConfig::Bulkhead(two))
        .unwrap();
    assert_eq!(handle.max_concurrent(), 2);
    assert_eq!(handle.in_flight(), 4, "calls in flight keep their permits");
    let err = svc.clone().oneshot(10).await.unwrap_err();
    assert!(err.is::<BulkheadFull>());

    // The first two to finish pay back the permits over the new limit.
    tokio::time::advance(Duration::from_millis(2500)).await;
    tokio::task::yield_now().await;
    assert_eq!(handle.in_flight(), 2);
    assert_eq!(handle.available(), 0);
    assert!(
        svc.clone()
            .oneshot(10)
            .await
            .unwrap_err()
            .is::<BulkheadFull>()
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    tokio::task::yield_now().await;
    assert_eq!((handle.in_flight(), handle.available()), (1, 1));

    // Raising it frees permits at once.
    let five = BulkheadConfig::new(NonZeroUsize::new(5).unwrap());
    registry
        .reconfigure("pool", LayerConfig::Bulkhead(five))
        .unwrap();
    assert_eq!((handle.in_flight(), handle.available()), (1, 4));
    for call in running {
        assert!(
            call.await.unwrap().is_ok(),
            "no call in flight was interrupted"
        );
    }
    assert_eq!(handle.available(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lowered_bulkhead_limit_holds_under_load() {
    let bulkhead = BulkheadLayer::builder()
        .name("pool")
        .max_concurrent(NonZeroUsize::new(6).unwrap())
        .build()
        .unwrap();
    let registry = Registry::new();
    registry.register_bulkhead(bulkhead.handle()).unwrap();
    let two = BulkheadConfig::new(NonZeroUsize::new(2).unwrap());
    registry
        .reconfigure("pool", LayerConfig::Bulkhead(two))
        .unwrap();

    let gate = Gate::default();
    let svc = bulkhead.layer(service_fn({
        let gate = gate.clone();
        move |()| {
            let gate = gate.clone();
            async move {
                let now = gate.running.fetch_add(1, Ordering::SeqCst) + 1;
                gate.most.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                gate.running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, BoxError>(())
            }
        }
    }));
    let seen = load(svc, |e| e.is::<BulkheadFull>()).await;
    let (ok, full) = (
        seen.answered.load(Ordering::SeqCst),
        seen.rejected.load(Ordering::SeqCst),
    );
    assert_eq!(ok + full, TASKS * CALLS_PER_TASK);
    assert!(ok > 0);
    assert!(gate.most.load(Ordering::SeqCst) <= 2, "at most 2 at once");
    assert_eq!(bulkhead.handle().available(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_new_quota_applies_to_the_next_call() {
    let limiter = RateLimitLayer::new(TunableRate::new(Quota::per_second(NonZeroU32::MIN)));
    let registry = Registry::new();
    registry.register_rate_limit("api", &limiter).unwrap();
    let mut events = registry.subscribe();
    let svc = limiter.layer(service_fn(|()| async { Ok::<_, BoxError>(()) }));

    svc.clone().oneshot(()).await.unwrap();
    assert!(
        svc.clone()
            .oneshot(())
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );

    let ten = Quota::per_second(NonZeroU32::new(10).unwrap());
    registry
        .reconfigure("api", LayerConfig::RateLimit(ten))
        .unwrap();
    let event = events.recv().await.unwrap();
    assert_eq!(
        event.before,
        LayerConfig::RateLimit(Quota::per_second(NonZeroU32::MIN))
    );
    assert_eq!(event.after, LayerConfig::RateLimit(ten));
    for _ in 0..10 {
        svc.clone().oneshot(()).await.unwrap();
    }
    assert!(
        svc.clone()
            .oneshot(())
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );

    let listed = registry.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].config, LayerConfig::RateLimit(ten));
    assert_eq!(listed[0].handle.kind(), Kind::RateLimit);
}

/// Fails when asked to.
fn fails_when_asked() -> impl Service<bool, Response = (), Error = BoxError, Future: Send> + Clone {
    service_fn(|fail: bool| async move {
        if fail {
            Err(BoxError::from("down"))
        } else {
            Ok(())
        }
    })
}

/// Sends `calls` calls through `svc`, each failing or not, and returns how
/// many the breaker rejected.
async fn calls<S>(svc: &S, fail: bool, calls: usize) -> usize
where
    S: Service<bool, Response = (), Error = BoxError> + Clone,
{
    let mut rejected = 0;
    for _ in 0..calls {
        if let Err(err) = svc.clone().oneshot(fail).await
            && err.is::<CircuitOpen>()
        {
            rejected += 1;
        }
    }
    rejected
}

/// A breaker `db` over the last 10 calls, opening at 50 % failures once it
/// holds `minimum_calls`, registered in a fresh registry.
fn registered_db(minimum_calls: u32) -> (CircuitBreakerLayer, CircuitBreakerHandle, Registry) {
    let breaker = CircuitBreakerLayer::builder()
        .name("db")
        .sliding_window(SlidingWindow::count(10))
        .minimum_calls(minimum_calls)
        .failure_rate_threshold(50.0)
        .build()
        .unwrap();
    let handle = breaker.handle();
    let registry = Registry::new();
    registry.register_breaker(handle.clone()).unwrap();
    (breaker, handle, registry)
}

/// The breaker's settings in the registry.
fn breaker_config(registry: &Registry, name: &str) -> palisade_resilience::registry::BreakerConfig {
    match registry.config(name) {
        Some(LayerConfig::Breaker(config)) => config,
        other => panic!("{name} is not a registered breaker: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_smaller_count_window_opens_the_breaker_after_fewer_failures() {
    let (breaker, handle, registry) = registered_db(10);
    let mut events = registry.subscribe();
    let svc = breaker.layer(fails_when_asked());

    // Four failures of a window of ten, judged from ten calls on: closed.
    assert_eq!(calls(&svc, true, 4).await, 0);
    assert_eq!(handle.snapshot().failures, 4);
    assert_eq!(handle.state(), State::Closed);

    let mut config = breaker_config(&registry, "db");
    assert_eq!(config.sliding_window, SlidingWindow::count(10));
    config.sliding_window = SlidingWindow::count(4);
    config.minimum_calls = 4;
    let changed = registry
        .reconfigure("db", LayerConfig::Breaker(config))
        .unwrap();
    assert_eq!(changed, events.try_recv().unwrap());
    assert!(events.try_recv().is_err(), "one change, one event");
    let LayerConfig::Breaker(before) = changed.before else {
        panic!("a breaker's change")
    };
    assert_eq!(
        (before.sliding_window, before.minimum_calls),
        (SlidingWindow::count(10), 10)
    );
    assert_eq!(changed.after, LayerConfig::Breaker(config));
    assert_eq!(breaker_config(&registry, "db"), config);

    // The window started over: the four failures before the change are gone.
    assert_eq!(
        (handle.snapshot().calls, handle.state()),
        (0, State::Closed)
    );
    assert_eq!(calls(&svc, true, 3).await, 0);
    assert_eq!(handle.state(), State::Closed, "three calls of four");
    assert_eq!(calls(&svc, true, 1).await, 0);
    assert_eq!(handle.state(), State::Open, "four failures open it now");
    assert_eq!(calls(&svc, false, 1).await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_time_window_in_place_of_a_count_window_judges_only_calls_after_the_change() {
    let (breaker, handle, registry) = registered_db(4);
    let svc = breaker.layer(fails_when_asked());

    assert_eq!(calls(&svc, true, 3).await, 0);
    let mut config = breaker_config(&registry, "db");
    let ten_seconds = SlidingWindow::time(Duration::from_secs(10), 10);
    config.sliding_window = ten_seconds;
    registry
        .reconfigure("db", LayerConfig::Breaker(config))
        .unwrap();
    assert_eq!(breaker_config(&registry, "db").sliding_window, ten_seconds);

    // The three failures before the change do not count: three more make
    // three in the window, one short of the minimum.
    assert_eq!(handle.snapshot().calls, 0);
    assert_eq!(calls(&svc, true, 3).await, 0);
    let snapshot = handle.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (3, 3));
    assert_eq!(snapshot.state, State::Closed);

    // Ten seconds later they have left the window (it is a time window now,
    // timed by the breaker's clock): three more are again three.
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(handle.snapshot().calls, 0, "expired");
    assert_eq!(calls(&svc, true, 3).await, 0);
    assert_eq!(handle.state(), State::Closed);
    // A fourth within the window reaches the minimum and opens it.
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(calls(&svc, true, 1).await, 0);
    assert_eq!(handle.state(), State::Open);
}

/// `CALLS_PER_TASK` successful calls through `svc`; the one numbered
/// `wait_at` is asked to wait.
async fn calls_waiting_at<S>(svc: S, wait_at: usize)
where
    S: Service<bool, Response = (), Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    for i in 0..CALLS_PER_TASK {
        svc.clone().oneshot(i == wait_at).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_completing_across_a_window_swap_are_counted_once() {
    let breaker = CircuitBreakerLayer::builder()
        .name("upstream")
        .sliding_window(SlidingWindow::count(100))
        .build()
        .unwrap();
    let handle = breaker.handle();
    let registry = Registry::new();
    registry.register_breaker(handle.clone()).unwrap();
    let total = TASKS * CALLS_PER_TASK;

    // Every call succeeds. A call asked to wait holds in the upstream until
    // the new window is in place: admitted before the swap, it completes
    // after it.
    let waiting = Arc::new(AtomicUsize::new(0));
    let (swapped, swap_seen) = tokio::sync::watch::channel(false);
    let svc = breaker.layer(service_fn({
        let waiting = Arc::clone(&waiting);
        move |wait: bool| {
            let waiting = Arc::clone(&waiting);
            let mut swap_seen = swap_seen.clone();
            async move {
                if wait {
                    waiting.fetch_add(1, Ordering::SeqCst);
                    swap_seen.wait_for(|swapped| *swapped).await.unwrap();
                }
                tokio::task::yield_now().await;
                Ok::<_, BoxError>(())
            }
        }
    }));

    // Each task makes a quarter of its calls, then one that waits for the
    // swap, then the rest.
    let quarter = CALLS_PER_TASK / 4;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| tokio::spawn(calls_waiting_at(svc.clone(), quarter)))
        .collect();
    // Once every task's call waits, the calls before them have completed.
    while waiting.load(Ordering::SeqCst) < TASKS {
        tokio::task::yield_now().await;
    }
    assert_eq!(handle.snapshot().calls, 100, "the old window is full");
    // An hour-long window, swapped in under the waiting calls.
    let mut config = breaker_config(&registry, "upstream");
    config.sliding_window = SlidingWindow::time(Duration::from_secs(3_600), 60);
    registry
        .reconfigure("upstream", LayerConfig::Breaker(config))
        .unwrap();
    assert_eq!(handle.snapshot().calls, 0);
    swapped.send(true).unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    // The new window holds the calls that completed after the swap, the
    // `TASKS` in flight across it included, each once.
    let after = TASKS * (CALLS_PER_TASK - quarter);
    assert_eq!(handle.snapshot().calls, after as u64);
    let svc = svc.map_request(|()| false);

    // Swapped while no call is in flight: the new window holds exactly the
    // calls made since, none lost, none counted twice...
    config.sliding_window = SlidingWindow::count(5_000);
    registry
        .reconfigure("upstream", LayerConfig::Breaker(config))
        .unwrap();
    assert_eq!(handle.snapshot().calls, 0);
    load(svc.clone(), |e| e.is::<CircuitOpen>()).await;
    assert_eq!(handle.snapshot().calls, total as u64);
    load(svc.clone(), |e| e.is::<CircuitOpen>()).await;
    assert_eq!(handle.snapshot().calls, 2 * total as u64);
    // ...and a window smaller than the calls holds its size.
    config.sliding_window = SlidingWindow::count(100);
    registry
        .reconfigure("upstream", LayerConfig::Breaker(config))
        .unwrap();
    load(svc, |e| e.is::<CircuitOpen>()).await;
    let snapshot = handle.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (100, 0));
    assert_eq!(snapshot.state, State::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_invalid_window_is_refused_and_the_window_keeps_its_counts() {
    let (breaker, handle, registry) = registered_db(10);
    let mut events = registry.subscribe();
    let svc = breaker.layer(fails_when_asked());
    assert_eq!(calls(&svc, true, 3).await, 0);
    let old = breaker_config(&registry, "db");

    let refused = |window: SlidingWindow| {
        let mut bad = old;
        bad.sliding_window = window;
        match registry.reconfigure("db", LayerConfig::Breaker(bad)) {
            Err(RegistryError::Invalid { error, .. }) => error,
            other => panic!("{window:?} was not refused: {other:?}"),
        }
    };
    assert_eq!(
        refused(SlidingWindow::count(0)),
        ConfigError::Zero {
            field: "sliding_window"
        }
    );
    // Ten buckets of 5 ns do not divide into whole nanoseconds.
    assert_eq!(
        refused(SlidingWindow::time(Duration::from_nanos(5), 10)),
        ConfigError::Zero {
            field: "sliding_window.duration"
        }
    );
    assert!(matches!(
        refused(SlidingWindow::time(Duration::from_secs(10), 0)),
        ConfigError::Zero { .. }
    ));
    assert!(matches!(
        refused(SlidingWindow::count(1_000_001)),
        ConfigError::OutOfRange { .. }
    ));
    // The builder refuses the same.
    assert!(
        CircuitBreakerLayer::builder()
            .sliding_window(SlidingWindow::time(Duration::from_nanos(5), 10))
            .build()
            .is_err()
    );

    assert!(events.try_recv().is_err(), "no event for a refused change");
    assert_eq!(breaker_config(&registry, "db"), old);
    let snapshot = handle.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (3, 3));

    // The same window given again with another threshold keeps the counts.
    let mut same = old;
    same.failure_rate_threshold = 90.0;
    registry
        .reconfigure("db", LayerConfig::Breaker(same))
        .unwrap();
    let snapshot = handle.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (3, 3));
}

/// The layers with live state but no run-time settings, registered next to
/// a breaker.
#[cfg(all(
    feature = "adaptive",
    feature = "outlier",
    feature = "throttle",
    feature = "hedge"
))]
mod without_settings {
    use std::num::{NonZeroU32, NonZeroUsize};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use palisade_resilience::BoxError;
    use palisade_resilience::adaptive::{AdaptiveLimitHandle, AdaptiveLimitLayer};
    use palisade_resilience::circuit_breaker::CircuitBreakerLayer;
    use palisade_resilience::hedge::{HedgeDelay, HedgeLayer};
    use palisade_resilience::outlier::{OutlierDetector, OutlierHandle};
    use palisade_resilience::registry::{Handle, Kind, LayerConfig, Registry, RegistryError};
    use palisade_resilience::throttle::{Global, ThrottleHandle, ThrottleLayer, error::Throttled};
    use tokio::sync::broadcast::error::TryRecvError;
    use tower::{Layer, Service, ServiceExt, service_fn};

    /// One of each, built and registered under the names `db` (a breaker),
    /// `search`, `pool`, `upstream` and `replicas`.
    struct Layers {
        breaker: CircuitBreakerLayer,
        adaptive: AdaptiveLimitLayer,
        detector: OutlierDetector,
        throttle: ThrottleLayer,
        hedge: HedgeLayer,
    }

    fn layers() -> Layers {
        Layers {
            breaker: CircuitBreakerLayer::builder().name("db").build().unwrap(),
            adaptive: AdaptiveLimitLayer::builder()
                .name("search")
                .initial_limit(NonZeroUsize::MIN)
                .build()
                .unwrap(),
            detector: OutlierDetector::builder()
                .name("pool")
                .consecutive_errors(NonZeroU32::new(3).unwrap())
                .build()
                .unwrap(),
            throttle: ThrottleLayer::builder()
                .name("upstream")
                .seed(7)
                .build()
                .unwrap(),
            hedge: HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(20)))
                .build()
                .unwrap(),
        }
    }

    fn register(registry: &Registry, layers: &Layers) {
        registry.register_breaker(layers.breaker.handle()).unwrap();
        registry
            .register_adaptive(layers.adaptive.handle())
            .unwrap();
        registry.register_outlier(layers.detector.handle()).unwrap();
        registry
            .register_throttle(layers.throttle.handle())
            .unwrap();
        registry
            .register_hedge("replicas", layers.hedge.handle())
            .unwrap();
    }

    fn adaptive(registry: &Registry) -> AdaptiveLimitHandle {
        match registry.list().into_iter().nth(1).unwrap().handle {
            Handle::AdaptiveLimit(handle) => handle,
            other => panic!("{other:?}"),
        }
    }

    fn outlier(registry: &Registry) -> OutlierHandle {
        match registry.list().into_iter().nth(2).unwrap().handle {
            Handle::Outlier(handle) => handle,
            other => panic!("{other:?}"),
        }
    }

    fn throttle(registry: &Registry) -> ThrottleHandle<Global> {
        match registry.list().into_iter().nth(3).unwrap().handle {
            Handle::Throttle(handle) => handle,
            other => panic!("{other:?}"),
        }
    }

    /// Drives a call through each layer: one held in flight under the
    /// adaptive limit (returned, to keep holding it), three failures of the
    /// pool's endpoint `b`, 200 calls refused by the throttle's upstream
    /// (returns how many the throttle refused itself) and one slow call
    /// answered by its hedge. The pool's endpoints are returned too: the
    /// pool is the endpoints alive.
    async fn drive(
        layers: &Layers,
    ) -> (impl Future<Output = Result<(), BoxError>>, u64, impl Sized) {
        let mut limited = layers.adaptive.layer(service_fn(|()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, BoxError>(())
        }));
        let held = limited.ready().await.unwrap().call(());

        let a = layers
            .detector
            .endpoint("a", service_fn(|()| async { Ok::<_, BoxError>(()) }));
        let mut b = layers.detector.endpoint(
            "b",
            service_fn(|()| async { Err::<(), BoxError>("b is down".into()) }),
        );
        for _ in 0..3 {
            b.ready().await.unwrap().call(()).await.unwrap_err();
        }

        let throttled = layers
            .throttle
            .layer(service_fn(|()| async { Err::<(), _>("overloaded") }));
        let mut refused = 0;
        for _ in 0..200 {
            let err = throttled.clone().oneshot(()).await.unwrap_err();
            refused += u64::from(err.is::<Throttled>());
        }

        let calls = Arc::new(AtomicU32::new(0));
        let hedged = layers.hedge.layer(service_fn(move |()| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                let latency = if n == 0 { 1_000 } else { 10 };
                tokio::time::sleep(Duration::from_millis(latency)).await;
                Ok::<_, BoxError>(())
            }
        }));
        hedged.oneshot(()).await.unwrap();

        (held, refused, (a, b))
    }

    #[tokio::test(start_paused = true)]
    async fn every_stateful_layer_is_listed_in_order_with_its_live_state() {
        let layers = layers();
        let registry = Registry::new();
        register(&registry, &layers);

        let listed: Vec<_> = registry
            .list()
            .into_iter()
            .map(|entry| (entry.name.to_string(), entry.handle.kind(), entry.config))
            .collect();
        let names: Vec<_> = listed.iter().map(|(name, ..)| name.as_str()).collect();
        assert_eq!(names, ["db", "search", "pool", "upstream", "replicas"]);
        let kinds: Vec<_> = listed.iter().map(|(_, kind, _)| kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["breaker", "adaptive_limit", "outlier", "throttle", "hedge"]
        );
        assert!(matches!(listed[0].2, LayerConfig::Breaker(_)));
        for (name, kind, config) in &listed[1..] {
            assert_eq!(*config, LayerConfig::NoSettings(*kind));
            assert_eq!(registry.config(name), Some(*config));
        }

        // Nothing has gone through them yet.
        assert_eq!(adaptive(&registry).in_flight(), 0);
        assert!(outlier(&registry).ejected().is_empty());
        assert_eq!(throttle(&registry).rejected_total(), 0);

        let (held, refused, _pool) = drive(&layers).await;

        // The listed handles show what the calls did.
        let limit = adaptive(&registry);
        assert_eq!((limit.limit(), limit.in_flight()), (1, 1));
        assert_eq!(outlier(&registry).ejected(), ["b"]);
        assert_eq!(outlier(&registry).ejections(), 1);
        let throttle = throttle(&registry);
        assert!(refused > 0);
        assert_eq!(throttle.rejected_total(), refused);
        assert!(throttle.reject_probability() > 0.5);
        let Handle::Hedge(hedge) = &registry.list()[4].handle else {
            panic!("not a hedge")
        };
        assert_eq!((hedge.hedges_sent(), hedge.hedges_won()), (1, 1));

        held.await.unwrap();
        assert_eq!(adaptive(&registry).in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_layer_without_settings_is_not_reconfigured_and_the_breaker_still_is() {
        let layers = layers();
        let registry = Registry::new();
        register(&registry, &layers);
        let mut events = registry.subscribe();

        for (name, kind) in [
            ("search", Kind::AdaptiveLimit),
            ("pool", Kind::Outlier),
            ("upstream", Kind::Throttle),
            ("replicas", Kind::Hedge),
        ] {
            // Its own (empty) settings given back...
            let refused = registry
                .reconfigure(name, LayerConfig::NoSettings(kind))
                .unwrap_err();
            assert_eq!(
                refused,
                RegistryError::NotReconfigurable {
                    name: name.to_owned(),
                    kind
                }
            );
            assert!(refused.to_string().contains(name), "{refused}");
            assert!(
                refused.to_string().contains("no run-time settings"),
                "{refused}"
            );
            // ...or a breaker's: still no run-time settings.
            let breaker = registry.config("db").unwrap();
            assert!(matches!(
                registry.reconfigure(name, breaker),
                Err(RegistryError::NotReconfigurable { .. })
            ));
            assert_eq!(registry.config(name), Some(LayerConfig::NoSettings(kind)));
        }
        assert_eq!(events.try_recv().unwrap_err(), TryRecvError::Empty);

        // A breaker given no settings is refused too, and keeps its own.
        let before = registry.config("db").unwrap();
        let refused = registry
            .reconfigure("db", LayerConfig::NoSettings(Kind::Breaker))
            .unwrap_err();
        assert!(matches!(refused, RegistryError::KindMismatch { .. }));
        assert_eq!(registry.config("db"), Some(before));
        assert_eq!(events.try_recv().unwrap_err(), TryRecvError::Empty);

        // The breaker next to them still changes, as one event.
        let Some(LayerConfig::Breaker(mut config)) = registry.config("db") else {
            panic!("not a breaker")
        };
        config.failure_rate_threshold = 25.0;
        registry
            .reconfigure("db", LayerConfig::Breaker(config))
            .unwrap();
        let event = events.try_recv().unwrap();
        assert_eq!(&*event.name, "db");
        assert_eq!(event.after, LayerConfig::Breaker(config));
        assert_eq!(registry.config("db"), Some(LayerConfig::Breaker(config)));
        assert_eq!(events.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[cfg(feature = "health")]
    #[tokio::test(start_paused = true)]
    async fn the_health_report_covers_every_registered_layer() {
        use palisade_resilience::health::{HealthRegistry, Status};

        let layers = layers();
        let health = HealthRegistry::new();
        let registry = Registry::with_health(health.clone());
        register(&registry, &layers);

        let report = health.check();
        let seen: Vec<_> = report
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.health.kind, c.health.status))
            .collect();
        assert_eq!(
            seen,
            [
                ("db", "circuit_breaker", Status::Healthy),
                ("search", "adaptive_limit", Status::Healthy),
                ("pool", "outlier_detector", Status::Healthy),
                ("upstream", "throttle", Status::Healthy),
                ("replicas", "hedge", Status::Healthy),
            ]
        );

        let (held, refused, _pool) = drive(&layers).await;
        let report = health.check();
        let by_name = |name: &str| {
            report
                .components
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .health
                .clone()
        };
        // At its limit: degraded. One endpoint out: degraded.
        assert_eq!(by_name("search").status, Status::Degraded);
        assert_eq!(by_name("search").in_flight, Some(1));
        assert_eq!(by_name("pool").status, Status::Degraded);
        assert_eq!(by_name("pool").state, "1 of 2 endpoints ejected");
        // Refusing calls locally is the throttle's job: healthy, counted.
        let throttle = by_name("upstream");
        assert_eq!(throttle.status, Status::Healthy);
        assert_eq!(throttle.rejections, refused);
        assert_eq!(throttle.success_rate, None);
        // 200 requests, none accepted: 200 / 201.
        assert_eq!(throttle.state, "reject probability 99.5%");
        // A call answered by its hedge was answered.
        let hedge = by_name("replicas");
        assert_eq!(hedge.status, Status::Healthy);
        assert_eq!(hedge.state, "delay 20ms, hedges sent 1, won 1");
        assert_eq!(report.status, Status::Degraded);
        held.await.unwrap();
    }

    #[test]
    fn a_taken_name_is_refused_for_every_kind() {
        let layers = layers();
        let registry = Registry::new();
        register(&registry, &layers);

        let taken = |name: &str| RegistryError::DuplicateName {
            name: name.to_owned(),
        };
        // Under the breaker's name, or another layer's of the same kind.
        assert_eq!(
            registry.register_hedge("db", layers.hedge.handle()),
            Err(taken("db"))
        );
        assert_eq!(
            registry.register_hedge("replicas", layers.hedge.handle()),
            Err(taken("replicas"))
        );
        assert_eq!(
            registry.register_adaptive(layers.adaptive.handle()),
            Err(taken("search"))
        );
        assert_eq!(
            registry.register_outlier(layers.detector.handle()),
            Err(taken("pool"))
        );
        let throttle = ThrottleLayer::builder().name("db").build().unwrap();
        assert_eq!(
            registry.register_throttle(throttle.handle()),
            Err(taken("db"))
        );
        let breaker = CircuitBreakerLayer::builder()
            .name("upstream")
            .build()
            .unwrap();
        assert_eq!(
            registry.register_breaker(breaker.handle()),
            Err(taken("upstream"))
        );

        // The entries registered first are still there, unchanged.
        let kinds: Vec<_> = registry
            .list()
            .into_iter()
            .map(|e| e.handle.kind())
            .collect();
        assert_eq!(
            kinds,
            [
                Kind::Breaker,
                Kind::AdaptiveLimit,
                Kind::Outlier,
                Kind::Throttle,
                Kind::Hedge
            ]
        );
    }
}
