//! The response future of [`Bulkhead`](super::Bulkhead) and
//! [`KeyedBulkhead`](super::KeyedBulkhead).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::sync::AcquireError;
use tower_service::Service;

use super::error::{BulkheadFull, Reason};
use super::shared::{Permit, Shared, WaiterGuard};
use crate::BoxError;

type Wait = Pin<
    Box<
        dyn Future<Output = Result<Result<Permit, AcquireError>, tokio::time::error::Elapsed>>
            + Send,
    >,
>;

/// A call waiting in the queue: boxed, so the common (uncontended) future
/// stays as small as the inner one plus a permit.
pub(crate) struct Queued<S, Req> {
    /// A fresh clone of the inner service, driven to readiness only once a
    /// permit is held, so a call that gives up never touches the inner service.
    svc: S,
    req: Option<Req>,
    wait: Wait,
    permit: Option<Permit>,
    waiter: Option<WaiterGuard>,
}

type StateOf<S, Req> = State<<S as Service<Req>>::Future, Box<Queued<S, Req>>>;

pin_project! {
    /// Resolves to the inner response; holds the bulkhead permit until it
    /// completes or is dropped.
    ///
    /// A call that found no free permit waits here (at most `max_wait`)
    /// before the inner service is made ready and called.
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: StateOf<S, Req>,
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
        // Boxed up front (it is returned boxed anyway): a `BulkheadFull` here
        // would lend its `Duration` niche to the discriminant, and writing that
        // 4-byte niche then moving the future stalls the common path.
        Rejected {
            error: Option<BoxError>,
        },
    }
}

impl<S, Req> ResponseFuture<S, Req>
where
    S: Service<Req>,
{
    pub(crate) fn running(fut: S::Future, permit: Permit) -> Self {
        Self {
            state: State::Running {
                fut,
                permit: Some(permit),
            },
        }
    }

    pub(crate) fn queued(svc: S, req: Req, waiter: WaiterGuard, weight: u32) -> Self {
        let shared = Arc::clone(&waiter.shared);
        let max_wait = shared.limits.max_wait;
        let acquire = async move {
            shared.semaphore.acquire_many(weight).await?.forget();
            Ok(Permit::new(shared, weight))
        };
        let wait = Box::pin(tokio::time::timeout(max_wait, acquire));
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
        }
    }

    pub(crate) fn rejected(error: BulkheadFull) -> Self {
        Self::failed(error.into())
    }

    /// A call refused before reaching a partition.
    pub(crate) fn failed(error: BoxError) -> Self {
        Self {
            state: State::Rejected { error: Some(error) },
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    // Always, as the rate limiter's: with a plain `#[inline]` (or none) the
    // compiler kept `poll` out of line in a `ready().await; call().await`
    // loop, one more call per request (14 % of a call in `perf`).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        // The common case first and small enough to inline; waiting and
        // rejection live out of line.
        if let StateProj::Running { fut, permit } = state.as_mut().project() {
            let output = ready!(fut.poll(cx));
            // Free the permit now, not when the caller drops the future.
            *permit = None;
            return Poll::Ready(output.map_err(Into::into));
        }
        poll_slow(state, cx)
    }
}

#[cold]
#[inline(never)]
fn poll_slow<S, Req>(
    mut state: Pin<&mut StateOf<S, Req>>,
    cx: &mut Context<'_>,
) -> Poll<Result<S::Response, BoxError>>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    loop {
        match state.as_mut().project() {
            StateProj::Running { fut, permit } => {
                let output = ready!(fut.poll(cx));
                *permit = None;
                return Poll::Ready(output.map_err(Into::into));
            }
            StateProj::Rejected { error } => {
                return Poll::Ready(Err(error.take().unwrap_or_else(|| {
                    "bulkhead response future polled after completion".into()
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

/// Waits for a permit, then for the inner service; calls it once both are
/// there.
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
        // Leaving the queue either way.
        let Some(waiter) = q.waiter.take() else {
            return Poll::Ready(Err(
                "bulkhead response future polled after completion".into()
            ));
        };
        let shared: &Shared = &waiter.shared;
        match outcome {
            Ok(Ok(permit)) => q.permit = Some(permit),
            // The semaphore is never closed; treat it like an expired wait
            // rather than panicking.
            Ok(Err(_)) | Err(_) => {
                let reason = Reason::WaitExpired {
                    max_wait: shared.limits.max_wait,
                };
                return Poll::Ready(Err(shared.reject(reason).into()));
            }
        }
    }
    // Holding a permit now; the inner service's readiness is honoured before
    // the call, and the permit stays reserved meanwhile.
    ready!(q.svc.poll_ready(cx)).map_err(Into::into)?;
    let (Some(req), Some(permit)) = (q.req.take(), q.permit.take()) else {
        return Poll::Ready(Err(
            "bulkhead response future polled after completion".into()
        ));
    };
    Poll::Ready(Ok((q.svc.call(req), permit)))
}

impl<S, Req> fmt::Debug for ResponseFuture<S, Req>
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
            .finish()
    }
}
