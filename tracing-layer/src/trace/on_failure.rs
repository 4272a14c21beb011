//! The hook called when a request fails, and what a failure is.

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use tracing::Span;

/// Why a server request failed, by the OpenTelemetry conventions for server
/// spans: a 5xx status (4xx are the client's failures, not the server's), an
/// error from the inner service, or an error while streaming the response body.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Failure<'a> {
    /// A response with a 5xx status.
    Status(StatusCode),
    /// The inner service returned an error instead of a response.
    Error(&'a dyn fmt::Display),
    /// The response body failed while streaming.
    Body(&'a dyn fmt::Display),
    /// A gRPC response (headers or trailers) whose `grpc-status` is a server
    /// failure (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
    /// UNAVAILABLE, DATA_LOSS).
    Grpc(u16),
}

impl Failure<'_> {
    /// The `error.type` attribute: the status code (`"503"`), `_OTHER` for a
    /// service error, `body` for a body error — always one of a few values,
    /// never an error message.
    #[must_use]
    pub fn error_type(&self) -> ErrorType {
        match self {
            Self::Status(status) => ErrorType::Status(*status),
            Self::Error(_) => ErrorType::Service,
            Self::Body(_) => ErrorType::Body,
            Self::Grpc(code) => ErrorType::Grpc(*code),
        }
    }
}

impl fmt::Debug for Failure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => f.debug_tuple("Status").field(status).finish(),
            Self::Error(e) => f.debug_tuple("Error").field(&format_args!("{e}")).finish(),
            Self::Body(e) => f.debug_tuple("Body").field(&format_args!("{e}")).finish(),
            Self::Grpc(code) => f.debug_tuple("Grpc").field(code).finish(),
        }
    }
}

/// The low-cardinality `error.type` of a failure (see [`Failure::error_type`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorType {
    /// A 5xx status: `error.type` is the code.
    Status(StatusCode),
    /// The inner service failed: `_OTHER` (the error's type is not known here).
    Service,
    /// The response body failed: `body`.
    Body,
    /// A failing gRPC status: `error.type` is its code (`"14"`).
    Grpc(u16),
}

impl ErrorType {
    /// The attribute value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Status(status) => status.as_str(),
            Self::Service => "_OTHER",
            Self::Body => "body",
            Self::Grpc(code) => super::grpc::code_str(*code),
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Called when a request fails, inside its span.
///
/// Implemented by [`DefaultOnFailure`], `()` (does nothing) and closures
/// `FnMut(Failure<'_>, Duration, &Span)`.
pub trait OnFailure {
    /// The request failed after `latency`.
    fn on_failure(&mut self, failure: Failure<'_>, latency: Duration, span: &Span);
}

impl OnFailure for () {
    fn on_failure(&mut self, _: Failure<'_>, _: Duration, _: &Span) {}
}

impl<F> OnFailure for F
where
    F: FnMut(Failure<'_>, Duration, &Span),
{
    fn on_failure(&mut self, failure: Failure<'_>, latency: Duration, span: &Span) {
        self(failure, latency, span);
    }
}

/// An `ERROR` event `response failed` with `error.type`, `latency_ms` and,
/// for service and body errors, the error's `Display` text as `error`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultOnFailure;

impl OnFailure for DefaultOnFailure {
    fn on_failure(&mut self, failure: Failure<'_>, latency: Duration, _: &Span) {
        let latency_ms = latency.as_secs_f64() * 1000.0;
        let error_type = failure.error_type();
        let error_type = error_type.as_str();
        match failure {
            Failure::Status(_) | Failure::Grpc(_) => {
                tracing::error!(error.type = error_type, latency_ms, "response failed");
            }
            Failure::Error(e) | Failure::Body(e) => {
                tracing::error!(error.type = error_type, latency_ms, error = %e, "response failed");
            }
        }
    }
}
