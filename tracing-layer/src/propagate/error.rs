//! Why a `traceparent` or `tracestate` header was rejected.

use std::fmt;

/// A `traceparent` value was rejected; the trace is restarted.
///
/// `Display` says why, in lowercase (`invalid traceparent: trace-id is all zeros`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTraceParent {
    reason: &'static str,
}

impl InvalidTraceParent {
    pub(crate) const fn new(reason: &'static str) -> Self {
        Self { reason }
    }

    /// The reason, without the `invalid traceparent: ` prefix.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidTraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid traceparent: {}", self.reason)
    }
}

impl std::error::Error for InvalidTraceParent {}

/// A `tracestate` value (or a key or value given to
/// [`TraceState::insert`](super::TraceState::insert)) was rejected; the whole list is dropped.
///
/// `Display` says why, in lowercase (`invalid tracestate: duplicate key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTraceState {
    reason: &'static str,
}

impl InvalidTraceState {
    pub(crate) const fn new(reason: &'static str) -> Self {
        Self { reason }
    }

    /// The reason, without the `invalid tracestate: ` prefix.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidTraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid tracestate: {}", self.reason)
    }
}

impl std::error::Error for InvalidTraceState {}
