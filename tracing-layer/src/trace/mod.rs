//! Server spans: one `tracing` span per request, with the OpenTelemetry HTTP
//! semantic conventions, continuing the caller's W3C trace.
//!
//! For each request [`TraceLayer`]:
//!
//! - reads `traceparent` / `tracestate` with [`crate::propagate`]: a valid
//!   parent is continued with a **new span id for our hop**; a missing or
//!   invalid one starts a new trace. A [`Sampler`] decides ([`TraceLayer::sampler`];
//!   by default the caller's `sampled` flag, and new traces sampled); the
//!   decision is our hop's `sampled` flag, and an unsampled request gets no
//!   span and no hooks, only its trace context. Our hop's [`TraceContext`] goes into
//!   the request's extensions and is [`TraceContext::current`] while the inner
//!   service runs, so a `PropagateLayer` on an outgoing client continues it;
//! - makes the span ([`MakeSpan`]; [`DefaultMakeSpan`]): `otel.name` =
//!   `{method} {route}` from axum's `MatchedPath` (feature `axum`) or an
//!   [`HttpRoute`] extension, never the raw path — just `{method}` without a
//!   route; `otel.kind` = `server`; `http.request.method` (`_OTHER` plus
//!   `http.request.method_original` for unknown methods), `url.scheme`,
//!   `url.path`, `http.route`, `server.address`, `server.port`,
//!   `network.protocol.version`, `trace_id`, `span_id`, `parent_span_id`;
//! - records `request_id` from a [`RequestIdValue`] in the request's
//!   extensions (a `RequestIdLayer` outside this one) or the response's (one inside);
//! - records `http.response.status_code`; on a 5xx, a service error or a body
//!   error also `error.type` (the status code, `_OTHER` or `body` — never a
//!   message) and `otel.status_code` = `ERROR`, and calls [`OnFailure`];
//! - for gRPC (tonic-style services over plain http), reads `grpc-status`
//!   from the response head or the body's trailers into
//!   `rpc.grpc.status_code`; a server-failure code (UNKNOWN,
//!   DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS) also
//!   sets `error.type` (the code) and `otel.status_code` = `ERROR`;
//! - keeps the span open until the response body **ends** (or fails, or is
//!   dropped), so its duration covers streaming, not just the head;
//! - with [`TraceLayer::trace_response`] (off by default), answers with a
//!   `traceresponse` header naming our hop.
//!
//! With axum, add the layer with `Router::layer` so it runs after routing and
//! sees the matched route; around the whole router (`ServiceBuilder` outside
//! `Router`), spans are named by the method alone.
//!
//! ```
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use palisade_tracing_layer::propagate::TraceContext;
//! use palisade_tracing_layer::trace::{HttpRoute, TraceLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let service = ServiceBuilder::new()
//!     .layer(TraceLayer::new())
//!     .service(service_fn(|request: Request<()>| async move {
//!         // Our hop's context: the caller's trace id, a new span id.
//!         let ours = TraceContext::current().expect("set by TraceLayer");
//!         let body = format!("{} {}", ours.trace_id(), ours.span_id());
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(bytes::Bytes::from(body))))
//!     }));
//!
//! let mut request = Request::builder()
//!     .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
//!     .body(())?;
//! request.extensions_mut().insert(HttpRoute::new("/orders/{id}"));
//! let response = service.oneshot(request).await?;
//! let body = http_body_util::BodyExt::collect(response.into_body()).await?.to_bytes();
//! let body = std::str::from_utf8(&body)?;
//! assert!(body.starts_with("0af7651916cd43dd8448eb211c80319c "));
//! assert!(!body.ends_with("b7ad6b7169203331"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TraceContext`]: crate::propagate::TraceContext
//! [`TraceContext::current`]: crate::propagate::TraceContext::current
//! [`RequestIdValue`]: crate::request_id::RequestIdValue

mod attributes;
mod body;
pub mod future;
mod grpc;
mod layer;
mod make_span;
mod on_failure;
mod on_request;
mod on_response;
mod sampler;
mod service;

pub use crate::semconv::HttpRoute;
pub use attributes::RequestAttributes;
pub use body::TraceBody;
pub use layer::TraceLayer;
pub use make_span::{DefaultMakeSpan, MakeSpan};
pub use on_failure::{DefaultOnFailure, ErrorType, Failure, OnFailure};
pub use on_request::{DefaultOnRequest, OnRequest};
pub use on_response::{DefaultOnResponse, OnResponse};
pub use sampler::{InvalidRatio, Sampler};
pub use service::Trace;
