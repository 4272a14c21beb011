//! The layer.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::config::{CircuitBreakerLayerBuilder, Settings};
use super::handle::CircuitBreakerHandle;
use super::service::CircuitBreaker;
use super::state::Breaker;
use crate::classify::ErrorsAreFailures;

/// Wraps services in one shared circuit breaker; see the [module docs](super).
///
/// Every service this layer makes (and every clone of the layer) shares the
/// same breaker, so the breaker judges all the traffic to one dependency.
#[must_use]
#[derive(Clone)]
pub struct CircuitBreakerLayer<C = ErrorsAreFailures> {
    breaker: Arc<Breaker>,
    classifier: C,
}

impl CircuitBreakerLayer {
    /// A builder with the defaults (see [`CircuitBreakerLayerBuilder`]), where
    /// every error is a failure.
    pub fn builder() -> CircuitBreakerLayerBuilder {
        CircuitBreakerLayerBuilder::new()
    }

    /// A builder for HTTP services: 5xx responses and transport errors are
    /// failures, 4xx responses are not
    /// ([`ServerErrorsAreFailures`](crate::classify::ServerErrorsAreFailures)).
    #[cfg(feature = "http")]
    pub fn http() -> CircuitBreakerLayerBuilder<crate::classify::ServerErrorsAreFailures> {
        CircuitBreakerLayerBuilder::new().classifier(crate::classify::ServerErrorsAreFailures)
    }
}

impl<C> CircuitBreakerLayer<C> {
    pub(crate) fn from_parts(settings: Settings, classifier: C) -> Self {
        Self {
            breaker: Breaker::new(settings),
            classifier,
        }
    }

    /// A handle to read and control the breaker.
    pub fn handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(Arc::clone(&self.breaker))
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::new(inner, Arc::clone(&self.breaker), self.classifier.clone())
    }
}

impl<C: fmt::Debug> fmt::Debug for CircuitBreakerLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("name", &self.breaker.name())
            .field("state", &self.breaker.state())
            .field("classifier", &self.classifier)
            .finish()
    }
}
