//! Server and client layers together over real HTTP on 127.0.0.1: a request
//! enters service A (TraceLayer), whose handler calls service B through a
//! hyper client wrapped in PropagateLayer; the trace id flows through.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_tracing_layer::propagate::{PropagateLayer, TraceContext};
use palisade_tracing_layer::trace::TraceLayer;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder, ServiceExt};

/// Bounds every request so a broken layer fails the test instead of hanging it.
const GUARD: Duration = Duration::from_secs(10);

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn get_json<S>(client: &mut S, request: Request<Empty<Bytes>>) -> Value
where
    S: Service<Request<Empty<Bytes>>, Response = http::Response<hyper::body::Incoming>>,
    S::Error: std::fmt::Debug,
{
    let response = tokio::time::timeout(GUARD, async {
        client.ready().await.unwrap().call(request).await.unwrap()
    })
    .await
    .expect("the request hung");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

/// Service B: answers with the trace headers it received and its own hop.
async fn downstream(headers: HeaderMap, Extension(hop): Extension<TraceContext>) -> Json<Value> {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    Json(json!({
        "traceparent": header("traceparent"),
        "tracestate": header("tracestate"),
        "trace_id": hop.trace_id().to_string(),
        "span_id": hop.span_id().to_string(),
    }))
}

/// Service A: calls B through the propagating client, and reports its own hop too.
async fn upstream(
    State((client, b)): State<(HttpClient, String)>,
    Extension(hop): Extension<TraceContext>,
) -> Json<Value> {
    let mut client = ServiceBuilder::new()
        .layer(PropagateLayer::new())
        .service(client);
    let request = Request::get(format!("{b}/downstream"))
        .body(Empty::new())
        .unwrap();
    let from_b = get_json(&mut client, request).await;
    Json(json!({
        "trace_id": hop.trace_id().to_string(),
        "span_id": hop.span_id().to_string(),
        "b": from_b,
    }))
}

#[tokio::test]
async fn the_trace_id_flows_from_the_caller_through_a_to_b() {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let b = serve(
        Router::new()
            .route("/downstream", get(downstream))
            .layer(TraceLayer::new()),
    )
    .await;
    let a = serve(
        Router::new()
            .route("/upstream", get(upstream))
            .with_state((client.clone(), b))
            .layer(TraceLayer::new()),
    )
    .await;

    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let request = Request::get(format!("{a}/upstream"))
        .header("traceparent", caller)
        .header("tracestate", "congo=t61rcWkgMzE")
        .body(Empty::new())
        .unwrap();
    let seen = get_json(&mut client.clone(), request).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert_eq!(seen["trace_id"], trace_id);
    assert_eq!(seen["b"]["trace_id"], trace_id);
    let a_span = seen["span_id"].as_str().unwrap();
    assert_ne!(a_span, "00f067aa0ba902b7", "A has its own span id");
    // B's parent is A's client span for the call: neither the original
    // caller nor A's server hop; flags are kept.
    let b_parent = seen["b"]["traceparent"].as_str().unwrap();
    assert!(
        b_parent.starts_with(&format!("00-{trace_id}-")),
        "{b_parent}"
    );
    assert!(b_parent.ends_with("-01"), "{b_parent}");
    assert!(!b_parent.contains(a_span) && !b_parent.contains("00f067aa0ba902b7"));
    assert_eq!(seen["b"]["tracestate"], "congo=t61rcWkgMzE");
    let b_span = seen["b"]["span_id"].as_str().unwrap();
    assert_ne!(b_span, a_span);

    // Without a caller, A starts a trace and B continues it.
    let request = Request::get(format!("{a}/upstream"))
        .body(Empty::new())
        .unwrap();
    let seen = get_json(&mut client.clone(), request).await;
    assert_ne!(seen["trace_id"], trace_id);
    assert_eq!(seen["b"]["trace_id"], seen["trace_id"]);
    assert!(seen["b"]["tracestate"].is_null());
}
