//! [`RateLimit`]: the service the layer builds.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::error::Refused;
use super::future::ResponseFuture;
use super::handle::{RateLimitHandle, Stats};
use super::headers::{NoHeaders, RateLimitInfo, ResponseHeaders};
use super::policy::Policy;
use super::telemetry;
use crate::BoxError;

/// Rejects calls over the limit with [`RateLimited`](super::error::RateLimited)
/// before they reach the inner service.
///
/// The decision is made in `call`, for the global and keyed policies alike:
/// a keyed limiter needs the request, and rejecting immediately (rather than
/// making `poll_ready` wait, as tower's `RateLimit` does) is what lets the
/// HTTP edge answer 429 at once. `poll_ready` only drives the inner service;
/// when a call is rejected, the inner service's readiness is kept for the
/// next call.
#[must_use]
pub struct RateLimit<S, P, H = NoHeaders> {
    inner: S,
    policy: Arc<P>,
    stats: Arc<Stats>,
    name: &'static str,
    _headers: PhantomData<fn() -> H>,
}

impl<S, P, H> RateLimit<S, P, H> {
    pub(crate) fn from_parts(
        inner: S,
        policy: Arc<P>,
        stats: Arc<Stats>,
        name: &'static str,
    ) -> Self {
        Self {
            inner,
            policy,
            stats,
            name,
            _headers: PhantomData,
        }
    }

    /// The shared limiter.
    #[must_use]
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// A handle to the counts this service shares with its layer.
    #[must_use]
    pub fn handle(&self) -> RateLimitHandle {
        RateLimitHandle::new(Arc::clone(&self.stats))
    }

    /// The inner service.
    #[must_use]
    pub const fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub const fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the limiter, returning the inner service.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, P, H, Req> Service<Req> for RateLimit<S, P, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    P: Policy<Req>,
    H: ResponseHeaders<S::Response>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, H>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        // A constant per layer type: without headers, skip building the info.
        let decision = if H::USES_INFO {
            self.policy.check(&req)
        } else {
            self.policy.admit(&req).map(|()| RateLimitInfo::UNUSED)
        };
        match decision {
            Ok(info) => {
                self.stats.record_allowed();
                ResponseFuture::called(self.inner.call(req), info)
            }
            Err(refused) => {
                match &refused {
                    Refused::Limited(limited) => {
                        self.stats.record_limited();
                        telemetry::limited(self.name, limited);
                    }
                    Refused::ExceedsBurst(_) => self.stats.record_limited(),
                    Refused::MissingKey(_) => {}
                }
                ResponseFuture::refused(refused)
            }
        }
    }
}

impl<S: Clone, P, H> Clone for RateLimit<S, P, H> {
    fn clone(&self) -> Self {
        Self::from_parts(
            self.inner.clone(),
            Arc::clone(&self.policy),
            Arc::clone(&self.stats),
            self.name,
        )
    }
}

impl<S: fmt::Debug, P: fmt::Debug, H> fmt::Debug for RateLimit<S, P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .field("name", &self.name)
            .finish()
    }
}
