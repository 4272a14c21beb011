//! [`FallbackLayer`] and its constructors.

use std::future::Future;

use tower_layer::Layer;

use super::handler::{FromFn, ToService, Value, WithRequest};
use super::predicate::{AllErrors, Predicate, Rejections};
use super::service::Fallback;
use crate::BoxError;

/// Applies a [`Fallback`]: when the inner call fails with an error the
/// predicate `P` accepts, the handler `H` answers instead.
#[must_use]
#[derive(Debug, Clone, Copy)]
pub struct FallbackLayer<H, P = AllErrors> {
    handler: H,
    predicate: P,
}

impl FallbackLayer<(), AllErrors> {
    /// Answers failed calls with the future `f` returns for the error. The
    /// request is not kept, so it need not be `Clone`.
    pub fn from_fn<F, Fut, Res>(f: F) -> FallbackLayer<FromFn<F>>
    where
        F: Fn(BoxError) -> Fut,
        Fut: Future<Output = Result<Res, BoxError>>,
    {
        FallbackLayer::with_handler(FromFn(f))
    }

    /// Answers failed calls with the response `f` returns for the error,
    /// synchronously. The request is not kept, so it need not be `Clone`.
    pub fn value<F, Res>(f: F) -> FallbackLayer<Value<F>>
    where
        F: Fn(BoxError) -> Res,
    {
        FallbackLayer::with_handler(Value(f))
    }

    /// Answers failed calls with the future `f` returns for the request and
    /// the error.
    ///
    /// Every request is **cloned before the inner call** (the inner service
    /// consumes the original), so `Req: Clone` is required and the clone is
    /// paid on every call, successful or not. Prefer [`from_fn`](Self::from_fn)
    /// or [`value`](Self::value) when the error is enough.
    pub fn with_request<F, Req, Fut, Res>(f: F) -> FallbackLayer<WithRequest<F>>
    where
        F: Fn(Req, BoxError) -> Fut,
        Req: Clone,
        Fut: Future<Output = Result<Res, BoxError>>,
    {
        FallbackLayer::with_handler(WithRequest(f))
    }

    /// Sends failed calls to `svc` (a secondary backend, a cache): it gets a
    /// clone of the request, is driven to readiness and called.
    ///
    /// As with [`with_request`](Self::with_request), every request is cloned
    /// before the inner call; the service is cloned into each response future.
    pub fn service<S>(svc: S) -> FallbackLayer<ToService<S>> {
        FallbackLayer::with_handler(ToService(svc))
    }
}

impl<H> FallbackLayer<H, AllErrors> {
    /// A layer with any [`FallbackHandler`](super::FallbackHandler), answering
    /// every error.
    pub fn with_handler(handler: H) -> Self {
        Self {
            handler,
            predicate: AllErrors,
        }
    }
}

impl<H, P> FallbackLayer<H, P> {
    /// Answers only errors `predicate` accepts; others pass through unchanged.
    pub fn on<Q: Predicate>(self, predicate: Q) -> FallbackLayer<H, Q> {
        FallbackLayer {
            handler: self.handler,
            predicate,
        }
    }

    /// Answers every error (the default).
    pub fn on_error(self) -> FallbackLayer<H, AllErrors> {
        self.on(AllErrors)
    }

    /// Answers only rejections by this crate's layers (see
    /// [`is_rejection`](super::is_rejection)); the inner service's own errors
    /// pass through.
    pub fn on_rejection(self) -> FallbackLayer<H, Rejections> {
        self.on(Rejections)
    }
}

impl<S, H: Clone, P: Clone> Layer<S> for FallbackLayer<H, P> {
    type Service = Fallback<S, H, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Fallback::new(inner, self.handler.clone(), self.predicate.clone())
    }
}
