//! The HTTP preset (feature `http`).
#![cfg(feature = "http")]

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use std::num::NonZeroUsize;

use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow, State};
use palisade_resilience::key::{AuthorityKey, KeyBytes};
use tower::{Layer, Service, ServiceExt, service_fn};

/// Answers with the status in the request's path, e.g. `/503`.
async fn echo_status(request: Request<()>) -> Result<Response<()>, Infallible> {
    let status: u16 = request.uri().path()[1..].parse().unwrap();
    Ok(Response::builder().status(status).body(()).unwrap())
}

fn request(status: u16) -> Request<()> {
    Request::builder()
        .uri(format!("http://upstream.example:8080/{status}"))
        .body(())
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn server_errors_open_the_breaker_and_client_errors_do_not() {
    let layer = CircuitBreakerLayer::http()
        .sliding_window(SlidingWindow::count(4))
        .minimum_calls(4)
        .build()
        .unwrap();
    let handle = layer.handle();
    let mut service = layer.layer(service_fn(echo_status));

    for status in [404, 400, 429, 404, 200, 401] {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(request(status))
            .await
            .unwrap();
        assert_eq!(response.status(), status);
    }
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().failures, 0);

    for status in [500, 503] {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(request(status))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::from_u16(status).unwrap());
    }
    // Two 5xx in the last four calls.
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn keyed_by_authority_isolates_upstreams() {
    let layer = CircuitBreakerLayer::http()
        .sliding_window(SlidingWindow::count(2))
        .minimum_calls(2)
        .keyed(AuthorityKey::new())
        .max_keys(NonZeroUsize::new(8).unwrap())
        .build()
        .unwrap();
    let handles = layer.handle();
    let mut service = layer.layer(service_fn(echo_status));
    let to = |host: &str, status: u16| {
        Request::builder()
            .uri(format!("http://{host}/{status}"))
            .body(())
            .unwrap()
    };
    for _ in 0..2 {
        let _ = service
            .ready()
            .await
            .unwrap()
            .call(to("bad.example", 502))
            .await;
    }
    let ok = service
        .ready()
        .await
        .unwrap()
        .call(to("good.example", 200))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        handles
            .handle(&KeyBytes::from("bad.example"))
            .unwrap()
            .state(),
        State::Open
    );
    assert!(
        service
            .ready()
            .await
            .unwrap()
            .call(to("bad.example", 200))
            .await
            .is_err()
    );
}
