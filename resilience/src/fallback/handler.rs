//! What answers instead of the inner service: [`FallbackHandler`] and its
//! implementations.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use crate::BoxError;

/// Produces the fallback answer for a failed call.
///
/// The handler may keep something from the request before the inner service
/// consumes it ([`Saved`](Self::Saved)): `()` for handlers that only need the
/// error, a clone of the request for those that re-send it.
pub trait FallbackHandler<Req> {
    /// The response type, the same as the inner service's.
    type Response;
    /// What is kept from each request until the call completes.
    type Saved;
    /// The future of the fallback answer.
    type Future: Future<Output = Result<Self::Response, crate::BoxError>>;

    /// Keeps what the fallback needs from `req`, before the inner call.
    fn save(&self, req: &Req) -> Self::Saved;

    /// Answers for a call that failed with `error`.
    fn fallback(&self, saved: Self::Saved, error: BoxError) -> Self::Future;
}

/// An async closure of the error: `Fn(BoxError) -> impl Future<Output =
/// Result<Res, BoxError>>`. See [`FallbackLayer::from_fn`](super::FallbackLayer::from_fn).
#[derive(Clone, Copy)]
pub struct FromFn<F>(pub(crate) F);

impl<F, Fut, Res, Req> FallbackHandler<Req> for FromFn<F>
where
    F: Fn(BoxError) -> Fut,
    Fut: Future<Output = Result<Res, BoxError>>,
{
    type Response = Res;
    type Saved = ();
    type Future = Fut;

    fn save(&self, _: &Req) {}

    fn fallback(&self, (): (), error: BoxError) -> Fut {
        (self.0)(error)
    }
}

/// A plain closure of the error returning the response: `Fn(BoxError) -> Res`.
/// See [`FallbackLayer::value`](super::FallbackLayer::value).
#[derive(Clone, Copy)]
pub struct Value<F>(pub(crate) F);

impl<F, Res, Req> FallbackHandler<Req> for Value<F>
where
    F: Fn(BoxError) -> Res,
{
    type Response = Res;
    type Saved = ();
    type Future = Ready<Result<Res, BoxError>>;

    fn save(&self, _: &Req) {}

    fn fallback(&self, (): (), error: BoxError) -> Self::Future {
        ready(Ok((self.0)(error)))
    }
}

/// An async closure of a clone of the request and the error. See
/// [`FallbackLayer::with_request`](super::FallbackLayer::with_request).
#[derive(Clone, Copy)]
pub struct WithRequest<F>(pub(crate) F);

impl<F, Fut, Res, Req> FallbackHandler<Req> for WithRequest<F>
where
    F: Fn(Req, BoxError) -> Fut,
    Fut: Future<Output = Result<Res, BoxError>>,
    Req: Clone,
{
    type Response = Res;
    type Saved = Req;
    type Future = Fut;

    fn save(&self, req: &Req) -> Req {
        req.clone()
    }

    fn fallback(&self, req: Req, error: BoxError) -> Fut {
        (self.0)(req, error)
    }
}

/// A second service that gets a clone of the request. See
/// [`FallbackLayer::service`](super::FallbackLayer::service).
#[derive(Clone, Copy, Debug)]
pub struct ToService<S>(pub(crate) S);

impl<S, Req> FallbackHandler<Req> for ToService<S>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    Req: Clone,
{
    type Response = S::Response;
    type Saved = Req;
    type Future = ServiceFuture<S, Req>;

    fn save(&self, req: &Req) -> Req {
        req.clone()
    }

    fn fallback(&self, req: Req, _: BoxError) -> Self::Future {
        ServiceFuture {
            state: ServiceState::NotReady {
                svc: self.0.clone(),
                req: Some(req),
            },
        }
    }
}

pin_project! {
    /// Drives the fallback service to readiness, then calls it.
    pub struct ServiceFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: ServiceState<S, Req, S::Future>,
    }
}

pin_project! {
    #[project = ServiceStateProj]
    enum ServiceState<S, Req, F> {
        NotReady { svc: S, req: Option<Req> },
        Called { #[pin] fut: F },
    }
}

impl<S, Req> Future for ServiceFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                ServiceStateProj::NotReady { svc, req } => {
                    ready!(svc.poll_ready(cx)).map_err(Into::into)?;
                    let Some(req) = req.take() else {
                        return Poll::Ready(Err("fallback future polled after completion".into()));
                    };
                    let fut = svc.call(req);
                    state.set(ServiceState::Called { fut });
                }
                ServiceStateProj::Called { fut } => return fut.poll(cx).map_err(Into::into),
            }
        }
    }
}

impl<S, Req> fmt::Debug for ServiceFuture<S, Req>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceFuture").finish_non_exhaustive()
    }
}

macro_rules! opaque_debug {
    ($($name:ident),*) => {$(
        impl<F> fmt::Debug for $name<F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).finish_non_exhaustive()
            }
        }
    )*};
}
opaque_debug!(FromFn, Value, WithRequest);
