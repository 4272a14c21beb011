//! `TraceLayer`: span name and OpenTelemetry attributes, trace context in,
//! failures, request ids, and a span that lasts until the body ends.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use palisade_tracing_layer::propagate::{TraceContext, TraceParent};
use palisade_tracing_layer::request_id::RequestIdLayer;
use palisade_tracing_layer::trace::{ErrorType, HttpRoute, TraceLayer};
use support::capture::Capture;
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn ok_service(
    status: StatusCode,
) -> impl tower::Service<Request<()>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
+ Clone {
    service_fn(move |_request: Request<()>| async move {
        let mut response = Response::new(Full::new(Bytes::from_static(b"hello")));
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    })
}

async fn drain<B: Body>(body: B) -> Result<Bytes, B::Error>
where
    B::Data: Send,
{
    Ok(body.collect().await?.to_bytes())
}

#[tokio::test]
async fn span_is_named_by_method_and_route_with_the_http_semantic_conventions() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = ServiceBuilder::new()
        .layer(TraceLayer::new())
        .service(ok_service(StatusCode::OK));

    let mut request = Request::get("/users/42?page=2")
        .header("host", "shop.example:8443")
        .header("traceparent", PARENT)
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(HttpRoute::new("/users/{id}"));
    let response = service.oneshot(request).await.unwrap();
    drain(response.into_body()).await.unwrap();

    let span = capture.only();
    assert_eq!(span.name, "HTTP request");
    assert_eq!(span.field("otel.name"), Some("GET /users/{id}"));
    assert_eq!(span.field("otel.kind"), Some("server"));
    assert_eq!(span.field("http.request.method"), Some("GET"));
    assert_eq!(span.field("http.route"), Some("/users/{id}"));
    assert_eq!(span.field("url.scheme"), Some("http"));
    assert_eq!(span.field("url.path"), Some("/users/42"));
    assert_eq!(span.field("server.address"), Some("shop.example"));
    assert_eq!(span.field("server.port"), Some("8443"));
    assert_eq!(span.field("network.protocol.version"), Some("1.1"));
    assert_eq!(span.field("http.response.status_code"), Some("200"));
    assert_eq!(span.field("error.type"), None);
    assert_eq!(span.field("otel.status_code"), None);
    assert_eq!(span.field("http.request.method_original"), None);
    // The caller's trace, a new span id for our hop.
    assert_eq!(
        span.field("trace_id"),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
    assert_eq!(span.field("parent_span_id"), Some("b7ad6b7169203331"));
    let span_id = span.field("span_id").unwrap();
    assert_eq!(span_id.len(), 16);
    assert_ne!(span_id, "b7ad6b7169203331");
    assert!(span.closed);
}

#[tokio::test]
async fn without_a_route_the_raw_path_never_names_the_span() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = TraceLayer::new().layer(ok_service(StatusCode::NOT_FOUND));

    let request = Request::post("/wp-admin/../../etc/passwd")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    drain(response.into_body()).await.unwrap();

    let span = capture.only();
    assert_eq!(span.field("otel.name"), Some("POST"));
    assert_eq!(span.field("http.route"), None);
    assert_eq!(span.field("url.path"), Some("/wp-admin/../../etc/passwd"));
    assert_eq!(span.field("http.response.status_code"), Some("404"));
    // A 4xx is the client's failure, not the server's.
    assert_eq!(span.field("error.type"), None);
    assert_eq!(span.field("server.address"), None);
}

#[tokio::test]
async fn unknown_methods_are_other_and_named_http() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = TraceLayer::new().layer(ok_service(StatusCode::OK));

    let request = Request::builder()
        .method(Method::from_bytes(b"PURGE").unwrap())
        .uri("/cache")
        .body(())
        .unwrap();
    let mut with_route = request;
    with_route.extensions_mut().insert(HttpRoute::new("/cache"));
    service.oneshot(with_route).await.unwrap();

    let span = capture.only();
    assert_eq!(span.field("http.request.method"), Some("_OTHER"));
    assert_eq!(span.field("http.request.method_original"), Some("PURGE"));
    assert_eq!(span.field("otel.name"), Some("HTTP /cache"));
}

#[tokio::test]
async fn an_invalid_traceparent_starts_a_sampled_trace_the_handler_can_see() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler_seen = seen.clone();
    let service = TraceLayer::new().layer(service_fn(move |request: Request<()>| {
        let seen = handler_seen.clone();
        async move {
            let current = TraceContext::current();
            let extension = request.extensions().get::<TraceContext>().cloned();
            seen.lock().unwrap().push((current, extension));
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }
    }));

    // Uppercase hex: invalid.
    let request = Request::get("/")
        .header("traceparent", PARENT.to_uppercase())
        .header("tracestate", "congo=t61rcWkgMzE")
        .body(())
        .unwrap();
    service.clone().oneshot(request).await.unwrap();

    let (current, extension) = seen.lock().unwrap().pop().unwrap();
    let current = current.expect("the handler runs with our hop's context");
    assert_eq!(Some(&current), extension.as_ref());
    assert_ne!(
        current.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert!(current.tracestate().is_empty(), "tracestate is dropped");
    assert!(current.flags().is_sampled() && current.flags().is_random_trace_id());
    let span = capture.only();
    assert_eq!(
        span.field("trace_id"),
        Some(current.trace_id().to_string().as_str())
    );
    assert_eq!(
        span.field("span_id"),
        Some(current.span_id().to_string().as_str())
    );
    assert_eq!(span.field("parent_span_id"), None);
    // Outside the request, there is no current context.
    assert_eq!(TraceContext::current(), None);
}

#[tokio::test]
async fn new_traces_can_be_left_unsampled_while_a_parent_keeps_its_flags() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler_seen = seen.clone();
    let service = TraceLayer::new().sample_new_traces(false).layer(service_fn(
        move |_request: Request<()>| {
            handler_seen
                .lock()
                .unwrap()
                .push(TraceContext::current().unwrap());
            async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
        },
    ));
    service.clone().oneshot(Request::new(())).await.unwrap();
    let request = Request::get("/")
        .header("traceparent", PARENT)
        .header("tracestate", "congo=t61rcWkgMzE")
        .body(())
        .unwrap();
    service.oneshot(request).await.unwrap();

    let seen = seen.lock().unwrap();
    assert!(!seen[0].flags().is_sampled());
    let parent: TraceParent = PARENT.parse().unwrap();
    assert_eq!(seen[1].trace_id(), parent.trace_id());
    assert_eq!(seen[1].flags(), parent.flags());
    assert_eq!(seen[1].tracestate().to_string(), "congo=t61rcWkgMzE");
}

#[tokio::test]
async fn a_5xx_is_a_failure_with_its_status_as_error_type() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let failures = Arc::new(Mutex::new(Vec::new()));
    let hook_failures = failures.clone();
    let service = TraceLayer::new()
        .on_failure(
            move |failure: palisade_tracing_layer::trace::Failure<'_>, _, _: &tracing::Span| {
                hook_failures.lock().unwrap().push(failure.error_type());
            },
        )
        .layer(ok_service(StatusCode::SERVICE_UNAVAILABLE));

    let response = service.oneshot(Request::new(())).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    drain(response.into_body()).await.unwrap();

    let span = capture.only();
    assert_eq!(span.field("http.response.status_code"), Some("503"));
    assert_eq!(span.field("error.type"), Some("503"));
    assert_eq!(span.field("otel.status_code"), Some("ERROR"));
    assert_eq!(
        *failures.lock().unwrap(),
        [ErrorType::Status(StatusCode::SERVICE_UNAVAILABLE)]
    );
}

#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream connection reset")
    }
}

impl std::error::Error for Broken {}

#[tokio::test]
async fn a_service_error_passes_through_and_is_recorded_without_its_message() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = TraceLayer::new().layer(service_fn(|_: Request<()>| async {
        Err::<Response<Full<Bytes>>, _>(Broken)
    }));

    let error = service.oneshot(Request::new(())).await.unwrap_err();
    assert_eq!(error.to_string(), "upstream connection reset");

    let span = capture.only();
    assert_eq!(span.field("error.type"), Some("_OTHER"));
    assert_eq!(span.field("otel.status_code"), Some("ERROR"));
    assert_eq!(span.field("http.response.status_code"), None);
    // The default hook logs the failure inside the span.
    assert_eq!(
        span.events.last().map(String::as_str),
        Some("response failed")
    );
    assert!(span.closed);
}

/// A body that hands out its frames one poll at a time, then fails or ends.
struct Frames {
    frames: VecDeque<&'static [u8]>,
    fail_at_end: bool,
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Broken;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Broken>>> {
        match self.frames.pop_front() {
            Some(data) => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(data))))),
            None if self.fail_at_end => Poll::Ready(Some(Err(Broken))),
            None => Poll::Ready(None),
        }
    }
}

fn streaming(
    fail_at_end: bool,
) -> impl tower::Service<Request<()>, Response = Response<Frames>, Error = Infallible> + Clone {
    service_fn(move |_: Request<()>| async move {
        Ok::<_, Infallible>(Response::new(Frames {
            frames: VecDeque::from([&b"a"[..], b"b", b"c"]),
            fail_at_end,
        }))
    })
}

#[tokio::test]
async fn the_span_lasts_until_the_body_ends_not_until_the_head() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = TraceLayer::new().layer(streaming(false));

    let response = service.oneshot(Request::new(())).await.unwrap();
    assert!(!capture.only().closed, "open while the body streams");
    let mut body = response.into_body();
    for _ in 0..3 {
        body.frame().await.unwrap().unwrap();
        assert!(!capture.only().closed);
    }
    assert!(body.frame().await.is_none());
    assert!(capture.only().closed, "closed at the end of the body");
    assert_eq!(capture.only().field("error.type"), None);
}

#[tokio::test]
async fn a_dropped_body_closes_the_span() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = TraceLayer::new().layer(streaming(false));

    let response = service.oneshot(Request::new(())).await.unwrap();
    let mut body = response.into_body();
    body.frame().await.unwrap().unwrap();
    assert!(!capture.only().closed);
    drop(body);
    assert!(capture.only().closed);
}

#[tokio::test]
async fn a_body_error_is_a_failure() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = TraceLayer::new().layer(streaming(true));

    let response = service.oneshot(Request::new(())).await.unwrap();
    assert!(drain(response.into_body()).await.is_err());

    let span = capture.only();
    assert_eq!(span.field("http.response.status_code"), Some("200"));
    assert_eq!(span.field("error.type"), Some("body"));
    assert_eq!(span.field("otel.status_code"), Some("ERROR"));
    assert!(span.closed);
}

#[tokio::test]
async fn the_request_id_is_recorded_whichever_side_of_the_layer_it_is_made() {
    for outside in [true, false] {
        let (capture, subscriber) = Capture::new();
        let _guard = tracing::subscriber::set_default(subscriber);
        let request = Request::get("/")
            .header("x-request-id", "req-7f3a")
            .body(())
            .unwrap();
        let response = if outside {
            ServiceBuilder::new()
                .layer(RequestIdLayer::new())
                .layer(TraceLayer::new())
                .service(ok_service(StatusCode::OK))
                .oneshot(request)
                .await
                .unwrap()
                .map(|b| b.boxed_unsync())
        } else {
            ServiceBuilder::new()
                .layer(TraceLayer::new())
                .layer(RequestIdLayer::new())
                .service(ok_service(StatusCode::OK))
                .oneshot(request)
                .await
                .unwrap()
                .map(|b| b.boxed_unsync())
        };
        assert_eq!(response.headers()["x-request-id"], "req-7f3a");
        assert_eq!(
            capture.only().field("request_id"),
            Some("req-7f3a"),
            "outside: {outside}"
        );
    }
}

#[tokio::test]
async fn hooks_replace_the_defaults() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (on_req, on_res) = (calls.clone(), calls.clone());
    let service = TraceLayer::new()
        .make_span_with(
            |_: &Request<()>, a: &palisade_tracing_layer::trace::RequestAttributes<'_>| {
                tracing::info_span!(
                    "custom",
                    name = a.span_name(),
                    "http.response.status_code" = tracing::field::Empty
                )
            },
        )
        .on_request(move |_: &Request<()>, _: &tracing::Span| {
            on_req.lock().unwrap().push("request")
        })
        .on_response(move |r: &Response<Full<Bytes>>, _, _: &tracing::Span| {
            on_res.lock().unwrap().push(if r.status().is_success() {
                "response"
            } else {
                "?"
            });
        })
        .layer(ok_service(StatusCode::OK));
    service.oneshot(Request::new(())).await.unwrap();

    assert_eq!(*calls.lock().unwrap(), ["request", "response"]);
    let span = capture.only();
    assert_eq!(span.name, "custom");
    assert_eq!(span.field("name"), Some("GET"));
    assert_eq!(span.field("http.response.status_code"), Some("200"));
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn axum_matched_path_names_the_span() {
    use axum::Router;
    use axum::routing::get;

    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .layer(TraceLayer::new());

    let request = Request::get("/users/42")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(drain(response.into_body()).await.unwrap(), "user");

    let span = capture.only();
    assert_eq!(span.field("otel.name"), Some("GET /users/{id}"));
    assert_eq!(span.field("http.route"), Some("/users/{id}"));
    assert_eq!(span.field("url.path"), Some("/users/42"));
}

#[tokio::test]
async fn traceresponse_is_opt_in_and_names_our_hop() {
    let seen = Arc::new(Mutex::new(None));
    let handler_seen = seen.clone();
    let handler = service_fn(move |_: Request<()>| {
        *handler_seen.lock().unwrap() = TraceContext::current();
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
    });
    let request = || {
        Request::get("/")
            .header("traceparent", PARENT)
            .body(())
            .unwrap()
    };

    let off = TraceLayer::new()
        .layer(handler.clone())
        .oneshot(request())
        .await
        .unwrap();
    assert!(!off.headers().contains_key("traceresponse"));

    let on = TraceLayer::new()
        .trace_response(true)
        .layer(handler)
        .oneshot(request())
        .await
        .unwrap();
    let ours = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        on.headers()["traceresponse"],
        format!("00-0af7651916cd43dd8448eb211c80319c-{}-01", ours.span_id())
    );
}
