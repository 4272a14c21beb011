//! `Sampler`: unsampled requests get no span (server or client), and the
//! decision travels on as the outgoing `traceparent`'s sampled flag.

#![allow(clippy::unwrap_used)]

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use palisade_tracing_layer::propagate::{PropagateLayer, TraceParent};
use palisade_tracing_layer::trace::{Sampler, TraceLayer};
use support::capture::Capture;
use tower::{Layer, ServiceExt, service_fn};

/// A server behind `TraceLayer::sampler(sampler)` whose handler calls a
/// downstream service through `PropagateLayer`; returns the `traceparent`
/// the downstream service received.
async fn outgoing(sampler: Sampler, incoming: Option<&str>) -> TraceParent {
    let downstream = PropagateLayer::new().layer(service_fn(|request: Request<()>| async move {
        Ok::<_, Infallible>(Response::new(request.headers().clone()))
    }));
    let server = TraceLayer::new()
        .sampler(sampler)
        .layer(service_fn(move |_: Request<()>| {
            let call = downstream
                .clone()
                .oneshot(Request::get("http://db.internal/q").body(()).unwrap());
            async move {
                let headers: HeaderMap = call.await.unwrap().into_body();
                let tp = Bytes::copy_from_slice(headers["traceparent"].as_bytes());
                Ok::<_, Infallible>(Response::new(Full::new(tp)))
            }
        }));
    let mut request = Request::get("/").body(()).unwrap();
    if let Some(tp) = incoming {
        request
            .headers_mut()
            .insert("traceparent", tp.parse().unwrap());
    }
    let body = server.oneshot(request).await.unwrap().into_body();
    let sent = body.collect().await.unwrap().to_bytes();
    std::str::from_utf8(&sent).unwrap().parse().unwrap()
}

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

#[tokio::test]
async fn an_unsampled_caller_gets_no_spans_and_the_flag_travels_on() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    let incoming = format!("00-{TRACE}-b7ad6b7169203331-00");
    let sent = outgoing(Sampler::default(), Some(&incoming)).await;
    assert_eq!(sent.trace_id().to_string(), TRACE);
    assert!(!sent.flags().is_sampled());
    assert!(capture.spans().is_empty(), "{:#?}", capture.spans());

    // The same caller, sampled: a server span and a client span.
    let incoming = format!("00-{TRACE}-b7ad6b7169203331-01");
    let sent = outgoing(Sampler::default(), Some(&incoming)).await;
    assert!(sent.flags().is_sampled());
    let names: Vec<_> = capture.spans().iter().map(|s| s.name).collect();
    assert_eq!(names, ["HTTP request", "HTTP client request"]);
    assert_eq!(capture.spans()[0].field("trace_id"), Some(TRACE));
}

#[tokio::test]
async fn new_traces_follow_the_root_sampler() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sent = outgoing(Sampler::ratio(0.0).unwrap().parent_based(), None).await;
    assert!(!sent.flags().is_sampled());
    assert!(sent.flags().is_random_trace_id());
    assert!(capture.spans().is_empty());

    let sent = outgoing(Sampler::always_off().parent_based(), None).await;
    assert!(!sent.flags().is_sampled());

    let sent = outgoing(Sampler::ratio(1.0).unwrap().parent_based(), None).await;
    assert!(sent.flags().is_sampled());
    assert_eq!(capture.spans().len(), 2);
}

#[tokio::test]
async fn a_ratio_sampler_decides_by_trace_id_and_overrides_the_callers_flag() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let half = Sampler::ratio(0.5).unwrap();

    // Low 64 bits below 2^63: kept at ratio 0.5, even though the caller did not sample.
    let low = "00-0af7651916cd43dd0000000000000001-b7ad6b7169203331-00";
    assert!(outgoing(half, Some(low)).await.flags().is_sampled());
    assert_eq!(capture.spans().len(), 2);

    // At or above 2^63: dropped, even though the caller sampled.
    let high = "00-0af7651916cd43dd8000000000000000-b7ad6b7169203331-01";
    let sent = outgoing(half, Some(high)).await;
    assert!(!sent.flags().is_sampled());
    assert_eq!(
        sent.trace_id().to_string(),
        "0af7651916cd43dd8000000000000000"
    );
    assert_eq!(capture.spans().len(), 2);

    // Parent-based, the caller's flag wins over the ratio.
    let sent = outgoing(half.parent_based(), Some(high)).await;
    assert!(sent.flags().is_sampled());
}

#[tokio::test]
async fn traceresponse_shows_the_decision() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = TraceLayer::new()
        .sampler(Sampler::always_off())
        .trace_response(true)
        .layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let request = Request::get("/")
        .header("traceparent", format!("00-{TRACE}-b7ad6b7169203331-01"))
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let tr: TraceParent = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(tr.trace_id().to_string(), TRACE);
    assert!(!tr.flags().is_sampled());
    assert!(capture.spans().is_empty());

    // `sample_new_traces(false)` leaves a sampled caller sampled.
    let service = TraceLayer::new()
        .sample_new_traces(false)
        .trace_response(true)
        .layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let request = Request::get("/")
        .header("traceparent", format!("00-{TRACE}-b7ad6b7169203331-01"))
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let tr: TraceParent = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(tr.flags().is_sampled());
    assert_eq!(
        capture.only().field("span_id"),
        Some(tr.parent_id().to_string().as_str())
    );
}
