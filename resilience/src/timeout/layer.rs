//! [`TimeoutLayer`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::Timeout;

/// Applies a [`Timeout`] to every call of the wrapped service.
#[must_use]
#[derive(Debug, Clone)]
pub struct TimeoutLayer<K = super::AnyRequest> {
    timeout: Duration,
    name: Option<Arc<str>>,
    kind: PhantomData<fn() -> K>,
}

impl TimeoutLayer {
    /// A layer that fails calls taking longer than `timeout` with
    /// [`Elapsed`](super::error::Elapsed).
    ///
    /// Every duration is accepted. A zero timeout admits only calls whose
    /// response is ready on the first poll and fails every other one with
    /// `Elapsed`, which is a legitimate "do not wait at all" setting (for
    /// example a cache probe), not a configuration error.
    pub const fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            name: None,
            kind: PhantomData,
        }
    }

    /// The HTTP preset: `max` bounds every call, and a request may ask for
    /// less with a [`RequestTimeout`](super::http::RequestTimeout) extension
    /// or an [`x-request-timeout`](super::http::X_REQUEST_TIMEOUT) header in
    /// milliseconds; a malformed header fails the call with
    /// [`InvalidTimeout`](super::error::InvalidTimeout) (a 400 at the
    /// HTTP edge with feature `axum`). See [`http`](super::http).
    #[cfg(feature = "http")]
    pub const fn http(max: Duration) -> TimeoutLayer<super::Http> {
        TimeoutLayer {
            timeout: max,
            name: None,
            kind: PhantomData,
        }
    }
}

impl<K> TimeoutLayer<K> {
    /// Names this timeout in tracing events and in the `name` label of its
    /// metrics (default `timeout`).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The configured timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S, K> Layer<S> for TimeoutLayer<K> {
    type Service = Timeout<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            timeout: self.timeout,
            name: self.name.clone(),
            kind: PhantomData,
        }
    }
}
