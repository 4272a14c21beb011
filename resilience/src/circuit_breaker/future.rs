//! The response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::state::Breaker;
use super::ticket::{Admission, Ticket};
use crate::BoxError;
use crate::classify::{Classify, ErrorsAreFailures};

pin_project! {
    /// The future of [`CircuitBreaker`](super::CircuitBreaker) and
    /// [`KeyedCircuitBreaker`](super::KeyedCircuitBreaker): the inner
    /// service's future, whose result is classified and recorded when it
    /// resolves, or an immediately ready
    /// [`CircuitOpen`](super::error::CircuitOpen) error.
    ///
    /// Dropping it before it resolves records nothing; a HalfOpen probe gives
    /// its permit back so another call can probe.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C = ErrorsAreFailures> {
        #[pin]
        kind: Kind<F, C>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, C> {
        Called {
            #[pin]
            future: F,
            ticket: Ticket,
            classifier: C,
        },
        Rejected {
            error: Option<BoxError>,
        },
    }
}

impl<F, C> ResponseFuture<F, C> {
    /// A call refused before the breaker was consulted.
    pub(crate) fn failed(error: BoxError) -> Self {
        Self {
            kind: Kind::Rejected { error: Some(error) },
        }
    }

    /// Turns a verdict into a future: `call` runs only for admitted calls.
    #[inline]
    pub(crate) fn new(
        admission: Admission,
        breaker: &Arc<Breaker>,
        classifier: &C,
        call: impl FnOnce() -> F,
    ) -> Self
    where
        C: Clone,
    {
        let ticket = match admission {
            Admission::Rejected { state, retry_after } => {
                let error: BoxError = Box::new(breaker.open_error(state, retry_after));
                return Self {
                    kind: Kind::Rejected { error: Some(error) },
                };
            }
            Admission::Pass { word } => Ticket::new(Arc::clone(breaker), word),
            Admission::Probe(mut ticket) => {
                ticket.restart();
                ticket
            }
        };
        Self {
            kind: Kind::Called {
                future: call(),
                ticket,
                classifier: classifier.clone(),
            },
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T, E>,
{
    type Output = Result<T, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called {
                future,
                ticket,
                classifier,
            } => {
                let result = ready!(future.poll(cx));
                ticket.finish_with(
                    classifier.classify(&result).is_failure(),
                    classifier.break_for(&result),
                );
                Poll::Ready(result.map_err(Into::into))
            }
            // Polled again after completion (a contract violation): stay
            // pending, as a fused future would.
            KindProj::Rejected { error } => {
                error.take().map_or(Poll::Pending, |e| Poll::Ready(Err(e)))
            }
        }
    }
}
