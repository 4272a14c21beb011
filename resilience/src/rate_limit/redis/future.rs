//! [`RedisResponseFuture`]: the Redis decision, then the inner call.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use super::FailurePolicy;
use super::script::DecisionFuture;
use crate::BoxError;
use crate::rate_limit::error::{BackendUnavailable, Refused};
use crate::rate_limit::headers::{RateLimitInfo, ResponseHeaders};
use crate::rate_limit::telemetry;

pin_project! {
    /// The future of [`RedisRateLimit`]: the Redis decision, then the inner
    /// call.
    pub struct RedisResponseFuture<S: Service<Req>, Req, H> {
        #[pin]
        state: State<S, Req>,
        _headers: PhantomData<fn() -> H>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Req>, Req> {
        Checking {
            check: DecisionFuture,
            inner: Option<S>,
            req: Option<Req>,
            name: &'static str,
            failure: FailurePolicy,
        },
        Called { #[pin] future: S::Future, info: Option<RateLimitInfo> },
        Refused { error: Option<Refused> },
        Done,
    }
}

impl<S: Service<Req>, Req, H> RedisResponseFuture<S, Req, H> {
    pub(super) const fn new(
        check: DecisionFuture,
        inner: S,
        req: Req,
        name: &'static str,
        failure: FailurePolicy,
    ) -> Self {
        Self {
            state: State::Checking {
                check,
                inner: Some(inner),
                req: Some(req),
                name,
                failure,
            },
            _headers: PhantomData,
        }
    }

    /// Refused before any round trip: no key, or heavier than the burst.
    pub(super) const fn refused(error: Refused) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
            _headers: PhantomData,
        }
    }
}

impl<S, Req, H> Future for RedisResponseFuture<S, Req, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    H: ResponseHeaders<S::Response>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Checking {
                    check,
                    inner,
                    req,
                    name,
                    failure,
                } => {
                    let info = match ready!(check.as_mut().poll(cx)) {
                        Ok(Ok(info)) => Some(info),
                        Ok(Err(limited)) => {
                            telemetry::limited(name, &limited);
                            state.set(State::Done);
                            return Poll::Ready(Err(limited.into()));
                        }
                        Err(error) => {
                            let fail_open = *failure == FailurePolicy::FailOpen;
                            telemetry::backend_error(name, fail_open, &*error);
                            if !fail_open {
                                state.set(State::Done);
                                return Poll::Ready(Err(
                                    BackendUnavailable::new(Some(error)).into()
                                ));
                            }
                            None
                        }
                    };
                    let (Some(mut svc), Some(req)) = (inner.take(), req.take()) else {
                        return Poll::Ready(
                            Err("rate limit future polled after completion".into()),
                        );
                    };
                    let future = svc.call(req);
                    state.set(State::Called { future, info });
                }
                StateProj::Called { future, info } => {
                    let mut response = ready!(future.poll(cx)).map_err(Into::into)?;
                    if let Some(info) = info {
                        H::apply(&mut response, info);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Refused { error } => {
                    let error = error.take();
                    state.set(State::Done);
                    return Poll::Ready(Err(error.map_or_else(
                        || "rate limit future polled after completion".into(),
                        Into::into,
                    )));
                }
                StateProj::Done => {
                    return Poll::Ready(Err("rate limit future polled after completion".into()));
                }
            }
        }
    }
}

impl<S: Service<Req>, Req, H> fmt::Debug for RedisResponseFuture<S, Req, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisResponseFuture")
            .finish_non_exhaustive()
    }
}
