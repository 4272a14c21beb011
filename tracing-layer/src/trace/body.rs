//! The response body that keeps the request's span open until it ends.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::time::Instant;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tracing::Span;

use super::{DefaultOnFailure, Failure, OnFailure};

pin_project! {
    /// A response body that holds the request's span until the body has
    /// ended (its last frame was read), failed, or was dropped: the span's
    /// duration is the whole exchange, not the time to the response head.
    #[derive(Debug)]
    pub struct TraceBody<B, OnFail = DefaultOnFailure> {
        #[pin]
        inner: B,
        span: Option<Span>,
        on_failure: Option<OnFail>,
        start: Instant,
    }
}

impl<B, OnFail> TraceBody<B, OnFail> {
    pub(super) fn new(inner: B, span: Span, on_failure: Option<OnFail>, start: Instant) -> Self {
        Self {
            inner,
            span: Some(span),
            on_failure,
            start,
        }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// Unwraps the body; the span closes.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B, OnFail> Body for TraceBody<B, OnFail>
where
    B: Body,
    B::Error: fmt::Display,
    OnFail: OnFailure,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = {
            let _entered = this.span.as_ref().map(Span::enter);
            ready!(this.inner.as_mut().poll_frame(cx))
        };
        match &frame {
            // The end: the span closes now, not when the server drops the body.
            None => drop(this.span.take()),
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(code) = super::grpc::grpc_status(trailers)
                    && let Some(span) = this.span.as_ref()
                {
                    super::grpc::record(span, code, this.on_failure.as_mut(), this.start.elapsed());
                }
                if this.inner.is_end_stream() {
                    drop(this.span.take());
                }
            }
            Some(Err(error)) => {
                if let Some(span) = this.span.take() {
                    let _entered = span.enter();
                    let failure = Failure::Body(error);
                    span.record("error.type", failure.error_type().as_str());
                    span.record("otel.status_code", "ERROR");
                    if let Some(on_failure) = this.on_failure.as_mut() {
                        on_failure.on_failure(failure, this.start.elapsed(), &span);
                    }
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
