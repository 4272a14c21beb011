//! Errors the HTTP retry preset originates.

use std::fmt;

use crate::BoxError;

/// A request whose body exceeded the buffering limit was sent once, failed,
/// and could not be retried because its body was not kept.
///
/// Wraps the inner service's error (available through
/// [`source`](std::error::Error::source) and [`into_inner`](Self::into_inner)).
/// Retryable *responses* (such as 503) to such requests are returned as they
/// are, marked with [`RetrySkipped::BodyTooLarge`](super::http::RetrySkipped)
/// in their extensions.
#[derive(Debug)]
pub struct BodyTooLargeToRetry {
    limit: usize,
    source: BoxError,
}

impl BodyTooLargeToRetry {
    pub(crate) fn new(limit: usize, source: BoxError) -> Self {
        Self { limit, source }
    }

    /// The buffering limit in bytes that the body exceeded.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The inner service's error.
    #[must_use]
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }

    /// Returns the inner service's error.
    #[must_use]
    pub fn into_inner(self) -> BoxError {
        self.source
    }
}

impl fmt::Display for BodyTooLargeToRetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request body larger than {} bytes was sent once and cannot be retried: {}",
            self.limit, self.source
        )
    }
}

impl std::error::Error for BodyTooLargeToRetry {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
