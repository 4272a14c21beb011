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
use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow, State};
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
