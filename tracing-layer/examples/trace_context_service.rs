//! The test service of the official W3C Trace Context test suite
//! (<https://github.com/w3c/trace-context>, `test/`), built from this crate's
//! server `TraceLayer` and client `PropagateLayer`.
//!
//! It listens on `127.0.0.1:${PORT:-5000}` and accepts `POST /test` with a
//! JSON array of `{"url": …, "arguments": […]}`. For each item, in order, it
//! POSTs the `arguments` JSON to `url` with the `traceparent` / `tracestate`
//! headers our client layer injects, and answers `200` only after every
//! callback is done. The suite then checks what arrived at its callbacks.
//!
//! ```text
//! cargo run --release -p palisade-tracing-layer --example trace_context_service
//! ```
//!
//! See the crate README for running the suite against it.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_tracing_layer::propagate::PropagateLayer;
use palisade_tracing_layer::trace::TraceLayer;
use serde::Deserialize;
use tower::{Service, ServiceBuilder, ServiceExt};

/// One instruction of the suite: call `url` with `arguments` as the body.
#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    url: String,
    #[serde(default)]
    arguments: serde_json::Value,
}

/// The HTTP client the callbacks go through.
pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The test service: `POST /test` traced by `TraceLayer`, callbacks through `PropagateLayer`.
pub(crate) fn app(client: HttpClient) -> Router {
    Router::new()
        .route("/test", post(test))
        .with_state(client)
        .layer(TraceLayer::new())
}

async fn test(
    State(client): State<HttpClient>,
    Json(callbacks): Json<Vec<Callback>>,
) -> Result<StatusCode, (StatusCode, String)> {
    // `PropagateLayer` finds our hop's context (set by `TraceLayer` while this
    // handler runs) and injects it into every callback.
    let mut client = ServiceBuilder::new()
        .layer(PropagateLayer::new())
        .service(client);
    for callback in callbacks {
        let body = serde_json::to_vec(&callback.arguments)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let request = http::Request::post(&callback.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad callback url: {e}")))?;
        let response = client
            .ready()
            .await
            .map_err(bad_gateway)?
            .call(request)
            .await
            .map_err(bad_gateway)?;
        // Read the answer to its end: the callback is done only then.
        response.into_body().collect().await.map_err(bad_gateway)?;
    }
    Ok(StatusCode::OK)
}

fn bad_gateway(error: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::BAD_GATEWAY, format!("callback failed: {error}"))
}

#[tokio::main]
#[allow(
    clippy::print_stdout,
    reason = "the program tells its user where it listens"
)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|e| format!("PORT={port}: {e}"))?,
        Err(_) => 5000,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("trace context test service on http://{addr}/test");
    let client = Client::builder(TokioExecutor::new()).build_http();
    axum::serve(listener, app(client)).await?;
    Ok(())
}
