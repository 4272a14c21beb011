//! HalfOpen probes, and the wait growing on repeated trips.

use std::time::Duration;

use palisade_resilience::circuit_breaker::{
    CircuitBreakerLayer, CircuitBreakerLayerBuilder, SlidingWindow, State,
};
use tokio::time;
use tower::{Service, ServiceExt};

use crate::support::{Call, breaker, calls, rejection, send, send_all};

const WAIT: Duration = Duration::from_secs(10);

fn builder(permitted: u32) -> CircuitBreakerLayerBuilder {
    CircuitBreakerLayer::builder()
        .name("probes")
        .sliding_window(SlidingWindow::count(4))
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .permitted_calls_in_half_open(permitted)
        .wait_duration_in_open(WAIT)
}

#[tokio::test(start_paused = true)]
async fn closes_after_the_permitted_probes_succeed_with_a_fresh_window() {
    let (mut service, handle, upstream_calls) = breaker(builder(3));
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;

    // Three probes in flight at once; a fourth call is turned away.
    let slow = Call::Slow(Duration::from_secs(1));
    let mut probes = Vec::new();
    for _ in 0..3 {
        probes.push(service.ready().await.unwrap().call(slow));
    }
    assert_eq!(handle.state(), State::HalfOpen);
    let open = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(open.state(), State::HalfOpen);
    assert_eq!(open.retry_after(), None);
    assert_eq!(calls(&upstream_calls), 4 + 3);

    for probe in probes {
        assert_eq!(probe.await.unwrap(), "slow");
    }
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().calls, 0);
    // Three failures in a fresh window of four do not reopen yet.
    send_all(&mut service, &[Call::Fail; 3]).await;
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn reopens_on_a_probe_failure() {
    let (mut service, handle, upstream_calls) = breaker(builder(1));
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;

    assert!(send(&mut service, Call::Fail).await.is_err());
    assert_eq!(handle.state(), State::Open);
    let open = rejection(send(&mut service, Call::Ok).await);
    assert_eq!(open.retry_after(), Some(WAIT));
    assert_eq!(calls(&upstream_calls), 5);
}

#[tokio::test(start_paused = true)]
async fn probes_are_judged_together_against_the_threshold() {
    // Two failed probes of three (67 %) reopen the breaker...
    let (mut service, handle, _) = breaker(builder(3));
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;
    send_all(&mut service, &[Call::Fail, Call::Ok]).await;
    assert_eq!(handle.state(), State::HalfOpen);
    send_all(&mut service, &[Call::Fail]).await;
    assert_eq!(handle.state(), State::Open);

    // ...one of three (33 %) closes it.
    let (mut service, handle, _) = breaker(builder(3));
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;
    send_all(&mut service, &[Call::Ok, Call::Fail, Call::Ok]).await;
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_gives_its_permit_back() {
    let (mut service, handle, upstream_calls) = breaker(builder(1));
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;

    let probe = service
        .ready()
        .await
        .unwrap()
        .call(Call::Slow(Duration::from_secs(5)));
    rejection(send(&mut service, Call::Ok).await);
    drop(probe);

    // The permit is free again: the next call probes, and closes the breaker.
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(calls(&upstream_calls), 6);
}

#[tokio::test(start_paused = true)]
async fn a_permit_reserved_by_poll_ready_is_released_with_the_service() {
    let (mut service, handle, _) = breaker(builder(1));
    send_all(&mut service, &[Call::Fail; 4]).await;
    time::advance(WAIT).await;

    let mut reserving = service.clone();
    reserving.ready().await.unwrap();
    rejection(send(&mut service, Call::Ok).await);
    drop(reserving);
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_wait_grows_on_repeated_trips_up_to_the_cap_and_starts_over_after_closing() {
    let (mut service, handle, _) = breaker(
        builder(1)
            .wait_multiplier(2.0)
            .max_wait_duration(Duration::from_secs(25)),
    );
    let retry_after = |result| rejection(result).retry_after();

    send_all(&mut service, &[Call::Fail; 4]).await;
    assert_eq!(retry_after(send(&mut service, Call::Ok).await), Some(WAIT));

    time::advance(WAIT).await;
    send_all(&mut service, &[Call::Fail]).await;
    assert_eq!(
        retry_after(send(&mut service, Call::Ok).await),
        Some(Duration::from_secs(20))
    );

    time::advance(Duration::from_secs(20)).await;
    send_all(&mut service, &[Call::Fail]).await;
    // 40 s, capped at 25 s.
    assert_eq!(
        retry_after(send(&mut service, Call::Ok).await),
        Some(Duration::from_secs(25))
    );
    time::advance(Duration::from_secs(24)).await;
    rejection(send(&mut service, Call::Ok).await);
    time::advance(Duration::from_secs(1)).await;
    send_all(&mut service, &[Call::Ok]).await;
    assert_eq!(handle.state(), State::Closed);

    // Closed again: the next trip waits the initial duration.
    send_all(&mut service, &[Call::Fail; 4]).await;
    assert_eq!(handle.state(), State::Open);
    assert_eq!(retry_after(send(&mut service, Call::Ok).await), Some(WAIT));
}
