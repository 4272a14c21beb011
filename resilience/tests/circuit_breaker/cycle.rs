//! One full cycle of transitions, shared by the observer tests.

use std::time::Duration;

use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow, State};
use tokio::time;

use crate::support::{Call, breaker, rejection, send, send_all};

pub(crate) fn builder(
    name: &str,
) -> palisade_resilience::circuit_breaker::CircuitBreakerLayerBuilder {
    CircuitBreakerLayer::builder()
        .name(name)
        .sliding_window(SlidingWindow::count(2))
        .minimum_calls(2)
        .permitted_calls_in_half_open(1)
        .wait_duration_in_open(Duration::from_secs(5))
}

/// Closed → Open → HalfOpen → Closed, then ForcedOpen → Closed by hand.
pub(crate) async fn full_cycle(
    builder: palisade_resilience::circuit_breaker::CircuitBreakerLayerBuilder,
) {
    let (mut service, handle, _) = breaker(builder);
    send_all(&mut service, &[Call::Fail; 2]).await;
    rejection(send(&mut service, Call::Ok).await);
    time::advance(Duration::from_secs(5)).await;
    send_all(&mut service, &[Call::Ok]).await;
    assert_eq!(handle.state(), State::Closed);
    handle.force_open();
    handle.reset();
}

pub(crate) const CYCLE: [(State, State); 5] = [
    (State::Closed, State::Open),
    (State::Open, State::HalfOpen),
    (State::HalfOpen, State::Closed),
    (State::Closed, State::ForcedOpen),
    (State::ForcedOpen, State::Closed),
];
