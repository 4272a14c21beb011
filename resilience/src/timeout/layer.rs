//! [`TimeoutLayer`].

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::Timeout;
use crate::ConfigError;

/// Applies a [`Timeout`] to every call of the wrapped service.
#[must_use]
#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    timeout: Duration,
    name: Option<Arc<str>>,
}

impl TimeoutLayer {
    /// A layer that fails calls taking longer than `timeout` with
    /// [`Elapsed`](super::error::Elapsed).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `timeout` is zero: such a layer would fail
    /// every call that is not ready on its first poll.
    pub fn new(timeout: Duration) -> Result<Self, ConfigError> {
        if timeout.is_zero() {
            return Err(ConfigError::Zero { field: "timeout" });
        }
        Ok(Self {
            timeout,
            name: None,
        })
    }

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

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            timeout: self.timeout,
            name: self.name.clone(),
        }
    }
}
