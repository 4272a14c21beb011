//! RED metrics through the [`metrics`] facade, by the OpenTelemetry HTTP
//! semantic conventions.
//!
//! [`MetricsLayer`] (servers) records:
//!
//! - `http.server.request.duration` — histogram in seconds (bucket boundaries
//!   [`DURATION_BUCKETS`], 0.005 … 10, set on your exporter), from the
//!   request's arrival to the **end of its response body** (or the body's
//!   drop), labelled `http.request.method` (`_OTHER` for unknown methods),
//!   `http.route` (the matched route from axum's `MatchedPath` with the `axum`
//!   feature or an [`HttpRoute`](crate::HttpRoute) extension; [`UNMATCHED_ROUTE`] when there
//!   is none — never the raw path), `http.response.status_code`, and
//!   `error.type` on failures (the status code for a 5xx, `_OTHER` for a
//!   service error, `body` for a body error);
//! - `http.server.active_requests` — gauge, labelled `http.request.method` and `url.scheme`.
//!
//! With [`MetricsLayer::body_sizes`] (off by default) it also records
//! `http.server.response.body.size` — histogram in bytes, the same labels as
//! the duration — counted frame by frame as the body streams (a
//! `Content-Length` is not trusted), recorded when the duration is. Give it
//! its own buckets (`Matcher::Full("http_server_response_body_size".into())`):
//! a `Matcher::Prefix("http_")` for the duration buckets would match it too.
//!
//! With [`MetricsLayer::request_body_sizes`] (off by default) it also records
//! `http.server.request.body.size` — histogram in bytes, the same labels —
//! counted as the inner service reads the body: the inner service then gets a
//! [`MetricsRequestBody`] (axum's routers accept any body, so
//! `Router::layer` works as before; a service that names its body type must
//! name this one). The size is what had been read when the response ended:
//! a handler that answers without reading the body records 0.
//!
//! [`ClientMetricsLayer`] records `http.client.request.duration` and
//! `http.client.active_requests` the same way, with `server.address` (the
//! URI's host) in place of the route, and 4xx as failures too; and on request
//! `http.client.response.body.size` and `http.client.request.body.size` (the
//! bytes the client sent by the end of the response).
//!
//! Each layer remembers at most [`DEFAULT_MAX_SERIES`] distinct label sets
//! ([`MetricsLayer::max_series`]); past that, new sets are recorded in one
//! series labelled only `otel.metric.overflow="true"`, so no client can make
//! the series grow without bound.
//!
//! A known label set costs a hash of its borrowed values, a read lock and a
//! handle clone — no label is allocated and the recorder is asked once per
//! set. **Install the recorder before building the layer**: the layer
//! describes its metrics to the recorder installed then, and keeps the
//! handles it gets.
//!
//! Exporters rename: the Prometheus exporter, with `with_recommended_naming(true)`,
//! writes `http_server_request_duration_seconds` with `http_route="…"` labels.
//!
//! ```
//! use http::{Request, Response};
//! use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
//! use palisade_tracing_layer::HttpRoute;
//! use palisade_tracing_layer::metrics::{DURATION_BUCKETS, MetricsLayer};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let recorder = PrometheusBuilder::new()
//!     .with_recommended_naming(true)
//!     .set_buckets_for_metric(Matcher::Prefix("http_".into()), &DURATION_BUCKETS)?
//!     .build_recorder();
//! let handle = recorder.handle();
//! let _local = metrics::set_default_local_recorder(&recorder);
//!
//! let service = MetricsLayer::new().layer(service_fn(|_: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! }));
//! let mut request = Request::get("/orders/42").body(())?;
//! request.extensions_mut().insert(HttpRoute::new("/orders/{id}"));
//! let response = service.oneshot(request).await?;
//! drop(response); // the body's end (or drop) records the duration
//!
//! let text = handle.render();
//! assert!(text.contains(r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/orders/{id}",http_response_status_code="200"} 1"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod cap;
pub mod future;
mod layer;
mod names;
mod record;
mod request_body;
mod service;

pub use body::MetricsBody;
pub use layer::{ClientMetricsLayer, DEFAULT_MAX_SERIES, MetricsLayer};
pub use names::{
    CLIENT_ACTIVE, CLIENT_DURATION, CLIENT_REQUEST_BODY_SIZE, CLIENT_RESPONSE_BODY_SIZE,
    DURATION_BUCKETS, OVERFLOW_LABEL, SERVER_ACTIVE, SERVER_DURATION, SERVER_REQUEST_BODY_SIZE,
    SERVER_RESPONSE_BODY_SIZE, UNMATCHED_ROUTE,
};
pub use request_body::{CountRequestBody, MetricsRequestBody, PassRequestBody, RequestBodyMode};
pub use service::Metrics;
