//! [`FlagGateLayer`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use http::Response;
use tower_layer::Layer;

use super::disabled::{Fallback, NotFound, RespondWith};
use super::service::{FlagGate, Gate};
use crate::Flags;

/// Gates a service on a flag: requests for which the flag is on reach the
/// service, the others get a `404` problem+json (`feature_disabled`) or
/// what [`off_response`](Self::off_response) /
/// [`fallback`](Self::fallback) configure. Either way the flag's
/// [`Evaluation`](crate::Evaluation) is in the request's extensions.
///
/// See the [module docs](super) for an example.
#[must_use]
#[derive(Debug, Clone)]
pub struct FlagGateLayer<X = (), O = NotFound> {
    flags: Arc<Flags>,
    key: Arc<str>,
    extract: X,
    on_disabled: O,
}

impl FlagGateLayer {
    /// A gate on flag `key` of `flags`, evaluated for an empty context
    /// until [`context`](Self::context) says where the context comes from.
    pub fn new(flags: impl Into<Arc<Flags>>, key: impl Into<Arc<str>>) -> Self {
        Self {
            flags: flags.into(),
            key: key.into(),
            extract: (),
            on_disabled: NotFound,
        }
    }
}

impl<X, O> FlagGateLayer<X, O> {
    /// Build the context from each request with `extract` (an
    /// [`ExtractContext`](super::ExtractContext): a header extractor, the
    /// client IP, a closure, or a tuple of them).
    pub fn context<X2>(self, extract: X2) -> FlagGateLayer<X2, O> {
        FlagGateLayer {
            flags: self.flags,
            key: self.key,
            extract,
            on_disabled: self.on_disabled,
        }
    }

    /// When the flag is off, answer with the response `respond` builds
    /// (instead of the `404` problem).
    pub fn off_response<F, ResBody>(self, respond: F) -> FlagGateLayer<X, RespondWith<F>>
    where
        F: Fn() -> Response<ResBody>,
    {
        self.on_disabled(RespondWith(respond))
    }

    /// When the flag is off, hand the request to `service` (the old
    /// implementation of a route, say). It is polled for readiness together
    /// with the gated service.
    pub fn fallback<T>(self, service: T) -> FlagGateLayer<X, Fallback<T>> {
        self.on_disabled(Fallback(service))
    }

    fn on_disabled<O2>(self, on_disabled: O2) -> FlagGateLayer<X, O2> {
        FlagGateLayer {
            flags: self.flags,
            key: self.key,
            extract: self.extract,
            on_disabled,
        }
    }

    /// The gated flag's key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl<S, X: Clone, O: Clone> Layer<S> for FlagGateLayer<X, O> {
    type Service = FlagGate<S, X, O>;

    fn layer(&self, inner: S) -> Self::Service {
        FlagGate {
            inner,
            on_disabled: self.on_disabled.clone(),
            gate: Arc::new(Gate {
                flags: self.flags.clone(),
                key: self.key.clone(),
                extract: self.extract.clone(),
                reported_missing_context: AtomicBool::new(false),
            }),
        }
    }
}
