//! [`ResponseFuture`]: the inner call, or the rejection, of one request.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::error::Refused;
use super::headers::{RateLimitInfo, ResponseHeaders};
use crate::BoxError;

pin_project! {
    /// The future of [`RateLimit`](super::RateLimit): the inner service's
    /// future (whose response gets the `H` headers), or an immediate
    /// [`RateLimited`](super::error::RateLimited) or
    /// [`MissingKey`](crate::key::MissingKey) error.
    pub struct ResponseFuture<F, H> {
        #[pin]
        kind: Kind<F>,
        _headers: PhantomData<fn() -> H>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Called { #[pin] future: F, info: RateLimitInfo },
        Refused { error: Option<Refused> },
    }
}

impl<F, H> ResponseFuture<F, H> {
    pub(crate) const fn called(future: F, info: RateLimitInfo) -> Self {
        Self {
            kind: Kind::Called { future, info },
            _headers: PhantomData,
        }
    }

    pub(crate) const fn refused(error: Refused) -> Self {
        Self {
            kind: Kind::Refused { error: Some(error) },
            _headers: PhantomData,
        }
    }
}

impl<F, H, T, E> Future for ResponseFuture<F, H>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    H: ResponseHeaders<T>,
{
    type Output = Result<T, BoxError>;

    // Always: with a plain `#[inline]` the compiler kept `poll` out of line
    // in a `ready().await; call().await` loop, one more call per request.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called { future, info } => {
                let mut response = ready!(future.poll(cx)).map_err(Into::into)?;
                H::apply(&mut response, info);
                Poll::Ready(Ok(response))
            }
            KindProj::Refused { error } => match error.take() {
                Some(error) => Poll::Ready(Err(error.into())),
                None => Poll::Ready(Err("rate limit future polled after completion".into())),
            },
        }
    }
}

impl<F, H> fmt::Debug for ResponseFuture<F, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
