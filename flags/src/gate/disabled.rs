//! What answers a request when the flag is off: [`NotFound`] (the
//! default), a response from a closure ([`RespondWith`]) or a fallback
//! service ([`Fallback`]).

use std::future::{Ready, ready};
use std::task::{Context, Poll};

use http::{Response, StatusCode};
use palisade_problem::Problem;
use tower_service::Service;

/// What answers a request when the gate's flag is off. The gate polls it
/// for readiness together with the inner service.
pub trait OnDisabled<Req, Res, E> {
    /// The answer.
    type Future: Future<Output = Result<Res, E>>;

    /// Whether [`call`](Self::call) may be called.
    ///
    /// # Errors
    /// The fallback service's error.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>>;

    /// Answers `request`, which carries the flag's
    /// [`Evaluation`](crate::Evaluation) in its extensions.
    fn call(&mut self, request: Req) -> Self::Future;
}

/// The default: `404 Not Found`, problem+json with code `feature_disabled`
/// — the route looks as if it did not exist.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct NotFound;

impl NotFound {
    /// The problem it answers with.
    pub fn problem() -> Problem {
        Problem::palisade(StatusCode::NOT_FOUND, "feature_disabled")
            .with_title("Feature disabled")
            .with_detail("this feature is not available")
    }
}

impl<Req, ResBody: From<String>, E> OnDisabled<Req, Response<ResBody>, E> for NotFound {
    type Future = Ready<Result<Response<ResBody>, E>>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Req) -> Self::Future {
        ready(Ok(Self::problem().into_http_response()))
    }
}

/// Answers with the response a closure builds; see
/// [`FlagGateLayer::off_response`](super::FlagGateLayer::off_response).
#[derive(Debug, Clone, Copy)]
pub struct RespondWith<F>(pub(super) F);

impl<Req, ResBody, E, F> OnDisabled<Req, Response<ResBody>, E> for RespondWith<F>
where
    F: Fn() -> Response<ResBody>,
{
    type Future = Ready<Result<Response<ResBody>, E>>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Req) -> Self::Future {
        ready(Ok((self.0)()))
    }
}

/// Hands the request to another service; see
/// [`FlagGateLayer::fallback`](super::FlagGateLayer::fallback).
#[derive(Debug, Clone, Copy)]
pub struct Fallback<T>(pub(super) T);

impl<Req, T: Service<Req>> OnDisabled<Req, T::Response, T::Error> for Fallback<T> {
    type Future = T::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), T::Error>> {
        self.0.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        self.0.call(request)
    }
}
