//! Closed, Open, ForcedOpen and Disabled; what reaches the inner service.

use std::time::Duration;

use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow, State};
use tokio::time;
use tower::{Layer, Service};
use tower_test::mock;

use crate::support::{Call, breaker, calls, rejection, send, send_all};

fn builder() -> palisade_resilience::circuit_breaker::CircuitBreakerLayerBuilder {
    CircuitBreakerLayer::builder()
        .name("states")
        .sliding_window(SlidingWindow::count(10))
        .minimum_calls(5)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn opens_when_the_failure_rate_reaches_the_threshold() {
    let (mut service, handle, _) = breaker(builder());
    send_all(
        &mut service,
        &[Call::Ok, Call::Ok, Call::Ok, Call::Fail, Call::Fail],
    )
    .await;
    // 2 of 5: 40 %.
    assert_eq!(handle.state(), State::Closed);
    let snapshot = handle.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (5, 2));
    assert!((snapshot.failure_rate() - 40.0).abs() < 1e-9);

    send_all(&mut service, &[Call::Fail]).await;
    // 3 of 6: 50 %.
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn opens_when_the_slow_call_rate_reaches_the_threshold() {
    let (mut service, handle, _) = breaker(
        builder()
            .failure_rate_threshold(100.0)
            .slow_call_duration(Duration::from_secs(1))
            .slow_call_rate_threshold(50.0)
            .minimum_calls(4),
    );
    let slow = Call::Slow(Duration::from_secs(2));
    let fast_enough = Call::Slow(Duration::from_millis(999));
    send_all(&mut service, &[Call::Ok, fast_enough, slow]).await;
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().slow_calls, 1);
    // Slow calls succeed; only their duration counts.
    assert_eq!(send(&mut service, slow).await.unwrap(), "slow");
    assert_eq!(handle.state(), State::Open);
    assert!((handle.snapshot().slow_call_rate() - 50.0).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_do_not_count_without_slow_call_detection() {
    let (mut service, handle, _) =
        breaker(builder().minimum_calls(1).slow_call_rate_threshold(0.0));
    send_all(&mut service, &[Call::Slow(Duration::from_secs(3600)); 3]).await;
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().slow_calls, 0);
}

#[tokio::test(start_paused = true)]
async fn no_transition_before_minimum_calls() {
    let (mut service, handle, _) = breaker(
        builder()
            .sliding_window(SlidingWindow::count(20))
            .minimum_calls(10),
    );
    send_all(&mut service, &[Call::Fail; 9]).await;
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().failures, 9);
    send_all(&mut service, &[Call::Fail]).await;
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_success_that_reaches_the_minimum_can_open_the_breaker() {
    let (mut service, handle, _) = breaker(builder());
    send_all(
        &mut service,
        &[Call::Fail, Call::Fail, Call::Fail, Call::Fail],
    )
    .await;
    assert_eq!(handle.state(), State::Closed);
    send_all(&mut service, &[Call::Ok]).await;
    // 4 of 5 failed once the minimum is reached.
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn rejected_calls_never_reach_the_inner_service() {
    let (mut service, handle, upstream_calls) = breaker(builder());
    send_all(&mut service, &[Call::Fail; 5]).await;
    assert_eq!(handle.state(), State::Open);
    assert_eq!(calls(&upstream_calls), 5);

    for _ in 0..100 {
        let open = rejection(send(&mut service, Call::Ok).await);
        assert_eq!(open.state(), State::Open);
        assert_eq!(open.name(), "states");
    }
    assert_eq!(calls(&upstream_calls), 5);
    assert_eq!(handle.snapshot().rejected, 100);
}

#[tokio::test(start_paused = true)]
async fn open_waits_the_full_duration_and_rejections_carry_the_remaining_wait() {
    let (mut service, handle, upstream_calls) = breaker(builder());
    send_all(&mut service, &[Call::Fail; 5]).await;
    let open = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(open.retry_after(), Some(Duration::from_secs(10)));
    assert_eq!(
        open.to_string(),
        "circuit breaker `states` is open; retry after 10000 ms"
    );

    time::advance(Duration::from_millis(9_999)).await;
    let open = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(open.retry_after(), Some(Duration::from_millis(1)));
    assert_eq!(handle.state(), State::Open);
    assert_eq!(calls(&upstream_calls), 5);

    time::advance(Duration::from_millis(1)).await;
    // Still Open until a call arrives: the move to HalfOpen is lazy.
    assert_eq!(handle.state(), State::Open);
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
    assert_eq!(calls(&upstream_calls), 6);
    assert_eq!(handle.state(), State::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn forced_open_rejects_everything_until_reset() {
    let (mut service, handle, upstream_calls) = breaker(builder());
    handle.force_open();
    assert_eq!(handle.state(), State::ForcedOpen);
    // However long we wait, no probe is scheduled.
    time::advance(Duration::from_secs(3600)).await;
    let open = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(open.state(), State::ForcedOpen);
    assert_eq!(open.retry_after(), None);
    assert_eq!(calls(&upstream_calls), 0);

    handle.reset();
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
    assert_eq!(calls(&upstream_calls), 1);
}

#[tokio::test(start_paused = true)]
async fn disabled_admits_everything_and_records_nothing() {
    let (mut service, handle, upstream_calls) = breaker(builder());
    send_all(&mut service, &[Call::Fail, Call::Fail]).await;
    handle.disable();
    assert_eq!(handle.state(), State::Disabled);
    send_all(&mut service, &[Call::Fail; 50]).await;
    assert_eq!(calls(&upstream_calls), 52);
    assert_eq!(handle.state(), State::Disabled);
    // The window still holds only what was recorded before.
    assert_eq!(handle.snapshot().failures, 2);

    // Reset closes with an empty window.
    handle.reset();
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().calls, 0);
    send_all(&mut service, &[Call::Fail; 4]).await;
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn reset_from_open_closes_and_empties_the_window() {
    let (mut service, handle, _) = breaker(builder());
    send_all(&mut service, &[Call::Fail; 5]).await;
    assert_eq!(handle.state(), State::Open);
    handle.reset();
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().calls, 0);
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
}

#[tokio::test(start_paused = true)]
async fn every_service_of_a_layer_shares_one_breaker() {
    let layer = builder().build().unwrap();
    let handle = layer.handle();
    let (inner, _) = crate::support::upstream();
    let mut first = layer.layer(inner.clone());
    let mut second = layer.layer(inner);
    let mut clone = first.clone();
    send_all(&mut first, &[Call::Fail; 3]).await;
    send_all(&mut clone, &[Call::Fail; 2]).await;
    assert_eq!(handle.state(), State::Open);
    rejection(send(&mut second, Call::Ok).await);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_counts_as_nothing() {
    let (mut service, handle, _) = breaker(builder());
    let pending = tower::ServiceExt::ready(&mut service)
        .await
        .unwrap()
        .call(Call::Slow(Duration::from_secs(5)));
    drop(pending);
    assert_eq!(handle.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn rejecting_poll_ready_does_not_wait_for_the_inner_service() {
    let layer = builder().build().unwrap();
    let handle = layer.handle();
    let (mut service, mut upstream) =
        mock::spawn_with::<Call, &'static str, _, _>(|inner| layer.layer(inner));

    // Admitted calls wait for the inner service's readiness.
    upstream.allow(0);
    assert!(service.poll_ready().is_pending());

    // Rejected: ready at once although the inner service is not.
    handle.force_open();
    assert!(matches!(
        service.poll_ready(),
        std::task::Poll::Ready(Ok(()))
    ));
    let open = rejection(service.call(Call::Ok).await);
    assert_eq!(open.state(), State::ForcedOpen);
    assert!(upstream.poll_request().is_pending());

    handle.reset();
    upstream.allow(1);
    assert!(service.poll_ready().is_ready());
    let admitted = service.call(Call::Ok);
    let (request, respond) = upstream.next_request().await.unwrap();
    assert_eq!(request, Call::Ok);
    respond.send_response("ok");
    assert_eq!(admitted.await.unwrap(), "ok");
}

#[tokio::test(start_paused = true)]
async fn a_breaker_that_opens_after_poll_ready_rejects_the_call() {
    let layer = builder().build().unwrap();
    let handle = layer.handle();
    let (mut service, mut upstream) =
        mock::spawn_with::<Call, &'static str, _, _>(|inner| layer.layer(inner));
    upstream.allow(1);
    assert!(service.poll_ready().is_ready());
    handle.force_open();
    rejection(service.call(Call::Ok).await);
    assert!(upstream.poll_request().is_pending());
}
