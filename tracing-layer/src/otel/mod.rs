//! OpenTelemetry export (feature `otel`): the spans of [`TraceLayer`] and
//! [`PropagateLayer`] become OpenTelemetry spans through
//! [`tracing-opentelemetry`](https://docs.rs/tracing-opentelemetry), with the
//! ids our W3C Trace Context carries.
//!
//! With a `tracing_opentelemetry` layer in the subscriber:
//!
//! - the server span of [`TraceLayer`] has the incoming `traceparent` (trace
//!   id, parent id, flags, `tracestate`) as its OpenTelemetry parent, or is a
//!   root when there was none (never a child of whatever `tracing` span
//!   happened to be current);
//! - its OpenTelemetry span id is our hop's span id (with [`HopIdGenerator`]
//!   installed), so the `span_id` of your logs, [`TraceContext::current`],
//!   `traceresponse` and the exported span all agree;
//! - the client span of [`PropagateLayer`] is a child of the context it
//!   continues, with the id it sends in `traceparent`, so the service called
//!   sees an exported span as its parent. Without a [`TraceLayer`] context,
//!   a call continues the current `tracing` span's OpenTelemetry span;
//! - `otel.name`, `otel.kind` and `otel.status_code` are the span's name,
//!   kind and status; the other fields (`http.request.method`, `http.route`,
//!   `http.response.status_code`, `url.path`, `server.address`, …) its
//!   attributes, by the OpenTelemetry HTTP semantic conventions.
//!
//! Unsampled requests get no span, so nothing is exported for them; the
//! [`Sampler`](crate::trace::Sampler) decides. Leave the SDK's sampler at its
//! default (`ParentBased(AlwaysOn)`) so it follows that decision.
//!
//! ```
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//! use palisade_tracing_layer::otel::HopIdGenerator;
//! use palisade_tracing_layer::trace::TraceLayer;
//! use tower::{Layer, ServiceExt, service_fn};
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! // In production: an OTLP exporter (see the crate README) and a batch processor.
//! let exporter = InMemorySpanExporter::default();
//! let provider = SdkTracerProvider::builder()
//!     .with_id_generator(HopIdGenerator::default())
//!     .with_simple_exporter(exporter.clone())
//!     .build();
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("shop")));
//! let _default = tracing::subscriber::set_default(subscriber);
//!
//! let service = TraceLayer::new().layer(service_fn(|_: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! }));
//! let request = http::Request::get("/")
//!     .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
//!     .body(())?;
//! drop(service.oneshot(request).await?); // the span ends with the body
//!
//! let spans = exporter.get_finished_spans()?;
//! assert_eq!(spans[0].span_context.trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
//! assert_eq!(spans[0].parent_span_id.to_string(), "b7ad6b7169203331");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TraceLayer`]: crate::trace::TraceLayer
//! [`PropagateLayer`]: crate::propagate::PropagateLayer
//! [`TraceContext::current`]: crate::propagate::TraceContext::current

mod ids;
mod span;

pub use ids::HopIdGenerator;
pub(crate) use span::{Parent, current, start};
