//! The W3C test service example, driven over 127.0.0.1 as the official suite
//! drives it: `POST /test` with callbacks, which must arrive in order, with
//! the arguments as body and the trace continued (or restarted) correctly.

#![allow(clippy::unwrap_used)]

#[allow(dead_code, reason = "the example's `main` is not used here")]
#[path = "../examples/trace_context_service.rs"]
mod service;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade_tracing_layer::propagate::{Extracted, TraceContext};
use serde_json::json;
use tokio::net::TcpListener;

const GUARD: Duration = Duration::from_secs(10);

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The suite's side: a callback endpoint that records what it receives.
async fn harness() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/callback",
            post(
                |State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
                    seen.lock().unwrap().push((headers, body));
                },
            ),
        )
        .with_state(seen.clone());
    (format!("{}/callback", serve(app).await), seen)
}

async fn post_test(
    base: &str,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> http::StatusCode {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let mut request =
        http::Request::post(format!("{base}/test")).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = tokio::time::timeout(GUARD, client.request(request))
        .await
        .expect("the test service hung")
        .unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}

fn parent(headers: &HeaderMap) -> TraceContext {
    match TraceContext::extract(headers) {
        Extracted::Parent { context, .. } => context,
        other => panic!("the callback got no valid traceparent: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_arrive_in_order_and_continue_the_trace() {
    let (callback, seen) = harness().await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let base = serve(service::app(client)).await;

    let status = post_test(
        &base,
        &[
            (
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01",
            ),
            ("tracestate", "foo=1, bar=2"),
        ],
        json!([
            {"url": callback, "arguments": [{"url": "first", "arguments": []}]},
            {"url": callback, "arguments": [{"url": "second", "arguments": []}]},
        ]),
    )
    .await;
    assert_eq!(status, 200);

    // The service answered only after both callbacks were done.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for ((headers, body), name) in seen.iter().zip(["first", "second"]) {
        let arguments: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(arguments, json!([{"url": name, "arguments": []}]));
        let context = parent(headers);
        assert_eq!(
            context.trace_id().to_string(),
            "12345678901234567890123456789012"
        );
        assert_ne!(
            context.span_id().to_string(),
            "1234567890123456",
            "our hop's span id"
        );
        assert!(context.flags().is_sampled());
        assert_eq!(headers["tracestate"], "foo=1,bar=2");
    }
    // Each callback is a client span of its own (the suite's
    // `test_multiple_requests_with_valid_traceparent` wants distinct parent ids).
    assert_ne!(parent(&seen[0].0).span_id(), parent(&seen[1].0).span_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_traceparent_restarts_the_trace_and_drops_tracestate() {
    let (callback, seen) = harness().await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let base = serve(service::app(client)).await;

    for invalid in [
        "00-12345678901234567890123456789012-1234567890123456-01-",
        "00-00000000000000000000000000000000-1234567890123456-01",
        "ff-12345678901234567890123456789012-1234567890123456-01",
        "00-1234567890123456789012345678901G-1234567890123456-01",
    ] {
        let status = post_test(
            &base,
            &[("traceparent", invalid), ("tracestate", "foo=1")],
            json!([{"url": callback, "arguments": []}]),
        )
        .await;
        assert_eq!(status, 200);
        let (headers, _) = seen.lock().unwrap().pop().unwrap();
        let context = parent(&headers);
        assert_ne!(
            context.trace_id().to_string(),
            "12345678901234567890123456789012",
            "{invalid}"
        );
        assert!(!headers.contains_key("tracestate"), "{invalid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_the_service_cannot_reach_is_a_502() {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let base = serve(service::app(client)).await;
    // A port nothing listens on: bind one, then free it.
    let free = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let status = post_test(
        &base,
        &[],
        json!([{"url": format!("http://{free}/callback"), "arguments": []}]),
    )
    .await;
    assert_eq!(status, 502);
}
