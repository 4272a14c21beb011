//! Breaker additions: the consecutive-failures model, the MetricsOnly state
//! and the Open → HalfOpen timer.
#![cfg(feature = "circuit-breaker")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use palisade_resilience::BoxError;
use palisade_resilience::circuit_breaker::{
    CircuitBreakerLayer, SlidingWindow, State, error::CircuitOpen,
};
use tower::{Layer, Service, ServiceExt, service_fn};

/// A service that fails when asked to, counting the calls that reach it.
fn upstream(
    reached: &Arc<AtomicUsize>,
) -> impl Service<bool, Response = (), Error = BoxError, Future: Send> + Clone {
    let reached = Arc::clone(reached);
    service_fn(move |fail: bool| {
        reached.fetch_add(1, Ordering::SeqCst);
        async move {
            if fail {
                Err::<(), BoxError>("upstream failed".into())
            } else {
                Ok(())
            }
        }
    })
}

async fn call<S>(svc: &S, fail: bool) -> Result<(), BoxError>
where
    S: Service<bool, Response = (), Error = BoxError> + Clone,
{
    svc.clone().oneshot(fail).await
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_the_breaker_whatever_the_rate() {
    let layer = CircuitBreakerLayer::builder()
        .name("streak")
        // The rate alone would need 100 calls before judging.
        .sliding_window(SlidingWindow::count(100))
        .minimum_calls(100)
        .consecutive_failures(NonZeroU32::new(3).unwrap())
        .build()
        .unwrap();
    let handle = layer.handle();
    let reached = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(upstream(&reached));

    // Two failures, then a success: the run is broken.
    call(&svc, true).await.unwrap_err();
    call(&svc, true).await.unwrap_err();
    call(&svc, false).await.unwrap();
    call(&svc, true).await.unwrap_err();
    call(&svc, true).await.unwrap_err();
    assert_eq!(handle.state(), State::Closed);
    // The third failure in a row opens it.
    call(&svc, true).await.unwrap_err();
    assert_eq!(handle.state(), State::Open);
    let err = call(&svc, false).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(
        reached.load(Ordering::SeqCst),
        6,
        "the rejected call never reached it"
    );

    // Closing starts a new run: two failures do not open it again.
    handle.reset();
    call(&svc, true).await.unwrap_err();
    call(&svc, true).await.unwrap_err();
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn without_the_model_a_run_of_failures_waits_for_the_rate() {
    let layer = CircuitBreakerLayer::builder()
        .sliding_window(SlidingWindow::count(100))
        .minimum_calls(100)
        .build()
        .unwrap();
    let handle = layer.handle();
    let reached = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(upstream(&reached));
    for _ in 0..10 {
        call(&svc, true).await.unwrap_err();
    }
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn metrics_only_records_and_reports_but_never_rejects() {
    let layer = CircuitBreakerLayer::builder()
        .name("shadow")
        .sliding_window(SlidingWindow::count(10))
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .consecutive_failures(NonZeroU32::new(3).unwrap())
        .metrics_only(true)
        .build()
        .unwrap();
    let handle = layer.handle();
    assert_eq!(handle.state(), State::MetricsOnly);
    let reached = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(upstream(&reached));

    for _ in 0..20 {
        let err = call(&svc, true).await.unwrap_err();
        assert!(!err.is::<CircuitOpen>());
    }
    // Every call reached the upstream and was recorded.
    assert_eq!(reached.load(Ordering::SeqCst), 20);
    let snapshot = handle.snapshot();
    assert_eq!(snapshot.state, State::MetricsOnly);
    assert_eq!((snapshot.calls, snapshot.failures), (10, 10));
    assert_eq!(snapshot.rejected, 0);

    // Reset: the breaker acts on the same thresholds.
    handle.reset();
    for _ in 0..3 {
        call(&svc, true).await.unwrap_err();
    }
    assert_eq!(handle.state(), State::Open);
    assert!(call(&svc, false).await.unwrap_err().is::<CircuitOpen>());

    // And by hand back to MetricsOnly from Open: calls pass again.
    handle.metrics_only();
    call(&svc, false).await.unwrap();
    assert_eq!(handle.state(), State::MetricsOnly);
}

#[cfg(feature = "health")]
#[tokio::test(start_paused = true)]
async fn metrics_only_is_healthy_and_reports_its_success_rate() {
    use palisade_resilience::health::{HealthRegistry, Status};

    let layer = CircuitBreakerLayer::builder()
        .sliding_window(SlidingWindow::count(4))
        .minimum_calls(4)
        .metrics_only(true)
        .build()
        .unwrap();
    let registry = HealthRegistry::new();
    registry.register("shadow", layer.handle());
    let reached = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(upstream(&reached));
    for fail in [true, true, true, false] {
        let _ = call(&svc, fail).await;
    }
    let report = registry.check();
    let shadow = &report.components[0].health;
    assert_eq!(shadow.state, "metrics_only");
    assert_eq!(shadow.success_rate, Some(25.0));
    assert_ne!(shadow.status, Status::Unhealthy);
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn metrics_only_counts_where_it_would_have_opened() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let layer = CircuitBreakerLayer::builder()
        .name("shadow_metrics")
        .sliding_window(SlidingWindow::count(100))
        .minimum_calls(100)
        .consecutive_failures(NonZeroU32::new(2).unwrap())
        .metrics_only(true)
        .build()
        .unwrap();
    let reached = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(upstream(&reached));
    for _ in 0..4 {
        call(&svc, true).await.unwrap_err();
    }
    let would_open = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == "palisade_circuit_breaker_would_open_total")
        .map(|(.., value)| value);
    // Two runs of two failures each.
    assert_eq!(would_open, Some(DebugValue::Counter(2)));
}

/// Opens the breaker behind `svc` with one failing call.
async fn trip<S>(svc: &S)
where
    S: Service<bool, Response = (), Error = BoxError> + Clone,
{
    call(svc, true).await.unwrap_err();
}

fn one_failure_opens() -> palisade_resilience::circuit_breaker::CircuitBreakerLayerBuilder {
    CircuitBreakerLayer::builder()
        .sliding_window(SlidingWindow::count(1))
        .minimum_calls(1)
        .permitted_calls_in_half_open(1)
        .wait_duration_in_open(std::time::Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn the_timer_moves_open_to_half_open_without_a_call() {
    use std::time::Duration;

    let layer = one_failure_opens()
        .open_to_half_open_timer(true)
        .build()
        .unwrap();
    let handle = layer.handle();
    let reached = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(upstream(&reached));
    trip(&svc).await;
    assert_eq!(handle.state(), State::Open);

    tokio::time::sleep(Duration::from_millis(9_999)).await;
    assert_eq!(handle.state(), State::Open, "not before the wait is over");
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    assert_eq!(handle.state(), State::HalfOpen, "no call was needed");
    // The probe passes and closes it.
    call(&svc, false).await.unwrap();
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn without_the_timer_open_lasts_until_a_call() {
    use std::time::Duration;

    let layer = one_failure_opens().build().unwrap();
    let handle = layer.handle();
    let reached = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(upstream(&reached));
    trip(&svc).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_stale_timer_leaves_a_reset_breaker_alone() {
    use std::time::Duration;

    let layer = one_failure_opens()
        .open_to_half_open_timer(true)
        .build()
        .unwrap();
    let handle = layer.handle();
    let reached = Arc::new(AtomicUsize::new(0));
    let svc = layer.layer(upstream(&reached));
    trip(&svc).await;
    handle.reset();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(handle.state(), State::Closed);
}

#[cfg(feature = "http")]
mod result_driven {
    use std::time::Duration;

    use palisade_resilience::circuit_breaker::{
        BreakOnRetryAfter, CircuitBreakerLayer, SlidingWindow, State, error::CircuitOpen,
    };
    use palisade_resilience::classify::ServerErrorsAreFailures;
    use tower::{Layer, ServiceExt, service_fn};

    type Answer = (u16, Option<&'static str>);

    fn respond(
        (status, retry_after): Answer,
    ) -> Result<http::Response<()>, std::convert::Infallible> {
        let mut response = http::Response::builder().status(status);
        if let Some(after) = retry_after {
            response = response.header("retry-after", after);
        }
        Ok(response.body(()).unwrap())
    }

    fn layer(
        max: Option<Duration>,
    ) -> CircuitBreakerLayer<BreakOnRetryAfter<ServerErrorsAreFailures>> {
        let builder = CircuitBreakerLayer::http()
            .sliding_window(SlidingWindow::count(100))
            .minimum_calls(100)
            .permitted_calls_in_half_open(1)
            .wait_duration_in_open(Duration::from_secs(30));
        let builder = match max {
            Some(max) => builder.max_result_break(max),
            None => builder,
        };
        builder
            .classifier(BreakOnRetryAfter::new(ServerErrorsAreFailures))
            .build()
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_503_with_retry_after_opens_the_breaker_until_then() {
        let layer = layer(None);
        let handle = layer.handle();
        let svc = layer.layer(service_fn(|answer: Answer| async move { respond(answer) }));

        let response = svc.clone().oneshot((503, Some("120"))).await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(handle.state(), State::Open, "one answer was enough");
        let err = svc.clone().oneshot((200, None)).await.unwrap_err();
        let open = err.downcast_ref::<CircuitOpen>().unwrap();
        assert_eq!(open.retry_after(), Some(Duration::from_secs(120)));

        // Longer than the breaker's own 30 s wait …
        tokio::time::advance(Duration::from_secs(119)).await;
        assert!(
            svc.clone()
                .oneshot((200, None))
                .await
                .unwrap_err()
                .is::<CircuitOpen>()
        );
        // … and no longer than the upstream asked.
        tokio::time::advance(Duration::from_secs(1)).await;
        svc.clone().oneshot((200, None)).await.unwrap();
        assert_eq!(handle.state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn the_break_is_capped_and_needs_a_retry_after() {
        let layer = layer(Some(Duration::from_secs(60)));
        let handle = layer.handle();
        let svc = layer.layer(service_fn(|answer: Answer| async move { respond(answer) }));

        // A 503 without Retry-After, or a 500 with one: the windows decide.
        svc.clone().oneshot((503, None)).await.unwrap();
        svc.clone().oneshot((500, Some("60"))).await.unwrap();
        assert_eq!(handle.state(), State::Closed);

        // A day asked for, a minute granted.
        svc.clone().oneshot((429, Some("86400"))).await.unwrap();
        assert_eq!(handle.state(), State::Open);
        tokio::time::advance(Duration::from_secs(60)).await;
        svc.clone().oneshot((200, None)).await.unwrap();
        assert_eq!(handle.state(), State::Closed);
    }
}
