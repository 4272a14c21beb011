//! [`ResponseFuture`] for [`Endpoint`](super::Endpoint).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::shared::Host;
use crate::classify::Classify;

pin_project! {
    /// The response future of [`Endpoint`](super::Endpoint): the inner
    /// future, whose result is reported to the detector when it completes.
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        classify: C,
        host: Arc<Host>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn new(inner: F, classify: C, host: Arc<Host>) -> Self {
        Self {
            inner,
            classify,
            host,
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        this.host.record(this.classify.classify(&result));
        Poll::Ready(result)
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("endpoint", &self.host.name)
            .finish_non_exhaustive()
    }
}
