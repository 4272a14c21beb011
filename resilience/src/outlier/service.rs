//! [`Endpoint`]: one endpoint of the pool, reporting into its detector.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::{Sleep, sleep};
use tower::load::Load;
use tower_service::Service;

use super::future::ResponseFuture;
use super::shared::{Host, until};
use crate::classify::Classify;

/// One endpoint of a pool watched by an
/// [`OutlierDetector`](super::OutlierDetector): it reports each call's
/// outcome to the detector and, while ejected, is **not ready** —
/// `poll_ready` returns `Pending` until the ejection ends (it wakes the task
/// then). A balancer such as `tower::balance::p2c::Balance` only sends to
/// ready endpoints, so an ejected one gets no traffic.
///
/// Made by [`OutlierDetector::endpoint`](super::OutlierDetector::endpoint),
/// by the detector as a [`Layer`](tower_layer::Layer), or for each service a
/// `Discover` inserts by [`OutlierDiscover`](super::OutlierDiscover). Clones
/// are the same endpoint.
pub struct Endpoint<S, C> {
    pub(super) inner: S,
    pub(super) host: Arc<Host>,
    pub(super) classify: C,
    /// Armed while ejected: wakes `poll_ready` when the ejection ends.
    pub(super) wait: Option<Pin<Box<Sleep>>>,
}

impl<S, C> Endpoint<S, C> {
    /// The endpoint's name in tracing events and
    /// [`OutlierHandle::ejected`](super::OutlierHandle::ejected).
    pub fn name(&self) -> &str {
        &self.host.name
    }

    /// Whether the endpoint is ejected right now.
    pub fn is_ejected(&self) -> bool {
        self.host
            .ejected_until()
            .is_some_and(|until| until > self.host.shared.clock.now_nanos())
    }

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

impl<S: Clone, C: Clone> Clone for Endpoint<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            host: Arc::clone(&self.host),
            classify: self.classify.clone(),
            // The timer belongs to the task polling this instance.
            wait: None,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for Endpoint<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.host.name)
            .field("ejected", &self.is_ejected())
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C, Req> Service<Req> for Endpoint<S, C>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        while let Some(ejected_until) = self.host.ejected_until() {
            let now = self.host.shared.clock.now_nanos();
            if now >= ejected_until {
                self.host.ejection_over(ejected_until);
                self.wait = None;
                break;
            }
            // Boxed: only an ejected endpoint pays for a timer.
            let wait = self
                .wait
                .get_or_insert_with(|| Box::pin(sleep(until(now, ejected_until))));
            wait.as_mut()
                .reset(tokio::time::Instant::now() + until(now, ejected_until));
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The timer fired: the ejection is over by tokio's clock.
            self.host.ejection_over(ejected_until);
            self.wait = None;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        ResponseFuture::new(
            self.inner.call(req),
            self.classify.clone(),
            Arc::clone(&self.host),
        )
    }
}

/// The inner service's load, for `tower::balance`.
impl<S: Load, C> Load for Endpoint<S, C> {
    type Metric = S::Metric;

    fn load(&self) -> Self::Metric {
        self.inner.load()
    }
}
