//! Honest timing: the Open deadline is exact to the nanosecond, and HalfOpen
//! gives up on probes that never complete.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_resilience::circuit_breaker::{
    CircuitBreakerLayer, CircuitBreakerLayerBuilder, SlidingWindow, State,
};
use tokio::time;
use tower::{Service, ServiceExt};

use crate::support::{Call, breaker, calls, rejection, send, send_all};

const WAIT: Duration = Duration::from_secs(10);
const NS: Duration = Duration::from_nanos(1);

fn builder() -> CircuitBreakerLayerBuilder {
    CircuitBreakerLayer::builder()
        .name("timing")
        .sliding_window(SlidingWindow::count(4))
        .minimum_calls(4)
        .permitted_calls_in_half_open(1)
        .wait_duration_in_open(WAIT)
}

#[tokio::test(start_paused = true)]
async fn a_call_made_exactly_retry_after_later_is_admitted() {
    let (mut service, handle, upstream_calls) = breaker(builder());
    // Trip between two milliseconds, where rounding would show.
    time::advance(Duration::from_micros(300)).await;
    send_all(&mut service, &[Call::Fail; 4]).await;
    assert_eq!(handle.state(), State::Open);

    // The first rejection reports the whole configured wait.
    let first = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(first.retry_after(), Some(WAIT));

    // A little later, exactly what is left.
    time::advance(Duration::from_micros(1_234)).await;
    let later = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(
        later.retry_after(),
        Some(WAIT - Duration::from_micros(1_234))
    );

    // One nanosecond early is still rejected, with one nanosecond to go.
    time::advance(later.retry_after().unwrap() - NS).await;
    let early = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(early.retry_after(), Some(NS));
    assert_eq!(calls(&upstream_calls), 4);

    // Waiting exactly the `retry_after` given: admitted as the probe.
    time::advance(early.retry_after().unwrap()).await;
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
    assert_eq!(calls(&upstream_calls), 5);
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_grown_wait_is_exact_too() {
    let (mut service, handle, _) = breaker(builder().wait_multiplier(1.5));
    time::advance(Duration::from_nanos(777)).await;
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;
    // The probe fails: the second wait is 1.5 × 10 s.
    let _ = send(&mut service, Call::Fail).await;
    assert_eq!(handle.state(), State::Open);
    let open = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(open.retry_after(), Some(Duration::from_secs(15)));
    time::advance(Duration::from_secs(15)).await;
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
    assert_eq!(handle.state(), State::Closed);
}

/// Every transition the listeners saw, as `(from, to)`.
type Seen = Arc<Mutex<Vec<(State, State)>>>;

fn observed(builder: CircuitBreakerLayerBuilder) -> (CircuitBreakerLayerBuilder, Seen) {
    let seen = Seen::default();
    let sink = Arc::clone(&seen);
    let builder = builder.on_transition(move |t| sink.lock().unwrap().push((t.from(), t.to())));
    (builder, seen)
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_never_completes_reopens_the_breaker_after_the_maximum_wait() {
    let max = Duration::from_secs(5);
    let (builder, seen) = observed(builder().max_wait_in_half_open(max).wait_multiplier(2.0));
    let (mut service, handle, upstream_calls) = breaker(builder);
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;

    // The probe is called, and its future is kept but never polled.
    let lost = service.ready().await.unwrap().call(Call::Ok);
    assert_eq!(handle.state(), State::HalfOpen);
    time::advance(max - NS).await;
    let waiting = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(waiting.state(), State::HalfOpen);
    assert_eq!(waiting.retry_after(), None);

    // The maximum wait is over: the next call sees Open, with the next
    // (grown) wait, as after a failed probe.
    time::advance(NS).await;
    let open = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(open.state(), State::Open);
    assert_eq!(open.retry_after(), Some(2 * WAIT));
    assert_eq!(handle.state(), State::Open);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Open),
        ]
    );

    // The lost probe finishing late counts for nothing.
    assert_eq!(lost.await.unwrap(), "ok");
    assert_eq!(handle.state(), State::Open);
    assert_eq!(calls(&upstream_calls), 5);

    // After the new wait, a fresh probe closes the breaker.
    time::advance(2 * WAIT).await;
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn by_default_half_open_gives_up_after_sixty_seconds() {
    let (mut service, handle, _) = breaker(builder());
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;
    let _lost = service.ready().await.unwrap().call(Call::Ok);
    time::advance(Duration::from_secs(60) - NS).await;
    assert_eq!(
        rejection(send(&mut service, Call::Ok).await).state(),
        State::HalfOpen
    );
    time::advance(NS).await;
    let open = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(open.state(), State::Open);
    assert_eq!(open.retry_after(), Some(WAIT));
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_completes_in_time_still_closes_the_breaker() {
    let max = Duration::from_secs(5);
    let (builder, seen) = observed(builder().max_wait_in_half_open(max));
    let (mut service, handle, _) = breaker(builder);
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;

    // The probe takes almost the whole maximum wait.
    let slow = Call::Slow(max - Duration::from_millis(1));
    assert_eq!(send(&mut service, slow).await.unwrap(), "slow");
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(
        seen.lock().unwrap().last().copied(),
        Some((State::HalfOpen, State::Closed))
    );
    // Closed for good: the maximum wait passing changes nothing.
    time::advance(max).await;
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_maximum_wait_of_duration_max_waits_forever() {
    let (mut service, handle, _) = breaker(builder().max_wait_in_half_open(Duration::MAX));
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;
    let _lost = service.ready().await.unwrap().call(Call::Ok);
    time::advance(Duration::from_secs(365 * 24 * 3600)).await;
    assert_eq!(
        rejection(send(&mut service, Call::Ok).await).state(),
        State::HalfOpen
    );
    assert_eq!(handle.state(), State::HalfOpen);
}

#[test]
fn a_zero_maximum_wait_in_half_open_is_refused() {
    let error = builder()
        .max_wait_in_half_open(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("max_wait_in_half_open"),
        "{error}"
    );
}

#[cfg(feature = "health")]
#[tokio::test(start_paused = true)]
async fn health_reports_the_reopened_breaker_as_unhealthy() {
    use palisade_resilience::health::{HealthRegistry, Status};

    let (mut service, handle, _) = breaker(builder().max_wait_in_half_open(Duration::from_secs(5)));
    let registry = HealthRegistry::new();
    registry.register("timing", handle.clone());
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;
    let _lost = service.ready().await.unwrap().call(Call::Ok);
    assert_eq!(registry.check().status, Status::Degraded);
    time::advance(Duration::from_secs(5)).await;
    let _ = send(&mut service, Call::Ok).await;
    assert_eq!(registry.check().status, Status::Unhealthy);
}
