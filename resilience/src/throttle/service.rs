//! [`Throttle`]: the service.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tower_service::Service;

use super::error::Throttled;
use super::future::ResponseFuture;
use super::layer::Shared;
use super::partition::Partition;
use crate::BoxError;
use crate::classify::Classify;

/// Rejects calls locally with the SRE book's probability; see the
/// [module docs](super).
pub struct Throttle<S, P, C> {
    pub(super) inner: S,
    pub(super) shared: Arc<Shared<P>>,
    pub(super) classify: C,
}

impl<S, P, C> Throttle<S, P, C> {
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

impl<S: Clone, P, C: Clone> Clone for Throttle<S, P, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            classify: self.classify.clone(),
        }
    }
}

impl<S: fmt::Debug, P, C: fmt::Debug> fmt::Debug for Throttle<S, P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("inner", &self.inner)
            .field("name", &self.shared.name)
            .field("classify", &self.classify)
            .finish_non_exhaustive()
    }
}

impl<S, P, C, Req> Service<Req> for Throttle<S, P, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    P: Partition<Req>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let shared = &*self.shared;
        let window = match shared.partition.window(&req, &shared.settings) {
            Ok(window) => window,
            Err(missing) => return ResponseFuture::failed(missing.into()),
        };
        let probability = window.request(&shared.settings);
        // Nothing is drawn while the upstream keeps up.
        if probability > 0.0 && shared.random.draw() < probability {
            shared.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(throttle = %shared.name, probability, "call throttled locally");
            return ResponseFuture::failed(Throttled::new(probability).into());
        }
        ResponseFuture::called(
            self.inner.call(req),
            window,
            shared.settings,
            self.classify.clone(),
        )
    }
}
