//! [`Hedge`]: the service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower_service::Service;

use super::eligible::Eligible;
use super::future::{Hedging, ResponseFuture};
use super::layer::Shared;
use crate::BoxError;

/// Sends extra attempts of a slow call; the first success wins and the
/// other attempts are dropped. See the [module docs](super).
pub struct Hedge<S, E> {
    pub(super) inner: S,
    pub(super) shared: Arc<Shared>,
    pub(super) eligible: E,
}

impl<S, E> Hedge<S, E> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming this one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, E: Clone> Clone for Hedge<S, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            eligible: self.eligible.clone(),
        }
    }
}

impl<S: fmt::Debug, E: fmt::Debug> fmt::Debug for Hedge<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedge")
            .field("inner", &self.inner)
            .field("eligible", &self.eligible)
            .finish_non_exhaustive()
    }
}

impl<S, E, Req> Service<Req> for Hedge<S, E>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    Req: Clone,
    E: Eligible<Req>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let now = Instant::now();
        let hedging = if self.eligible.eligible(&req) {
            self.shared.delay().map(|delay| Hedging {
                // A fresh clone: it is made ready only when a hedge is due.
                service: self.inner.clone(),
                request: req.clone(),
                delay,
                sent: 0,
                readying: false,
            })
        } else {
            None
        };
        let deadline = hedging.as_ref().map_or(now, |h| now + h.delay);
        ResponseFuture::new(
            self.inner.call(req),
            hedging,
            deadline,
            now,
            Arc::clone(&self.shared),
        )
    }
}
