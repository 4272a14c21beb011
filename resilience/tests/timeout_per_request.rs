//! Per-request timeouts (HTTP preset): a `RequestTimeout` extension or an
//! `x-request-timeout` header shortens the layer's timeout, never lengthens
//! it; a malformed header is refused.
#![cfg(all(feature = "timeout", feature = "http"))]
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::Request;
use palisade_resilience::BoxError;
use palisade_resilience::timeout::TimeoutLayer;
use palisade_resilience::timeout::error::{Elapsed, InvalidTimeout};
use palisade_resilience::timeout::http::{RequestTimeout, X_REQUEST_TIMEOUT};
use tower::{Layer, Service, ServiceExt, service_fn};

/// An upstream that answers after `secs` seconds, counting its calls, under
/// a timeout of at most 5 s.
fn upstream(
    secs: u64,
    calls: &Arc<AtomicUsize>,
) -> impl Service<Request<()>, Response = &'static str, Error = BoxError, Future: Send> + Clone {
    let calls = Arc::clone(calls);
    TimeoutLayer::http(Duration::from_secs(5)).layer(service_fn(move |_req: Request<()>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Ok::<_, std::io::Error>("done")
        }
    }))
}

fn request(header: Option<&'static str>, extension: Option<Duration>) -> Request<()> {
    let mut builder = Request::get("/");
    if let Some(value) = header {
        builder = builder.header(X_REQUEST_TIMEOUT, value);
    }
    let mut request = builder.body(()).unwrap();
    if let Some(timeout) = extension {
        request.extensions_mut().insert(RequestTimeout(timeout));
    }
    request
}

/// The timeout the call got, when it timed out.
async fn timed_out_after(secs: u64, request: Request<()>) -> Option<Duration> {
    let calls = Arc::new(AtomicUsize::new(0));
    let started = tokio::time::Instant::now();
    let outcome = upstream(secs, &calls).oneshot(request).await;
    let err = outcome.err()?;
    let elapsed = err.downcast_ref::<Elapsed>().unwrap();
    // The timer really fired at the reported timeout (paused time is exact).
    assert_eq!(started.elapsed(), elapsed.timeout());
    Some(elapsed.timeout())
}

#[tokio::test(start_paused = true)]
async fn the_header_shortens_the_timeout() {
    let got = timed_out_after(2, request(Some("1500"), None)).await;
    assert_eq!(got, Some(Duration::from_millis(1500)));
}

#[tokio::test(start_paused = true)]
async fn asking_for_more_than_the_layer_allows_changes_nothing() {
    let got = timed_out_after(60, request(Some("600000"), Some(Duration::from_secs(600)))).await;
    assert_eq!(got, Some(Duration::from_secs(5)));
    // An enormous header is a long timeout, bounded like any other.
    let got = timed_out_after(60, request(Some("99999999999999999999999"), None)).await;
    assert_eq!(got, Some(Duration::from_secs(5)));
}

#[tokio::test(start_paused = true)]
async fn the_shortest_of_extension_header_and_layer_wins() {
    let got = timed_out_after(4, request(Some("3000"), Some(Duration::from_secs(1)))).await;
    assert_eq!(got, Some(Duration::from_secs(1)));
    let got = timed_out_after(4, request(Some("800"), Some(Duration::from_secs(2)))).await;
    assert_eq!(got, Some(Duration::from_millis(800)));
    // Long enough: the call completes.
    assert_eq!(timed_out_after(2, request(Some("2500"), None)).await, None);
}

#[tokio::test(start_paused = true)]
async fn a_malformed_header_is_refused_without_calling_the_upstream() {
    for bad in ["1.5", "-1", "10ms", ""] {
        let calls = Arc::new(AtomicUsize::new(0));
        let err = upstream(0, &calls)
            .oneshot(request(Some(bad), None))
            .await
            .unwrap_err();
        assert!(err.is::<InvalidTimeout>(), "{bad:?}: {err}");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}

#[cfg(feature = "axum")]
#[tokio::test(start_paused = true)]
async fn a_malformed_header_is_a_400_problem_at_the_edge() {
    use http_body_util::BodyExt;

    let calls = Arc::new(AtomicUsize::new(0));
    let err = upstream(0, &calls)
        .oneshot(request(Some("soon"), None))
        .await
        .unwrap_err();
    let response = palisade_resilience::edge::error_response(&err);
    assert_eq!(response.status(), http::StatusCode::BAD_REQUEST);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "invalid_timeout");
    assert_eq!(problem["status"], 400);
}
