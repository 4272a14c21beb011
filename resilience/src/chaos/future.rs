//! The response future of [`Chaos`](super::Chaos).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::BoxError;

pin_project! {
    /// The inner response, possibly delayed, or an injected error.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Passthrough { #[pin] fut: F },
        // Boxed so a call without injected latency does not carry a `Sleep`.
        Delayed {
            sleep: Pin<Box<Sleep>>,
            #[pin]
            fut: Option<F>,
            error: Option<BoxError>,
        },
        Failed { error: Option<BoxError> },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn passthrough(fut: F) -> Self {
        Self {
            kind: Kind::Passthrough { fut },
        }
    }

    /// `outcome` is the inner call or the injected error; `delay` comes first.
    pub(crate) fn new(outcome: Result<F, BoxError>, delay: Option<Duration>) -> Self {
        let (fut, error) = match outcome {
            Ok(fut) => (Some(fut), None),
            Err(error) => (None, Some(error)),
        };
        let kind = match (delay, fut) {
            (None, Some(fut)) => Kind::Passthrough { fut },
            (None, None) => Kind::Failed { error },
            (Some(delay), fut) => Kind::Delayed {
                sleep: Box::pin(tokio::time::sleep(delay)),
                fut,
                error,
            },
        };
        Self { kind }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Passthrough { fut } => fut.poll(cx).map_err(Into::into),
            KindProj::Delayed { sleep, fut, error } => {
                ready!(sleep.as_mut().poll(cx));
                match fut.as_pin_mut() {
                    Some(fut) => fut.poll(cx).map_err(Into::into),
                    None => Poll::Ready(Err(take(error))),
                }
            }
            KindProj::Failed { error } => Poll::Ready(Err(take(error))),
        }
    }
}

fn take(error: &mut Option<BoxError>) -> BoxError {
    error
        .take()
        .unwrap_or_else(|| "chaos response future polled after completion".into())
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Passthrough { .. } => "passthrough",
            Kind::Delayed { .. } => "delayed",
            Kind::Failed { .. } => "failed",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}
