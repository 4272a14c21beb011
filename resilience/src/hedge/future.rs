//! [`ResponseFuture`] for [`Hedge`](super::Hedge).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};
use tower_service::Service;

use super::layer::Shared;
use crate::BoxError;

/// What a call needs to send hedges: a service clone and a request copy.
pub(crate) struct Hedging<S, Req> {
    pub(crate) service: S,
    pub(crate) request: Req,
    pub(crate) delay: Duration,
    pub(crate) sent: u32,
    /// The budget paid for the next hedge; the service is being readied.
    pub(crate) readying: bool,
}

pin_project! {
    /// The response future of [`Hedge`](super::Hedge): the first attempt,
    /// the hedges sent so far (boxed: only slow calls have any) and the
    /// timer for the next one.
    pub struct ResponseFuture<S, Req, F> {
        #[pin]
        primary: F,
        primary_live: bool,
        #[pin]
        sleep: Sleep,
        hedging: Option<Hedging<S, Req>>,
        hedges: Vec<(Pin<Box<F>>, Instant)>,
        started: Instant,
        shared: Arc<Shared>,
        last_error: Option<BoxError>,
    }
}

impl<S, Req, F> ResponseFuture<S, Req, F> {
    pub(crate) fn new(
        primary: F,
        hedging: Option<Hedging<S, Req>>,
        deadline: Instant,
        started: Instant,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            primary,
            primary_live: true,
            sleep: sleep_until(deadline),
            hedging,
            hedges: Vec::new(),
            started,
            shared,
            last_error: None,
        }
    }
}

impl<S, Req, F, T, E> Future for ResponseFuture<S, Req, F>
where
    S: Service<Req, Future = F, Response = T, Error = E>,
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    Req: Clone,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if *this.primary_live
                && let Poll::Ready(result) = this.primary.as_mut().poll(cx)
            {
                *this.primary_live = false;
                match result {
                    Ok(response) => {
                        this.shared.answered(this.started.elapsed());
                        return Poll::Ready(Ok(response));
                    }
                    Err(error) => *this.last_error = Some(error.into()),
                }
            }
            let mut index = 0;
            while index < this.hedges.len() {
                match this.hedges[index].0.as_mut().poll(cx) {
                    Poll::Pending => index += 1,
                    Poll::Ready(Ok(response)) => {
                        this.shared.hedges_won.fetch_add(1, Ordering::Relaxed);
                        this.shared.answered(this.hedges[index].1.elapsed());
                        // Returning drops the other attempts: they lose.
                        return Poll::Ready(Ok(response));
                    }
                    Poll::Ready(Err(error)) => {
                        drop(this.hedges.swap_remove(index));
                        *this.last_error = Some(error.into());
                    }
                }
            }
            if !*this.primary_live && this.hedges.is_empty() {
                // Every attempt sent failed: an error is not a reason to hedge.
                return Poll::Ready(Err(this
                    .last_error
                    .take()
                    .unwrap_or_else(|| "the hedged call was polled after it completed".into())));
            }

            let Some(hedging) = this.hedging.as_mut() else {
                return Poll::Pending;
            };
            if !hedging.readying {
                if this.sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if !this.shared.withdraw() {
                    this.shared.budget_exhausted.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("hedge budget exhausted; not hedging");
                    *this.hedging = None;
                    return Poll::Pending;
                }
                hedging.readying = true;
            }
            match hedging.service.poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => {
                    // The attempts in flight carry on; no more hedges.
                    *this.hedging = None;
                    return Poll::Pending;
                }
                Poll::Ready(Ok(())) => {}
            }
            hedging.sent += 1;
            hedging.readying = false;
            let future = if hedging.sent >= this.shared.max_hedges {
                // The last hedge takes the request itself.
                match this.hedging.take() {
                    Some(mut last) => last.service.call(last.request),
                    None => return Poll::Pending,
                }
            } else {
                let future = hedging.service.call(hedging.request.clone());
                let next = Instant::now() + hedging.delay;
                this.sleep.as_mut().reset(next);
                future
            };
            this.hedges.push((Box::pin(future), Instant::now()));
            this.shared.hedges_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<S, Req, F> fmt::Debug for ResponseFuture<S, Req, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("primary_live", &self.primary_live)
            .field("hedges", &self.hedges.len())
            .field("hedging", &self.hedging.is_some())
            .finish_non_exhaustive()
    }
}
