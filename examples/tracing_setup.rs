//! Tracing and metrics for an axum app: request ids, one span per request
//! with the OpenTelemetry HTTP attributes and W3C Trace Context, logs through
//! a `tracing-subscriber` fmt layer, and RED metrics scraped by Prometheus.
//!
//! ```sh
//! cargo run -p palisade-examples --bin tracing_setup
//! ```
//!
//! It serves the app on 127.0.0.1 (a free port), sends it a few requests
//! (the log lines appear as they are handled), prints the request-duration
//! counts from `/metrics`, and exits.
#![allow(clippy::print_stdout)] // An example shows what happens by printing it.

use std::io::IsTerminal;

use axum::extract::Path;
use axum::{Router, http::StatusCode, routing::get};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use palisade_tracing_layer::metrics::{DURATION_BUCKETS, MetricsLayer};
use palisade_tracing_layer::request_id::RequestIdLayer;
use palisade_tracing_layer::trace::TraceLayer;
use tower::ServiceBuilder;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Logs: one line per event, and one when each request's span closes
    // (with its attributes and timings); colours only on a terminal. At INFO
    // a request logs its span's close, and a failed one an ERROR; add
    // `.with_target("palisade_tracing_layer", Level::DEBUG)` for a line when
    // each request starts and ends.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stdout().is_terminal())
                .with_span_events(FmtSpan::CLOSE),
        )
        .with(Targets::new().with_default(Level::INFO))
        .init();

    // Metrics: the `metrics` facade's recorder, here Prometheus. Recommended
    // naming gives `http_server_request_duration_seconds`; the buckets are
    // OpenTelemetry's advice for HTTP durations.
    let prometheus = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets_for_metric(Matcher::Prefix("http_".into()), &DURATION_BUCKETS)?
        .install_recorder()?;

    let app = Router::new()
        .route(
            "/orders/{id}",
            get(|Path(id): Path<u32>| async move {
                // Inside the request's span: this line carries its fields.
                tracing::info!(order = id, "looking up the order");
                format!("order {id}")
            }),
        )
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route(
            "/metrics",
            get(move || std::future::ready(prometheus.render())),
        )
        // `Router::layer` runs after routing, so spans and metrics are named by
        // the matched route (`/orders/{id}`), never the raw path. The request
        // id layer goes first so the span can record the id.
        .layer(
            ServiceBuilder::new()
                .layer(RequestIdLayer::new())
                .layer(TraceLayer::new().trace_response(true))
                .layer(MetricsLayer::new()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // A caller that sends its own request id and trace: both are continued.
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let request = Request::get(format!("{base}/orders/42"))
        .header("x-request-id", "checkout-7f3a")
        .header("traceparent", traceparent)
        .body(Empty::new())?;
    send(request).await?;
    // Without them, a request id and a new trace are made.
    send(Request::get(format!("{base}/orders/43")).body(Empty::new())?).await?;
    send(Request::get(format!("{base}/fail")).body(Empty::new())?).await?;

    // What Prometheus would scrape: a count per method, route and status.
    let (_, metrics) = send(Request::get(format!("{base}/metrics")).body(Empty::new())?).await?;
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count"))
    {
        println!("metric: {line}");
    }
    Ok(())
}

/// Sends `request`, prints its status and the ids it was answered with, and
/// returns the status and body.
async fn send(request: Request<Empty<Bytes>>) -> Result<(StatusCode, String), BoxError> {
    let path = request.uri().path().to_owned();
    let response = Client::builder(TokioExecutor::new())
        .build_http()
        .request(request)
        .await?;
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    let (status, request_id, trace) = (
        response.status(),
        header("x-request-id"),
        header("traceresponse"),
    );
    if path != "/metrics" {
        println!("GET {path}: {status} x-request-id={request_id} traceresponse={trace}");
    }
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
