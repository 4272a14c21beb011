//! The last transition a handle reports: which states, and when.

use std::time::Duration;

use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow, State};
use tokio::time;

use crate::support::{Call, breaker, send, send_all};

fn builder() -> palisade_resilience::circuit_breaker::CircuitBreakerLayerBuilder {
    CircuitBreakerLayer::builder()
        .name("last")
        .sliding_window(SlidingWindow::count(2))
        .minimum_calls(2)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn a_new_breaker_has_no_last_transition() {
    let (mut service, handle, _) = breaker(builder());
    send_all(&mut service, &[Call::Ok, Call::Ok]).await;
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.last_transition(), None);
}

#[tokio::test(start_paused = true)]
async fn each_transition_replaces_the_last_with_its_own_time() {
    let (mut service, handle, _) = breaker(builder());
    time::advance(Duration::from_secs(5)).await;
    send_all(&mut service, &[Call::Fail, Call::Fail]).await;
    let opened = handle.last_transition().expect("the breaker opened");
    assert_eq!((opened.from, opened.to), (State::Closed, State::Open));

    // After the wait the next call moves it to HalfOpen, 10 s later.
    time::advance(Duration::from_secs(10)).await;
    send(&mut service, Call::Ok).await.unwrap();
    let probing = handle.last_transition().unwrap();
    assert_eq!(probing.from, State::Open);
    assert_eq!(
        probing.at.duration_since(opened.at).unwrap(),
        Duration::from_secs(10)
    );

    time::advance(Duration::from_millis(1_500)).await;
    handle.force_open();
    let forced = handle.last_transition().unwrap();
    assert_eq!(forced.to, State::ForcedOpen);
    assert_eq!(
        forced.at.duration_since(probing.at).unwrap(),
        Duration::from_millis(1_500)
    );
}

#[tokio::test(start_paused = true)]
async fn resetting_a_closed_breaker_is_no_transition() {
    let (_service, handle, _) = breaker(builder());
    handle.force_open();
    handle.reset();
    let closed = handle.last_transition().unwrap();
    assert_eq!((closed.from, closed.to), (State::ForcedOpen, State::Closed));
    time::advance(Duration::from_secs(1)).await;
    handle.reset();
    assert_eq!(handle.last_transition(), Some(closed));
}
