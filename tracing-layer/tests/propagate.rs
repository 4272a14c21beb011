//! `PropagateLayer`: which context an outgoing request carries.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;

use http::{HeaderMap, Request, Response};
use palisade_tracing_layer::propagate::{Extracted, PropagateLayer, TraceContext};
use rand::{SeedableRng, rngs::SmallRng};
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

#[tokio::test]
async fn the_current_context_replaces_stale_trace_headers() {
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
    assert_eq!(headers["traceparent"], ours.traceparent().to_string());
    assert_eq!(headers.get_all("tracestate").iter().count(), 1);
    assert_eq!(headers["tracestate"], "rojo=00f067aa0ba902b7");
    assert_eq!(TraceContext::extract(&headers).parent(), Some(&ours));
}

#[tokio::test]
async fn a_context_in_the_request_extensions_wins_over_the_current_one() {
    let (current, explicit) = (context(1, ""), context(2, ""));
    let mut request = Request::new(());
    request.extensions_mut().insert(explicit.clone());
    let headers = current.scope(sent(PropagateLayer::new(), request)).await;
    assert_eq!(headers["traceparent"], explicit.traceparent().to_string());
    assert!(!headers.contains_key("tracestate"));
}

#[tokio::test]
async fn outside_a_trace_a_new_one_starts_unless_turned_off() {
    let headers = sent(PropagateLayer::new(), Request::new(())).await;
    let Extracted::Parent { context, .. } = TraceContext::extract(&headers) else {
        panic!("a new trace is sent: {headers:?}");
    };
    assert!(context.flags().is_sampled() && context.flags().is_random_trace_id());

    let unsampled = PropagateLayer::new().start_new_traces(Some(false));
    let headers = sent(unsampled, Request::new(())).await;
    let parent = TraceContext::extract(&headers);
    assert!(!parent.parent().unwrap().flags().is_sampled());

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
