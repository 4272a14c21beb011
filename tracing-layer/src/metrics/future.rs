//! The response future of [`Metrics`](super::Metrics).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use super::MetricsBody;
use super::record::Pending;

pin_project! {
    /// Hands the measurement on to the response body, or records a service
    /// error (`error.type` = `_OTHER`). Dropped before the response, it
    /// records nothing but leaves the active-requests gauge.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, pending: Pending) -> Self {
        Self {
            inner,
            pending: Some(pending),
        }
    }

    /// A request the layer does not measure.
    pub(super) fn unmeasured(inner: F) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<MetricsBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut pending = this.pending.take();
        match result {
            Ok(response) => {
                if let Some(pending) = pending.as_mut() {
                    pending.status = Some(response.status());
                }
                Poll::Ready(Ok(response.map(|body| MetricsBody::new(body, pending))))
            }
            Err(error) => {
                if let Some(mut pending) = pending {
                    pending.finish(Some("_OTHER"));
                }
                Poll::Ready(Err(error))
            }
        }
    }
}
