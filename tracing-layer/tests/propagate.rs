//! `PropagateLayer`: which context an outgoing request continues, a span id
//! of its own per call, and its client span.

#![allow(clippy::unwrap_used)]

mod support;

use std::convert::Infallible;

use http::{HeaderMap, Request, Response, StatusCode};
use palisade_tracing_layer::propagate::{Extracted, PropagateLayer, TraceContext};
use rand::{SeedableRng, rngs::SmallRng};
use support::capture::Capture;
use tower::{Layer, ServiceExt, service_fn};

/// Sends `request` through `layer` to a service that returns the headers it got.
async fn sent(layer: PropagateLayer, request: Request<()>) -> HeaderMap {
    let echo = service_fn(|request: Request<()>| async move {
        Ok::<_, Infallible>(Response::new(request.headers().clone()))
    });
    layer
        .layer(echo)
        .oneshot(request)
        .await
        .unwrap()
        .into_body()
}

fn context(seed: u64, state: &str) -> TraceContext {
    let mut ours = TraceContext::new_root(&mut SmallRng::seed_from_u64(seed), true);
    if !state.is_empty() {
        *ours.tracestate_mut() = state.parse().unwrap();
    }
    ours
}

/// The context the callee sees as its parent.
fn parent_of(headers: &HeaderMap) -> TraceContext {
    match TraceContext::extract(headers) {
        Extracted::Parent {
            context,
            tracestate: None,
        } => context,
        other => panic!("no valid trace context was sent: {other:?} {headers:?}"),
    }
}

#[tokio::test]
async fn a_call_continues_the_current_context_with_a_span_id_of_its_own() {
    let ours = context(1, "rojo=00f067aa0ba902b7");
    // A proxy that copies the incoming headers would send the caller's ones.
    let request = Request::get("/")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("traceparent", "garbage")
        .header("tracestate", "congo=t61rcWkgMzE")
        .body(())
        .unwrap();
    let headers = ours
        .clone()
        .scope(sent(PropagateLayer::new(), request))
        .await;

    assert_eq!(headers.get_all("traceparent").iter().count(), 1);
    assert_eq!(headers.get_all("tracestate").iter().count(), 1);
    assert_eq!(headers["tracestate"], "rojo=00f067aa0ba902b7");
    let sent = parent_of(&headers);
    assert_eq!(sent.trace_id(), ours.trace_id());
    assert_eq!(sent.flags(), ours.flags());
    assert_eq!(sent.tracestate(), ours.tracestate());
    assert_ne!(sent.span_id(), ours.span_id());
}

#[tokio::test]
async fn two_calls_from_one_hop_have_different_parent_ids() {
    let ours = context(5, "");
    let (first, second) = ours
        .clone()
        .scope(async {
            (
                sent(PropagateLayer::new(), Request::new(())).await,
                sent(PropagateLayer::new(), Request::new(())).await,
            )
        })
        .await;
    let (first, second) = (parent_of(&first), parent_of(&second));
    assert_eq!(first.trace_id(), second.trace_id());
    assert_ne!(first.span_id(), second.span_id());
}

#[tokio::test]
async fn a_context_in_the_request_extensions_wins_over_the_current_one() {
    let (current, explicit) = (context(1, ""), context(2, ""));
    let mut request = Request::new(());
    request.extensions_mut().insert(explicit.clone());
    let headers = current.scope(sent(PropagateLayer::new(), request)).await;
    assert_eq!(parent_of(&headers).trace_id(), explicit.trace_id());
    assert!(!headers.contains_key("tracestate"));
}

#[tokio::test]
async fn outside_a_trace_a_new_one_starts_unless_turned_off() {
    let headers = sent(PropagateLayer::new(), Request::new(())).await;
    let context = parent_of(&headers);
    assert!(context.flags().is_sampled() && context.flags().is_random_trace_id());

    let unsampled = PropagateLayer::new().start_new_traces(Some(false));
    let headers = sent(unsampled, Request::new(())).await;
    assert!(!parent_of(&headers).flags().is_sampled());

    let off = PropagateLayer::new().start_new_traces(None);
    assert!(sent(off, Request::new(())).await.is_empty());
}

#[tokio::test]
async fn outside_a_trace_a_traceparent_the_caller_set_is_left_alone() {
    let own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let request = Request::get("/")
        .header("traceparent", own)
        .body(())
        .unwrap();
    let headers = sent(PropagateLayer::new(), request).await;
    assert_eq!(headers["traceparent"], own);
}

#[tokio::test]
async fn each_call_is_a_client_span_with_its_outcome() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let ours = context(3, "");
    let not_found = PropagateLayer::new().layer(service_fn(|request: Request<()>| async move {
        let mut response = Response::new(request.headers().clone());
        *response.status_mut() = StatusCode::NOT_FOUND;
        Ok::<_, Infallible>(response)
    }));
    let request = Request::get("https://user:secret@inventory.internal:8443/items/9?token=abc")
        .body(())
        .unwrap();
    let response = ours
        .clone()
        .scope(not_found.oneshot(request))
        .await
        .unwrap();
    let sent = parent_of(response.body());

    let span = capture.only();
    assert_eq!(span.name, "HTTP client request");
    assert_eq!(span.field("otel.name"), Some("GET"));
    assert_eq!(span.field("otel.kind"), Some("client"));
    assert_eq!(span.field("server.address"), Some("inventory.internal"));
    assert_eq!(span.field("server.port"), Some("8443"));
    assert_eq!(
        span.field("url.full"),
        Some("https://inventory.internal:8443/items/9")
    );
    assert_eq!(
        span.field("trace_id"),
        Some(ours.trace_id().to_string().as_str())
    );
    assert_eq!(
        span.field("parent_span_id"),
        Some(ours.span_id().to_string().as_str())
    );
    assert_eq!(
        span.field("span_id"),
        Some(sent.span_id().to_string().as_str())
    );
    assert_eq!(span.field("http.response.status_code"), Some("404"));
    assert_eq!(span.field("error.type"), Some("404"));
    assert!(span.closed);
}
