//! gRPC status classification: `grpc-status` from the head or the trailers.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use palisade_tracing_layer::trace::{ErrorType, Failure, TraceLayer};
use support::capture::{Capture, CapturedSpan};
use tower::{Layer, ServiceExt, service_fn};

/// A gRPC-style body: a message, then trailers.
struct Grpc(VecDeque<Frame<Bytes>>);

impl Body for Grpc {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

fn trailers(status: &str) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", status.parse().unwrap());
    trailers.insert("grpc-message", "secret detail".parse().unwrap());
    trailers
}

/// Serves one call answering with `head` headers and a body ending with
/// `trailer_status`; returns the span and the failures the hook saw.
async fn serve(head: Option<&str>, trailer_status: Option<&str>) -> (CapturedSpan, Vec<ErrorType>) {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let failures = Arc::new(Mutex::new(Vec::new()));
    let seen = failures.clone();
    let head = head.map(str::to_owned);
    let trailer_status = trailer_status.map(str::to_owned);
    let for_service = trailer_status.clone();
    let service = TraceLayer::new()
        .on_failure(
            move |failure: Failure<'_>, _: std::time::Duration, _: &tracing::Span| {
                seen.lock().unwrap().push(failure.error_type());
            },
        )
        .layer(service_fn(move |_: Request<()>| {
            let mut frames = VecDeque::from([Frame::data(Bytes::from_static(b"\0\0\0\0\0"))]);
            if let Some(status) = &for_service {
                frames.push_back(Frame::trailers(trailers(status)));
            }
            let mut response = Response::new(Grpc(frames));
            response
                .headers_mut()
                .insert("content-type", "application/grpc".parse().unwrap());
            if let Some(status) = &head {
                response
                    .headers_mut()
                    .insert("grpc-status", status.parse().unwrap());
            }
            async move { Ok::<_, Infallible>(response) }
        }));
    let request = Request::post("/helloworld.Greeter/SayHello")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let collected = response.into_body().collect().await.unwrap();
    // The trailers reach the caller untouched.
    assert_eq!(collected.trailers().is_some(), trailer_status.is_some());
    let span = capture.only();
    let failures = failures.lock().unwrap().clone();
    (span, failures)
}

#[tokio::test]
async fn a_failing_status_in_the_trailers_marks_the_span() {
    let (span, failures) = serve(None, Some("14")).await;
    assert_eq!(span.field("rpc.grpc.status_code"), Some("14"));
    assert_eq!(span.field("error.type"), Some("14"));
    assert_eq!(span.field("otel.status_code"), Some("ERROR"));
    assert_eq!(span.field("http.response.status_code"), Some("200"));
    assert_eq!(failures, [ErrorType::Grpc(14)]);
    assert!(span.closed);
    assert_eq!(span.name, "HTTP request");
    // Never the message.
    assert!(!format!("{span:?}").contains("secret detail"));
}

#[tokio::test]
async fn a_client_status_is_recorded_but_is_not_a_failure() {
    let (span, failures) = serve(None, Some("5")).await;
    assert_eq!(span.field("rpc.grpc.status_code"), Some("5"));
    assert_eq!(span.field("error.type"), None);
    assert_eq!(span.field("otel.status_code"), None);
    assert!(failures.is_empty());

    let (span, _) = serve(None, Some("0")).await;
    assert_eq!(span.field("rpc.grpc.status_code"), Some("0"));
    assert_eq!(span.field("error.type"), None);
}

#[tokio::test]
async fn a_trailers_only_response_is_read_from_the_head() {
    let (span, failures) = serve(Some("13"), None).await;
    assert_eq!(span.field("rpc.grpc.status_code"), Some("13"));
    assert_eq!(span.field("error.type"), Some("13"));
    assert_eq!(failures, [ErrorType::Grpc(13)]);
}

#[tokio::test]
async fn plain_http_gets_no_grpc_status() {
    let (span, failures) = serve(None, None).await;
    assert_eq!(span.field("rpc.grpc.status_code"), None);
    assert!(failures.is_empty());
}
