//! The `otel` feature: spans exported through `tracing-opentelemetry` into
//! the SDK's in-memory exporter (no network), with the incoming W3C context
//! as the server span's parent and our hop's ids as the exported ids.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use palisade_tracing_layer::HttpRoute;
use palisade_tracing_layer::otel::HopIdGenerator;
use palisade_tracing_layer::propagate::{PropagateLayer, TraceContext};
use palisade_tracing_layer::trace::TraceLayer;
use tower::{Layer, Service, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt as _;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN_ID: &str = "b7ad6b7169203331";
const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// A tracer provider exporting into memory, and a subscriber with the
/// `tracing-opentelemetry` layer over it.
fn exporting(
    hop_ids: bool,
) -> (
    InMemorySpanExporter,
    SdkTracerProvider,
    impl tracing::Subscriber + Send + Sync,
) {
    let exporter = InMemorySpanExporter::default();
    let builder = SdkTracerProvider::builder().with_simple_exporter(exporter.clone());
    let builder = if hop_ids {
        builder.with_id_generator(HopIdGenerator::default())
    } else {
        builder
    };
    let provider = builder.build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    (exporter, provider, subscriber)
}

/// Stands in for a hyper client: answers with the `traceparent` it was sent.
fn echo_client()
-> impl Service<Request<()>, Response = Response<String>, Error = Infallible, Future: Send> + Clone
{
    PropagateLayer::new().layer(service_fn(|request: Request<()>| async move {
        let sent = request.headers()["traceparent"]
            .to_str()
            .unwrap()
            .to_owned();
        Ok::<_, Infallible>(Response::new(sent))
    }))
}

/// A server that makes one client call and answers `status` with
/// `{sent traceparent} {our hop's span id}`.
fn server(
    status: StatusCode,
) -> impl Service<Request<()>, Response = Response<impl http_body::Body<Data = Bytes>>, Error = Infallible>
{
    let client = echo_client();
    TraceLayer::new()
        .trace_response(true)
        .layer(service_fn(move |_: Request<()>| {
            let client = client.clone();
            async move {
                let sent = client.oneshot(Request::new(())).await?.into_body();
                let ours = TraceContext::current().unwrap().span_id();
                let mut response = Response::new(Full::new(Bytes::from(format!("{sent} {ours}"))));
                *response.status_mut() = status;
                Ok::<_, Infallible>(response)
            }
        }))
}

/// Sends `request` through `server(status)`, reads the body; returns the
/// `traceresponse`, the `traceparent` the inner client call sent, and our
/// hop's span id as the handler saw it.
async fn exchange(status: StatusCode, traceparent: Option<&str>) -> (String, String, String) {
    let mut request = Request::get("http://shop.example:8080/orders/42");
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let mut request = request.body(()).unwrap();
    request
        .extensions_mut()
        .insert(HttpRoute::new("/orders/{id}"));
    let response = server(status).oneshot(request).await.unwrap();
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .ok()
        .unwrap()
        .to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let (sent, ours) = body.split_once(' ').unwrap();
    (traceresponse, sent.to_owned(), ours.to_owned())
}

fn finished(exporter: &InMemorySpanExporter, provider: &SdkTracerProvider) -> Vec<SpanData> {
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

fn of_kind(spans: &[SpanData], kind: &SpanKind) -> SpanData {
    let found: Vec<_> = spans.iter().filter(|s| &s.span_kind == kind).collect();
    assert_eq!(found.len(), 1, "one {kind:?} span in {spans:#?}");
    found[0].clone()
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// The parent-id field of a `traceparent` / `traceresponse`.
fn span_id_of(traceparent: &str) -> &str {
    traceparent.split('-').nth(2).unwrap()
}

fn trace_id_of(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap()
}

#[tokio::test]
async fn the_exported_server_span_continues_the_incoming_trace_and_the_client_call_names_an_exported_span()
 {
    let (exporter, provider, subscriber) = exporting(true);
    let _default = tracing::subscriber::set_default(subscriber);

    let (traceresponse, sent, ours) = exchange(StatusCode::OK, Some(PARENT)).await;

    let spans = finished(&exporter, &provider);
    let server = of_kind(&spans, &SpanKind::Server);
    let client = of_kind(&spans, &SpanKind::Client);
    // The caller's trace, the caller's span as the remote parent.
    assert_eq!(server.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(server.parent_span_id.to_string(), CALLER_SPAN_ID);
    assert!(server.parent_span_is_remote);
    // Our hop is the exported span: same id in traceresponse, in
    // `TraceContext::current()` and in the `span_id` attribute.
    let server_id = server.span_context.span_id().to_string();
    assert_eq!(span_id_of(&traceresponse), server_id);
    assert_eq!(ours, server_id);
    assert_eq!(attribute(&server, "span_id").as_deref(), Some(&*server_id));
    // Name and attributes by the HTTP semantic conventions.
    assert_eq!(server.name, "GET /orders/{id}");
    assert_eq!(
        attribute(&server, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attribute(&server, "http.route").as_deref(),
        Some("/orders/{id}")
    );
    assert_eq!(
        attribute(&server, "url.path").as_deref(),
        Some("/orders/42")
    );
    assert_eq!(attribute(&server, "url.scheme").as_deref(), Some("http"));
    assert_eq!(
        attribute(&server, "server.address").as_deref(),
        Some("shop.example")
    );
    assert_eq!(attribute(&server, "server.port").as_deref(), Some("8080"));
    assert_eq!(
        attribute(&server, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(server.status, Status::Unset);
    // The client call: a child of our hop, and the id it sent is its own.
    assert_eq!(client.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(client.parent_span_id.to_string(), server_id);
    assert!(!client.parent_span_is_remote);
    assert_eq!(trace_id_of(&sent), TRACE_ID);
    assert_eq!(span_id_of(&sent), client.span_context.span_id().to_string());
    assert!(sent.ends_with("-01"));
    assert_eq!(client.name, "GET");
}

#[tokio::test]
async fn a_5xx_exports_an_error_status_and_error_type() {
    let (exporter, provider, subscriber) = exporting(true);
    let _default = tracing::subscriber::set_default(subscriber);

    exchange(StatusCode::SERVICE_UNAVAILABLE, Some(PARENT)).await;

    let server = of_kind(&finished(&exporter, &provider), &SpanKind::Server);
    assert!(
        matches!(server.status, Status::Error { .. }),
        "{:?}",
        server.status
    );
    assert_eq!(attribute(&server, "error.type").as_deref(), Some("503"));
    assert_eq!(
        attribute(&server, "http.response.status_code").as_deref(),
        Some("503")
    );
}

#[tokio::test]
async fn without_traceparent_the_exported_root_has_the_trace_id_we_send() {
    let (exporter, provider, subscriber) = exporting(true);
    let _default = tracing::subscriber::set_default(subscriber);
    // Some unrelated span is current: a new trace must not become its child.
    let unrelated = tracing::info_span!("unrelated");
    let _entered = unrelated.enter();

    let (traceresponse, sent, _) = exchange(StatusCode::OK, None).await;
    drop(_entered);
    drop(unrelated);

    let spans = finished(&exporter, &provider);
    let server = of_kind(&spans, &SpanKind::Server);
    assert_eq!(server.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_eq!(
        server.span_context.trace_id().to_string(),
        trace_id_of(&traceresponse)
    );
    assert_eq!(
        server.span_context.span_id().to_string(),
        span_id_of(&traceresponse)
    );
    assert_eq!(trace_id_of(&sent), trace_id_of(&traceresponse));
}

#[tokio::test]
async fn without_the_id_generator_what_we_send_still_names_the_exported_spans() {
    let (exporter, provider, subscriber) = exporting(false);
    let _default = tracing::subscriber::set_default(subscriber);

    let (traceresponse, sent, ours) = exchange(StatusCode::OK, Some(PARENT)).await;

    let spans = finished(&exporter, &provider);
    let server = of_kind(&spans, &SpanKind::Server);
    let client = of_kind(&spans, &SpanKind::Client);
    let server_id = server.span_context.span_id().to_string();
    assert_eq!(server.parent_span_id.to_string(), CALLER_SPAN_ID);
    assert_eq!(span_id_of(&traceresponse), server_id);
    assert_eq!(ours, server_id);
    assert_eq!(client.parent_span_id.to_string(), server_id);
    assert_eq!(span_id_of(&sent), client.span_context.span_id().to_string());
}

#[tokio::test]
async fn a_client_call_outside_trace_layer_continues_the_current_exported_span() {
    let (exporter, provider, subscriber) = exporting(true);
    let _default = tracing::subscriber::set_default(subscriber);

    let job = tracing::info_span!("nightly job");
    let sent = {
        let _entered = job.enter();
        echo_client()
            .oneshot(Request::new(()))
            .await
            .unwrap()
            .into_body()
    };
    drop(job);

    let spans = finished(&exporter, &provider);
    let job = spans.iter().find(|s| s.name == "nightly job").unwrap();
    let client = of_kind(&spans, &SpanKind::Client);
    assert_eq!(trace_id_of(&sent), job.span_context.trace_id().to_string());
    assert_eq!(client.parent_span_id, job.span_context.span_id());
    assert_eq!(span_id_of(&sent), client.span_context.span_id().to_string());
}

#[tokio::test]
async fn an_unsampled_request_exports_nothing_and_sends_the_decision_on() {
    let (exporter, provider, subscriber) = exporting(true);
    let _default = tracing::subscriber::set_default(subscriber);

    let unsampled = PARENT.replace("-01", "-00");
    let (_, sent, _) = exchange(StatusCode::OK, Some(&unsampled)).await;

    assert!(finished(&exporter, &provider).is_empty());
    assert_eq!(trace_id_of(&sent), TRACE_ID);
    assert!(sent.ends_with("-00"));
}
