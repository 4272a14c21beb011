//! The response future of [`AdaptiveLimit`](super::AdaptiveLimit).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use super::limiter::{Permit, WaiterGuard};
use crate::BoxError;
use crate::classify::{Classify, Outcome};

type Wait = Pin<Box<dyn Future<Output = Result<Permit, tokio::time::error::Elapsed>> + Send>>;

/// A call waiting in the queue: boxed, so the common future stays small.
pub(crate) struct Queued<S, Req> {
    /// A fresh clone of the inner service, made ready only once a place is
    /// held, so a call that gives up never touches it.
    svc: S,
    req: Option<Req>,
    wait: Wait,
    permit: Option<Permit>,
    waiter: Option<WaiterGuard>,
}

type StateOf<S, Req> = State<<S as Service<Req>>::Future, Box<Queued<S, Req>>>;

pin_project! {
    /// Resolves to the inner response; holds the place under the limit until
    /// it completes (then its latency and outcome are sampled) or is dropped.
    pub struct ResponseFuture<S, Req, C>
    where
        S: Service<Req>,
    {
        #[pin]
        state: StateOf<S, Req>,
        classify: C,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, Q> {
        Running {
            #[pin]
            fut: F,
            permit: Option<Permit>,
        },
        Queued {
            queued: Q,
        },
        Rejected {
            error: Option<BoxError>,
        },
    }
}

impl<S, Req, C> ResponseFuture<S, Req, C>
where
    S: Service<Req>,
{
    pub(crate) fn running(fut: S::Future, permit: Permit, classify: C) -> Self {
        Self {
            state: State::Running {
                fut,
                permit: Some(permit),
            },
            classify,
        }
    }

    pub(crate) fn queued(svc: S, req: Req, waiter: WaiterGuard, classify: C) -> Self {
        let limiter = waiter.limiter.clone();
        let wait = Box::pin(tokio::time::timeout(
            limiter.settings.max_wait,
            limiter.acquire(),
        ));
        Self {
            state: State::Queued {
                queued: Box::new(Queued {
                    svc,
                    req: Some(req),
                    wait,
                    permit: None,
                    waiter: Some(waiter),
                }),
            },
            classify,
        }
    }

    pub(crate) fn rejected(error: BoxError, classify: C) -> Self {
        Self {
            state: State::Rejected { error: Some(error) },
            classify,
        }
    }
}

impl<S, Req, C> Future for ResponseFuture<S, Req, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error>,
{
    type Output = Result<S::Response, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut state = this.state;
        loop {
            match state.as_mut().project() {
                StateProj::Running { fut, permit } => {
                    let output = ready!(fut.poll(cx));
                    if let Some(mut permit) = permit.take() {
                        let dropped = this.classify.classify(&output) == Outcome::Failure;
                        permit.finish(dropped);
                    }
                    return Poll::Ready(output.map_err(Into::into));
                }
                StateProj::Rejected { error } => {
                    return Poll::Ready(Err(error.take().unwrap_or_else(|| {
                        "adaptive limit response future polled after completion".into()
                    })));
                }
                StateProj::Queued { queued } => {
                    let (fut, permit) = match ready!(poll_queued(queued, cx)) {
                        Ok(running) => running,
                        Err(error) => {
                            state.set(State::Rejected { error: None });
                            return Poll::Ready(Err(error));
                        }
                    };
                    state.set(State::Running {
                        fut,
                        permit: Some(permit),
                    });
                }
            }
        }
    }
}

/// Waits for a place, then for the inner service; calls it once both are
/// there.
#[cold]
fn poll_queued<S, Req>(
    q: &mut Queued<S, Req>,
    cx: &mut Context<'_>,
) -> Poll<Result<(S::Future, Permit), BoxError>>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    if q.permit.is_none() {
        let outcome = ready!(q.wait.as_mut().poll(cx));
        let Some(waiter) = q.waiter.take() else {
            return Poll::Ready(Err(
                "adaptive limit response future polled after completion".into(),
            ));
        };
        match outcome {
            Ok(permit) => q.permit = Some(permit),
            Err(_) => {
                let limiter = &waiter.limiter;
                return Poll::Ready(Err(limiter.reject(Some(limiter.settings.max_wait)).into()));
            }
        }
    }
    ready!(q.svc.poll_ready(cx)).map_err(Into::into)?;
    let (Some(req), Some(permit)) = (q.req.take(), q.permit.take()) else {
        return Poll::Ready(Err(
            "adaptive limit response future polled after completion".into(),
        ));
    };
    Poll::Ready(Ok((q.svc.call(req), permit)))
}

impl<S, Req, C> fmt::Debug for ResponseFuture<S, Req, C>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Running { .. } => "running",
            State::Queued { .. } => "queued",
            State::Rejected { .. } => "rejected",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
