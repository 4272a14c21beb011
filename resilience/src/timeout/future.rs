//! The response future of [`Timeout`](super::Timeout).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::error::Elapsed;
use crate::BoxError;

pin_project! {
    /// Resolves to the inner response, or to [`Elapsed`] when the timer fires
    /// first.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        response: F,
        #[pin]
        sleep: Sleep,
        // Nanoseconds rather than a `Duration`: measurably cheaper to move
        // (as fast as tower's future, where a `Duration` here was not).
        timeout_nanos: u64,
        name: Option<Arc<str>>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(response: F, timeout: Duration, name: Option<Arc<str>>) -> Self {
        Self {
            response,
            sleep: tokio::time::sleep(timeout),
            timeout_nanos: u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX),
            name,
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The response goes first so an answer that is ready together with the
        // timer still counts as a success.
        if let Poll::Ready(result) = this.response.poll(cx) {
            return Poll::Ready(result.map_err(Into::into));
        }
        match this.sleep.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let name = this.name.as_deref().unwrap_or(super::DEFAULT_NAME);
                let timeout = Duration::from_nanos(*this.timeout_nanos);
                tracing::debug!(name, ?timeout, "call timed out");
                #[cfg(feature = "metrics")]
                metrics::counter!("palisade_timeout_elapsed_total", "name" => name.to_owned())
                    .increment(1);
                Poll::Ready(Err(Elapsed::new(timeout).into()))
            }
        }
    }
}
