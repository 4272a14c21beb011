//! The response future of [`Retry`](super::Retry).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep};
use tower_service::Service;

use super::layer::Shared;
use super::policy::Predicate;
use crate::BoxError;

pin_project! {
    /// The response future of [`Retry`](super::Retry): it runs the attempts
    /// and the delays between them.
    pub struct ResponseFuture<S, P, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S::Future>,
        inner: S,
        // The pristine copy the next attempt is cloned from; `None` when no
        // retry is possible.
        request: Option<Req>,
        shared: Arc<Shared<P>>,
        // Attempts sent so far.
        attempt: u32,
        // When the first attempt was sent; only known with `max_elapsed`.
        started: Option<Instant>,
        // The previous delay, for decorrelated jitter; zero until the first
        // retry (`base` is never zero) so that creating the future reads
        // nothing from the shared state.
        prev: Duration,
        // The most attempts for this call: the layer's, or the request's own.
        max_attempts: u32,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling {
            #[pin]
            future: F,
        },
        // Boxed: a timer entry is large and only needed once a retry is
        // scheduled, so the call that needs no retry keeps a small future.
        Sleeping {
            sleep: Pin<Box<Sleep>>,
        },
        Ready,
    }
}

impl<S, P, Req> ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    pub(crate) fn new(
        future: S::Future,
        inner: S,
        request: Option<Req>,
        shared: Arc<Shared<P>>,
        started: Option<Instant>,
    ) -> Self {
        let max_attempts = shared.settings.max_attempts;
        Self::with_max_attempts(future, inner, request, shared, started, max_attempts)
    }

    /// As [`new`](Self::new), with this call's own limit on attempts.
    pub(crate) fn with_max_attempts(
        future: S::Future,
        inner: S,
        request: Option<Req>,
        shared: Arc<Shared<P>>,
        started: Option<Instant>,
        max_attempts: u32,
    ) -> Self {
        Self {
            state: State::Calling { future },
            inner,
            request,
            shared,
            attempt: 1,
            started,
            prev: Duration::ZERO,
            max_attempts,
        }
    }

    /// The number of attempts sent so far, the first one included.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

impl<S, P, Req> Future for ResponseFuture<S, P, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    P: Predicate<S::Response, S::Error>,
    Req: Clone,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let result = ready!(future.poll(cx));
                    let shared = &**this.shared;
                    if !shared.predicate.should_retry(&result) {
                        if let Some(budget) = &shared.budget
                            && shared.predicate.is_success(&result)
                        {
                            budget.deposit();
                        }
                        return Poll::Ready(result.map_err(Into::into));
                    }
                    let delay = plan(
                        shared,
                        &result,
                        *this.attempt,
                        *this.max_attempts,
                        this.request.is_some(),
                        *this.started,
                        this.prev,
                    );
                    match delay {
                        Some(delay) => this.state.set(State::Sleeping {
                            sleep: Box::pin(sleep(delay)),
                        }),
                        None => return Poll::Ready(result.map_err(Into::into)),
                    }
                }
                StateProj::Sleeping { sleep } => {
                    ready!(sleep.as_mut().poll(cx));
                    this.state.set(State::Ready);
                }
                StateProj::Ready => {
                    ready!(this.inner.poll_ready(cx)).map_err(Into::into)?;
                    *this.attempt += 1;
                    // The last attempt can have the copy itself.
                    let request = if *this.attempt >= *this.max_attempts {
                        this.request.take()
                    } else {
                        this.request.clone()
                    };
                    // `plan` only schedules a retry while the copy exists.
                    let Some(request) = request else {
                        return Poll::Ready(Err(MissingRequest.into()));
                    };
                    this.state.set(State::Calling {
                        future: this.inner.call(request),
                    });
                }
            }
        }
    }
}

/// Decides what follows an attempt the predicate wants retried:
/// `Some(delay)` to retry after `delay`, `None` to return the result. Kept
/// out of line so the path of a call that needs no retry stays small.
#[cold]
#[inline(never)]
fn plan<P, Res, E>(
    shared: &Shared<P>,
    result: &Result<Res, E>,
    attempt: u32,
    max_attempts: u32,
    can_retry: bool,
    started: Option<Instant>,
    prev: &mut Duration,
) -> Option<Duration>
where
    P: Predicate<Res, E>,
{
    let settings = &shared.settings;
    if !can_retry || attempt >= max_attempts {
        tracing::debug!(
            attempts = attempt,
            "retries exhausted; returning the last result"
        );
        return None;
    }
    let asked = shared.predicate.retry_after(result);
    if let Some(asked) = asked
        && asked > settings.max_retry_after
    {
        tracing::debug!(
            attempts = attempt,
            retry_after = ?asked,
            max_retry_after = ?settings.max_retry_after,
            "asked to wait longer than allowed; not retrying"
        );
        return None;
    }
    let delay = at_least(asked, || {
        if prev.is_zero() {
            *prev = settings.backoff.base();
        }
        settings.backoff.next_delay(attempt, prev, &shared.rng)
    });
    if let (Some(limit), Some(started)) = (settings.max_elapsed, started)
        && ends_too_late(started, limit, delay)
    {
        tracing::debug!(
            attempts = attempt,
            delay = ?delay,
            max_elapsed = ?limit,
            "the next attempt would start after max_elapsed; not retrying"
        );
        return None;
    }
    if let Some(budget) = &shared.budget
        && !budget.withdraw()
    {
        tracing::debug!(attempts = attempt, "retry budget exhausted; not retrying");
        return None;
    }
    tracing::debug!(
        attempt = attempt + 1,
        delay = ?delay,
        reason = if result.is_err() { "error" } else { "response" },
        "retrying"
    );
    Some(delay)
}

/// The delay before a retry: the larger of the backoff and the wait the
/// result asked for (HTTP `Retry-After`, or one of our rejections'
/// `retry_after`). The one place both the generic and the HTTP retry decide
/// it.
fn at_least(asked: Option<Duration>, backoff: impl FnOnce() -> Duration) -> Duration {
    let backoff = backoff();
    asked.map_or(backoff, |asked| asked.max(backoff))
}

/// Whether a retry after `delay` would start later than `limit` after
/// `started`. Sums beyond what an `Instant` holds are treated as "never" (an
/// enormous `max_elapsed` does not limit, an enormous delay ends too late).
fn ends_too_late(started: Instant, limit: Duration, delay: Duration) -> bool {
    match (
        Instant::now().checked_add(delay),
        started.checked_add(limit),
    ) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(next), Some(deadline)) => next > deadline,
    }
}

/// Cannot happen: a retry is only scheduled while a copy of the request is
/// kept. Returned instead of panicking should that ever be broken.
#[derive(Debug)]
struct MissingRequest;

impl fmt::Display for MissingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("retry scheduled without a request to send")
    }
}

impl std::error::Error for MissingRequest {}

impl<S, P, Req> fmt::Debug for ResponseFuture<S, P, Req>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Calling { .. } => "Calling",
            State::Sleeping { .. } => "Sleeping",
            State::Ready => "Ready",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
