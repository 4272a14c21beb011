//! The response future of [`RequestId`](super::RequestId).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderName, Response};
use pin_project_lite::pin_project;

use super::RequestIdValue;

pin_project! {
    /// Echoes the request id on the response of the inner future.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // `None` once the response has been returned.
        echo: Option<(HeaderName, RequestIdValue)>,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, header_name: HeaderName, id: RequestIdValue) -> Self {
        Self {
            inner,
            echo: Some((header_name, id)),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some((name, id)) = this.echo.take() {
            // The inner service's own header wins: it may be a proxy passing an
            // upstream id on, or a handler that knows better.
            if !response.headers().contains_key(&name) {
                response.headers_mut().insert(name, id.to_header_value());
            }
            response.extensions_mut().insert(id);
        }
        Poll::Ready(Ok(response))
    }
}
