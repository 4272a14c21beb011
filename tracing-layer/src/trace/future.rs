//! The response future of [`Trace`](super::Trace).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::time::Instant;

use http::{HeaderName, HeaderValue, Response};
use pin_project_lite::pin_project;
use tracing::Span;

use super::{Failure, OnFailure, OnResponse, TraceBody};
use crate::propagate::{TraceContext, with_current};
use crate::request_id::RequestIdValue;

/// The `traceresponse` header (Trace Context Level 2).
const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

pin_project! {
    /// Polls the inner future inside the request's span, with our hop's
    /// trace context as the current one, and hands the span on to the
    /// response body.
    #[derive(Debug)]
    pub struct ResponseFuture<F, OnRes, OnFail> {
        #[pin]
        pub(super) inner: F,
        // `None` once the response has been returned.
        pub(super) span: Option<Span>,
        pub(super) context: Option<TraceContext>,
        pub(super) start: Instant,
        pub(super) request_id_recorded: bool,
        pub(super) trace_response: bool,
        pub(super) on_response: Option<OnRes>,
        pub(super) on_failure: Option<OnFail>,
    }
}

impl<F, OnRes, OnFail> ResponseFuture<F, OnRes, OnFail> {
    /// A request the layer leaves alone: no span, no hooks, no context.
    pub(super) fn untraced(inner: F, start: Instant) -> Self {
        Self {
            inner,
            span: None,
            context: None,
            start,
            request_id_recorded: true,
            trace_response: false,
            on_response: None,
            on_failure: None,
        }
    }
}

impl<F, B, E, OnRes, OnFail> Future for ResponseFuture<F, OnRes, OnFail>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: fmt::Display,
    OnRes: OnResponse<B>,
    OnFail: OnFailure,
{
    type Output = Result<Response<TraceBody<B, OnFail>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.as_ref().map(Span::enter);
            let inner = this.inner;
            ready!(with_current(this.context, || inner.poll(cx)))
        };
        let latency = this.start.elapsed();
        let span = this.span.take().unwrap_or_else(Span::none);
        let mut on_failure = this.on_failure.take();
        let entered = span.enter();
        match result {
            Ok(mut response) => {
                if *this.trace_response
                    && let Some(context) = this.context.as_ref()
                    && !response.headers().contains_key(&TRACERESPONSE)
                    && let Ok(value) = HeaderValue::from_str(&context.traceparent().to_string())
                {
                    response.headers_mut().insert(TRACERESPONSE, value);
                }
                let status = response.status();
                span.record("http.response.status_code", status.as_u16());
                if !*this.request_id_recorded {
                    // A `RequestIdLayer` inside this one put the id on the response.
                    if let Some(id) = response.extensions().get::<RequestIdValue>() {
                        span.record("request_id", id.as_str());
                    }
                }
                if let Some(on_response) = this.on_response.take() {
                    on_response.on_response(&response, latency, &span);
                }
                if status.is_server_error() {
                    span.record("error.type", status.as_str());
                    span.record("otel.status_code", "ERROR");
                    if let Some(on_failure) = on_failure.as_mut() {
                        on_failure.on_failure(Failure::Status(status), latency, &span);
                    }
                }
                if let Some(code) = super::grpc::grpc_status(response.headers()) {
                    super::grpc::record(&span, code, on_failure.as_mut(), latency);
                }
                drop(entered);
                let (parts, body) = response.into_parts();
                let body = TraceBody::new(body, span, on_failure, *this.start);
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            Err(error) => {
                let failure = Failure::Error(&error);
                span.record("error.type", failure.error_type().as_str());
                span.record("otel.status_code", "ERROR");
                if let Some(on_failure) = on_failure.as_mut() {
                    on_failure.on_failure(failure, latency, &span);
                }
                drop(entered);
                Poll::Ready(Err(error))
            }
        }
    }
}
