use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use super::{PropagateLayer, TRACEPARENT, TraceContext};

/// Injects the trace context into outgoing requests; built by [`PropagateLayer`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Propagate<S> {
    pub(super) inner: S,
    pub(super) start_new_traces: Option<bool>,
}

impl<S> Propagate<S> {
    /// Wraps `inner` with the defaults of [`PropagateLayer::new`].
    pub fn new(inner: S) -> Self {
        use tower_layer::Layer as _;
        PropagateLayer::new().layer(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for Propagate<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let context = match request.extensions().get::<TraceContext>() {
            Some(context) => Some(context.clone()),
            None => TraceContext::current(),
        };
        match (context, self.start_new_traces) {
            (Some(context), _) => context.inject(request.headers_mut()),
            (None, Some(sampled)) if !request.headers().contains_key(TRACEPARENT) => {
                TraceContext::new_root(&mut rand::rng(), sampled).inject(request.headers_mut());
            }
            (None, _) => {}
        }
        self.inner.call(request)
    }
}
